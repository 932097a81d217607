// Package records splits S3 files of JSON records into records, streaming and with bounded memory.
//
// A file is a JSON array of objects, NDJSON (JSON Lines: one object per line; blank lines
// and CRLF line ends allowed), or a single object, optionally gzip-compressed. A UTF-8 byte
// order mark at the start is skipped (and counted in offsets). Reader hands out one record
// at a time; memory is bounded by the largest record, never by the file. Problems with the
// content come back as *Error, which names a rule and a position; failures of the
// underlying reader come back as ordinary wrapped errors, so callers can tell a bad file
// (an outcome) from a failed read (a retry).
package records

import (
	"fmt"
	"strings"
)

// Format is the top-level layout of a file.
type Format string

// The formats a Reader recognises.
const (
	FormatArray  Format = "array"
	FormatNDJSON Format = "ndjson"
	FormatObject Format = "object"
)

// Rules name the checks a file can fail. They are the vocabulary of rejection reports.
const (
	RuleSuffix           = "suffix"            // the key does not end in .json, .ndjson or .jsonl, optionally .gz
	RuleEmpty            = "empty"             // no JSON value at all: zero bytes or only whitespace
	RuleGzip             = "gzip"              // the .gz stream is corrupt or truncated
	RuleDecompressedSize = "decompressed_size" // more decompressed bytes than Limits.MaxBytes
	RuleCompressionRatio = "compression_ratio" // decompressed/compressed above Limits.MaxRatio
	RuleUTF8             = "utf8"              // a byte sequence that is not UTF-8
	RuleJSON             = "json"              // a JSON syntax error
	RuleFormat           = "format"            // valid JSON, but not an object, an array of objects or NDJSON of objects
	RuleRecordSize       = "record_size"       // one record longer than Limits.MaxRecordBytes
)

// DefaultMaxRecordBytes caps one record when Limits.MaxRecordBytes is zero. Snowflake's
// VARIANT held at most 16 MB until the 2025_03 behaviour change bundle raised it to 128 MB
// (https://docs.snowflake.com/en/release-notes/bcr-bundles/2025_03/bcr-1942); but a VARCHAR
// column, like the one the loader stages record text in, still defaults to 16 MB, and
// internal overhead makes the practical VARIANT limit smaller than the stated one. 16 MiB is
// the side of these limits on which every record loads.
const DefaultMaxRecordBytes = 16 << 20

// RatioFloor is the number of decompressed bytes below which the compression ratio is not
// checked. The first kilobytes of a stream say little about its ratio (a small file of
// repetitive JSON easily compresses a hundredfold), and a file this small cannot be a bomb.
const RatioFloor = 1 << 20

// Limits bound what a Reader accepts. The zero value means no size caps, records of up to
// DefaultMaxRecordBytes, and syntax-checked records.
type Limits struct {
	// MaxBytes caps the decompressed bytes read (0 = no cap).
	MaxBytes int64
	// MaxRatio caps decompressed/compressed bytes for .gz files (0 = no cap). It is checked
	// as the bytes stream, once RatioFloor bytes have been decompressed, so a gzip bomb stops
	// after a few megabytes instead of after it has been inflated.
	MaxRatio float64
	// MaxRecordBytes caps one record (0 = DefaultMaxRecordBytes).
	MaxRecordBytes int64
	// SkipSyntaxCheck leaves the JSON syntax inside each record to the caller. The Reader
	// still guarantees that Raw starts with '{' and, in arrays and single objects, that its
	// brackets balance. A caller that parses every record anyway (the gate does) sets it to
	// avoid a second full pass over the bytes; a caller that trusts Raw (the loader) must not.
	SkipSyntaxCheck bool
}

func (l Limits) maxRecord() int64 {
	if l.MaxRecordBytes > 0 {
		return l.MaxRecordBytes
	}
	return DefaultMaxRecordBytes
}

// Record is one JSON object of a file.
type Record struct {
	// Raw is the record's JSON text, an object without surrounding whitespace. It aliases the
	// Reader's buffer and is valid only until the next call to Next.
	Raw []byte
	// Number is the 1-based record number in the file.
	Number int64
	// Line is the 1-based line where the record starts.
	Line int64
	// Offset is the byte offset, in decompressed bytes, where the record starts. A leading
	// UTF-8 byte order mark counts: it is part of the file.
	Offset int64
}

// At returns the line and the file offset of byte i of Raw, for reporting a problem found
// inside the record.
func (r Record) At(i int) (line, offset int64) {
	i = max(0, min(i, len(r.Raw)))
	return r.Line + int64(countNewlines(r.Raw[:i])), r.Offset + int64(i)
}

// Error is a problem with a file's content: which rule it breaks and where. Fields that do
// not apply are zero (a size cap has no record, a bad suffix has no position).
type Error struct {
	Rule   string
	Record int64 // 1-based number of the record the problem is in or before
	Line   int64 // 1-based line
	Offset int64 // decompressed byte offset
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, byte %d", e.Line, e.Offset)
	} else if e.Offset > 0 {
		fmt.Fprintf(&b, "byte %d", e.Offset)
	}
	if e.Record > 0 {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "record %d", e.Record)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Rule)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Suffix reports whether key has a suffix the pipeline loads (.json, .ndjson or .jsonl,
// each optionally followed by .gz, in any case) and whether it is gzip-compressed.
func Suffix(key string) (compressed bool, ok bool) {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, ".gz") {
		compressed = true
		k = k[:len(k)-len(".gz")]
	}
	for _, s := range []string{".json", ".ndjson", ".jsonl"} {
		if strings.HasSuffix(k, s) {
			return compressed, true
		}
	}
	return false, false
}
