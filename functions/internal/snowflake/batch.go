package snowflake

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// File is one S3 object version of a batch: where its records came from.
type File struct {
	Bucket    string
	Key       string
	VersionID string
	ETag      string
	Size      int64
	Sequencer string
	EventTime time.Time
	Principal string
	SourceIP  string
}

// Status says what a load did with a file.
type Status string

// The statuses a load reports. The vocabulary is small on purpose: it tells whether a file's
// rows are now in the table and, if so, what they replaced.
const (
	// StatusLoaded: the first version of this key to be loaded; its rows were added.
	StatusLoaded Status = "loaded"
	// StatusReplaced: an older version of the key was loaded; its rows were replaced.
	StatusReplaced Status = "replaced"
	// StatusReloaded: this same version was loaded before; its rows were replaced by one
	// fresh copy (a redelivery or a retried batch).
	StatusReloaded Status = "reloaded"
	// StatusSkippedOlder: a newer version of the key is already loaded; nothing changed.
	StatusSkippedOlder Status = "skipped_older"
	// StatusSuperseded: the object changed or vanished between validation and load, so the
	// version the validator checked can no longer be read; nothing of it was loaded. A newer
	// version of the key arrives with its own notification, and a deleted object has nothing
	// left to load. The loader reports it; Load never sees such a file.
	StatusSuperseded Status = "superseded"
)

// Batch is what one Load writes: files and their records. It holds them on disk, not in
// memory: each file of the batch becomes one NDJSON file in a directory of its own (the
// spool), which Load uploads to a Snowflake stage as it is. Memory stays at a buffer and the
// largest record, whatever the batch holds.
//
// A spool file is laid out so that COPY's METADATA$FILE_ROW_NUMBER says what each line is:
// line 1 is the file's metadata (a JSON object, see fileMeta), and line n+1 is record n,
// byte for byte as it was in S3 (a record spread over several lines is compacted, which only
// drops whitespace between tokens). A record left out of the load (the validator's skip list)
// is the line null, so that the numbers of those after it still hold; no record is null,
// since every record is a JSON object. No line carries anything but the record itself, so a
// record of Snowflake's 16 MB VARIANT limit still fits its row. Load checks that COPY loaded
// exactly as many lines as were written, so a file format that skipped or merged lines would
// fail the batch instead of shifting record numbers.
type Batch struct {
	// Table receives the records; it has RAW_DATA's columns.
	Table string
	// LoadID names the load in every row it writes (the Step Functions execution name).
	LoadID   string
	LoadedAt time.Time
	// Dir is where the spool directory is made; "" is the system's temporary directory
	// (/tmp in Lambda, whose ephemeral storage the template sizes for it).
	Dir string

	files   []File
	rows    []int64 // records per file
	bytes   int64   // record bytes written
	records int64
	lines   int64 // lines written, metadata lines included

	spool   string        // the spool directory, made on the first AddFile
	cur     *os.File      // the spool file of the last file added
	curFile int           // the index of that file
	w       *bufio.Writer // buffers cur
	next    int64         // record number the next line of cur stands for
	reserve int           // bytes line 1 of cur holds, padding included
	scratch bytes.Buffer  // compacts multi-line records
	gz      *gzip.Writer  // compresses finished spool files, reused
	gzBuf   []byte        // the buffer gz reads each file through, reused
	err     error         // the first write error; Load reports it
}

// spoolPattern names spool directories (os.MkdirTemp's pattern).
const spoolPattern = "snowflake-batch-"

// RemoveSpools deletes the spool directories left in dir ("" is the system's temporary
// directory) by a process that ended before it could: a Lambda stopped at its timeout keeps
// its /tmp for the next invocation, and leftovers would fill it. Only a new process may call
// it, before it builds any batch.
func RemoveSpools(dir string) error {
	if dir == "" {
		dir = os.TempDir()
	}
	left, err := filepath.Glob(filepath.Join(dir, spoolPattern+"*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range left {
		errs = append(errs, os.RemoveAll(d))
	}
	return errors.Join(errs...)
}

// spoolBuffer is the write buffer of the spool file being written.
const spoolBuffer = 256 << 10

// AddFile adds a file to the batch and returns its index, which AddRecord takes. The
// records of a file are added after it and before the next file.
func (b *Batch) AddFile(f File) int {
	i := len(b.files)
	f.Sequencer = normalizeSequencer(f.Sequencer)
	b.files = append(b.files, f)
	b.rows = append(b.rows, 0)
	b.fail(b.finishFile())
	b.fail(b.startFile(i))
	return i
}

// AddRecord adds record number (from 1, increasing) of file, the file added last. raw is
// copied, so the caller may reuse its buffer.
func (b *Batch) AddRecord(file int, number int64, raw []byte) {
	switch {
	case b.err != nil:
		return
	case file != len(b.files)-1 || b.cur == nil:
		b.fail(fmt.Errorf("record %d of file %d added after file %d", number, file, len(b.files)-1))
		return
	case number < b.next:
		b.fail(fmt.Errorf("record %d of s3://%s/%s added after record %d", number, b.files[file].Bucket, b.files[file].Key, b.next-1))
		return
	}
	for ; b.next < number; b.next++ {
		_, _ = b.w.WriteString("null\n")
		b.lines++
	}
	line := raw
	if bytes.ContainsAny(raw, "\r\n") {
		// Inside a JSON string a line break is always escaped, so any raw one is whitespace
		// between tokens; Compact removes exactly that and leaves every value as it was.
		b.scratch.Reset()
		if err := json.Compact(&b.scratch, raw); err != nil {
			b.fail(fmt.Errorf("record %d of s3://%s/%s is not JSON: %w", number, b.files[file].Bucket, b.files[file].Key, err))
			return
		}
		line = b.scratch.Bytes()
	}
	_, _ = b.w.Write(line)
	if err := b.w.WriteByte('\n'); err != nil {
		b.fail(fmt.Errorf("write the batch to %s: %w", b.spool, err))
		return
	}
	b.next++
	b.lines++
	b.rows[file]++
	b.records++
	b.bytes += int64(len(raw))
}

func (b *Batch) fail(err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
}

// startFile creates the spool file of file i and reserves its first line for the metadata,
// which is written once the file's record count is known (finishFile).
func (b *Batch) startFile(i int) error {
	if b.err != nil {
		return b.err
	}
	if b.spool == "" {
		dir, err := os.MkdirTemp(b.Dir, spoolPattern+"*")
		if err != nil {
			return fmt.Errorf("make the batch's spool directory: %w", err)
		}
		b.spool = dir
	}
	f, err := os.Create(filepath.Join(b.spool, spoolName(i)))
	if err != nil {
		return fmt.Errorf("create the batch's spool file: %w", err)
	}
	b.cur, b.curFile, b.next = f, i, 1
	if b.w == nil {
		b.w = bufio.NewWriterSize(f, spoolBuffer)
	} else {
		b.w.Reset(f)
	}
	// The widest record count keeps the reserved line long enough for any real one.
	meta, err := b.meta(i, 1<<62)
	if err != nil {
		return err
	}
	b.reserve = len(meta)
	_, _ = b.w.Write(bytes.Repeat([]byte{' '}, b.reserve))
	_ = b.w.WriteByte('\n')
	b.lines++
	return nil
}

// finishFile writes the metadata line of the current spool file, padded with spaces (JSON
// whitespace) to the length reserved for it, closes the file and compresses it.
func (b *Batch) finishFile() error {
	if b.cur == nil {
		return nil
	}
	f := b.cur
	b.cur = nil
	i := b.curFile
	err := b.w.Flush()
	if err == nil {
		var meta []byte
		meta, err = b.meta(i, b.rows[i])
		if err == nil {
			line := append(meta, bytes.Repeat([]byte{' '}, b.reserve-len(meta))...)
			_, err = f.WriteAt(line, 0)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = b.compress(f.Name())
	}
	if err != nil {
		return fmt.Errorf("write the batch to %s: %w", b.spool, err)
	}
	return nil
}

// compress replaces a finished spool file by its gzip (path + ".gz"). The loader compresses
// at gzip's fastest level, where PUT's AUTO_COMPRESS would have the driver compress at Go's
// default level (compressFileWithGzip in the driver's file_util.go): in BenchmarkLoad that
// compression was the largest cost of a batch on the loader's side, about 3 times this one.
// COPY reads either (COMPRESSION = AUTO).
func (b *Batch) compress(path string) (err error) {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(path + ".gz")
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	// The compressor writes whole blocks, so it writes to the file directly.
	if b.gz == nil {
		if b.gz, err = gzip.NewWriterLevel(out, gzip.BestSpeed); err != nil {
			return err
		}
		b.gzBuf = make([]byte, spoolBuffer)
	} else {
		b.gz.Reset(out)
	}
	if _, err = io.CopyBuffer(b.gz, in, b.gzBuf); err != nil {
		return err
	}
	if err = b.gz.Close(); err != nil {
		return err
	}
	return os.Remove(path)
}

// spoolName is the name of file i's spool file while it is written; compress adds ".gz".
// The number keeps the names of one batch distinct; nothing reads it back from the name.
func spoolName(i int) string { return fmt.Sprintf("%06d.ndjson", i) }

// fileMeta is line 1 of a spool file. Empty values are left out, so that the statements
// read them as NULL.
type fileMeta struct {
	File      int    `json:"f"`
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"version_id,omitempty"`
	ETag      string `json:"etag,omitempty"`
	Size      int64  `json:"size"`
	Sequencer string `json:"sequencer,omitempty"`
	EventTime string `json:"event_time,omitempty"`
	Principal string `json:"principal,omitempty"`
	SourceIP  string `json:"source_ip,omitempty"`
	Rows      int64  `json:"rows"`
}

func (b *Batch) meta(i int, rows int64) ([]byte, error) {
	f := b.files[i]
	return json.Marshal(fileMeta{
		File: i, Bucket: f.Bucket, Key: f.Key, VersionID: f.VersionID, ETag: f.ETag, Size: f.Size,
		Sequencer: f.Sequencer, EventTime: formatTime(f.EventTime), Principal: f.Principal,
		SourceIP: f.SourceIP, Rows: rows,
	})
}

// seal finishes the last spool file; the batch is then ready to upload.
func (b *Batch) seal() error {
	b.fail(b.finishFile())
	return b.err
}

// Close removes the batch's spool directory. Load closes the batch it loaded; a caller
// that gives up before Load closes it. Closing twice is harmless.
func (b *Batch) Close() error {
	if b.cur != nil {
		_ = b.cur.Close()
		b.cur = nil
	}
	if b.spool == "" {
		return nil
	}
	err := os.RemoveAll(b.spool)
	b.spool = ""
	if b.err == nil {
		b.err = errors.New("the batch was closed")
	}
	return err
}

// Files returns the batch's files in the order they were added.
func (b *Batch) Files() []File { return b.files }

// Rows returns the number of records added for file i.
func (b *Batch) Rows(i int) int64 { return b.rows[i] }

// PayloadBytes returns the bytes of record text the batch holds.
func (b *Batch) PayloadBytes() int64 { return b.bytes }

// Records returns the number of records in the batch.
func (b *Batch) Records() int64 { return b.records }

// check refuses a batch the load statements cannot handle.
func (b *Batch) check() error {
	switch {
	case !validTable(b.Table):
		return fmt.Errorf("table %q is not a valid Snowflake identifier", b.Table)
	case b.LoadID == "":
		return fmt.Errorf("batch has no load id")
	case len(b.files) == 0:
		return fmt.Errorf("batch has no files")
	}
	seen := make(map[[2]string]bool, len(b.files))
	for _, f := range b.files {
		k := [2]string{f.Bucket, f.Key}
		if seen[k] {
			// Two versions of one key in one MERGE would make its outcome depend on row
			// order; the caller keeps the newest (see Newer).
			return fmt.Errorf("batch holds s3://%s/%s twice", f.Bucket, f.Key)
		}
		seen[k] = true
	}
	return nil
}

// normalizeSequencer upper-cases a sequencer so that hex digits compare the same in Go and
// in SQL, whatever case the notification used.
func normalizeSequencer(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// isoOffset is ISO 8601 with a numeric offset, +00:00 included where RFC 3339 would write Z:
// the TZH:TZM form is the one Snowflake's TIMESTAMP_TZ input detection documents.
const isoOffset = "2006-01-02T15:04:05.999999999-07:00"

// formatTime writes t for a TIMESTAMP_TZ conversion; the zero time (unknown) becomes the
// empty string, left out and so NULL.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(isoOffset)
}
