package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// bufSize is the starting buffer. Records are usually a few hundred bytes, so 64 KiB holds
// hundreds of them and makes reads large; the buffer grows only for a longer record.
const bufSize = 64 << 10

var bom = []byte("\xEF\xBB\xBF")

type state int

const (
	stStart state = iota
	stNDJSON
	stArrayFirst
	stArrayNext
	stArrayEnd
	stObjectEnd
)

// Reader splits a file into records.
//
// It scans bytes by hand, tracking only strings, escapes and bracket depth, instead of
// using json.Decoder.Token: the Decoder allocates for every token and runs a full parser
// state machine, which would cost more than the schema check that follows. The scan finds
// where each record ends; the record's syntax is then checked in one tight pass (json.Valid),
// or left to a caller that parses every record anyway (Limits.SkipSyntaxCheck).
type Reader struct {
	name       string
	lim        Limits
	maxRec     int
	compressed bool
	src        *source
	in         io.Reader
	total      int64 // decompressed bytes read so far

	buf  []byte
	r, w int   // unread bytes are buf[r:w]
	base int64 // file offset of buf[0]
	line int64 // line of buf[r]
	eof  bool  // the stream is exhausted

	format Format
	state  state
	n      int64 // records returned
	err    error // sticky: once set, Next returns it forever
}

// NewReader returns a Reader of the file body r. The name is the S3 key: its suffix says
// whether the body is gzip-compressed, and it appears in read errors. The only error
// NewReader returns is a *Error with RuleSuffix; everything else surfaces from Next.
func NewReader(r io.Reader, name string, lim Limits) (*Reader, error) {
	compressed, ok := Suffix(name)
	if !ok {
		return nil, &Error{Rule: RuleSuffix, Err: fmt.Errorf("%q does not end in .json, .ndjson or .jsonl (optionally .gz)", name)}
	}
	src := &source{r: r}
	maxRec := lim.maxRecord()
	if maxRec > int64(^uint(0)>>2) {
		maxRec = int64(^uint(0) >> 2)
	}
	return &Reader{
		name:       name,
		lim:        lim,
		maxRec:     int(maxRec),
		compressed: compressed,
		src:        src,
		in:         src,
		buf:        make([]byte, bufSize),
		line:       1,
	}, nil
}

// Format is the layout of the file, known after the first call to Next. A file holding one
// object on one line is NDJSON with one record; a file holding one object over several
// lines is FormatObject.
func (r *Reader) Format() Format { return r.format }

// BytesRead is the number of decompressed bytes consumed from the stream so far.
func (r *Reader) BytesRead() int64 { return r.total }

// Next returns the next record, or io.EOF after the last one. A problem with the content is
// a *Error; any other error is a failed read of the underlying reader, wrapped.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
		return Record{}, err
	}
	r.n++
	return rec, nil
}

func (r *Reader) next() (Record, error) {
	switch r.state {
	case stStart:
		return r.start()
	case stNDJSON:
		return r.nextLine()
	case stArrayFirst, stArrayNext:
		return r.nextElement()
	case stArrayEnd:
		return Record{}, r.trailer("after the end of the array")
	default:
		c, err := r.skipSpace()
		if err != nil {
			return Record{}, err
		}
		if c == '{' || c == '[' {
			return Record{}, r.errHere(RuleFormat, errors.New("a file whose object spans several lines holds only that object; use NDJSON (one object per line) or a JSON array"))
		}
		return Record{}, r.unexpected(c, "after the object")
	}
}

// start detects the format from the first value.
func (r *Reader) start() (Record, error) {
	if r.compressed {
		if err := r.openGzip(); err != nil {
			return Record{}, err
		}
	}
	for r.w-r.r < len(bom) {
		if err := r.fill(); err == io.EOF {
			break
		} else if err != nil {
			return Record{}, err
		}
	}
	// The BOM is skipped but counted: offsets are positions in the file as stored.
	if bytes.HasPrefix(r.buf[r.r:r.w], bom) {
		r.r += len(bom)
	}
	c, err := r.skipSpace()
	if err == io.EOF {
		return Record{}, &Error{Rule: RuleEmpty, Err: errors.New("the file holds no JSON value, only whitespace")}
	} else if err != nil {
		return Record{}, err
	}
	switch c {
	case '[':
		r.format, r.state = FormatArray, stArrayFirst
		r.r++
		return r.nextElement()
	case '{':
		// An object that closes on its first line starts NDJSON; one that does not is a
		// single pretty-printed object.
		end, err := r.balance()
		if err != nil {
			return Record{}, err
		}
		if bytes.IndexByte(r.buf[r.r:r.r+end], '\n') < 0 {
			r.format, r.state = FormatNDJSON, stNDJSON
			return r.nextLine()
		}
		r.format, r.state = FormatObject, stObjectEnd
		return r.take(end)
	default:
		nl, _, err := r.findNewline()
		if err != nil {
			return Record{}, err
		}
		_, end := trimSpace(r.buf[r.r : r.r+nl])
		return Record{}, r.notObject(r.record(r.buf[r.r:r.r+end]), "the top level")
	}
}

// nextLine returns the next non-blank NDJSON line.
func (r *Reader) nextLine() (Record, error) {
	for {
		nl, found, err := r.findNewline()
		if err != nil {
			return Record{}, err
		}
		if !found && nl == 0 {
			return Record{}, io.EOF
		}
		line := r.buf[r.r : r.r+nl]
		start, end := trimSpace(line)
		rec := Record{Raw: line[start:end], Number: r.n + 1, Line: r.line, Offset: r.base + int64(r.r+start)}
		r.r += nl
		if found {
			r.r++
			r.line++
		}
		if len(rec.Raw) == 0 {
			continue
		}
		if rec.Raw[0] != '{' {
			return Record{}, r.notObject(rec, "an NDJSON line")
		}
		return rec, r.check(rec)
	}
}

// nextElement returns the next object of an array.
func (r *Reader) nextElement() (Record, error) {
	c, err := r.skipSpace()
	if err != nil {
		return Record{}, r.eofIn(err, "in the array, want ']'")
	}
	if r.state == stArrayNext {
		switch c {
		case ']':
			r.r++
			r.state = stArrayEnd
			return Record{}, r.trailer("after the end of the array")
		case ',':
			r.r++
			if c, err = r.skipSpace(); err != nil {
				return Record{}, r.eofIn(err, "after ',' in the array")
			}
			if c == ']' {
				return Record{}, r.errHere(RuleJSON, errors.New("invalid character ']' after ',': a trailing comma is not JSON"))
			}
		default:
			return Record{}, r.unexpected(c, "after an array element, want ',' or ']'")
		}
	} else if c == ']' {
		r.r++
		r.state = stArrayEnd
		return Record{}, r.trailer("after the end of the array")
	}
	r.state = stArrayNext
	if c != '{' {
		if !startsValue(c) {
			return Record{}, r.unexpected(c, "where an array element should start")
		}
		return Record{}, r.errHere(RuleFormat, fmt.Errorf("array element %d is %s, want an object", r.n+1, kindOf(c)))
	}
	end, err := r.balance()
	if err != nil {
		return Record{}, err
	}
	return r.take(end)
}

// take returns the n bytes at the read position as a record and consumes them.
func (r *Reader) take(n int) (Record, error) {
	rec := r.record(r.buf[r.r : r.r+n])
	r.r += n
	r.line += int64(countNewlines(rec.Raw))
	return rec, r.check(rec)
}

func (r *Reader) record(raw []byte) Record {
	return Record{Raw: raw, Number: r.n + 1, Line: r.line, Offset: r.base + int64(r.r)}
}

// trailer accepts only whitespace up to the end of the file.
func (r *Reader) trailer(where string) error {
	c, err := r.skipSpace()
	if err != nil {
		return err // io.EOF: the file is done
	}
	return r.unexpected(c, where)
}

// check enforces UTF-8 and, unless the caller parses records itself, JSON syntax.
func (r *Reader) check(rec Record) error {
	if !utf8.Valid(rec.Raw) {
		return utf8Error(rec, invalidUTF8At(rec.Raw))
	}
	if !r.lim.SkipSyntaxCheck && !json.Valid(rec.Raw) {
		return syntaxError(rec)
	}
	return nil
}

// notObject reports a value that should have been an object: a format problem when it is
// valid JSON of another kind, a syntax problem otherwise.
func (r *Reader) notObject(rec Record, what string) error {
	if !utf8.Valid(rec.Raw) {
		return utf8Error(rec, invalidUTF8At(rec.Raw))
	}
	if !json.Valid(rec.Raw) {
		return syntaxError(rec)
	}
	return &Error{Rule: RuleFormat, Record: rec.Number, Line: rec.Line, Offset: rec.Offset,
		Err: fmt.Errorf("%s is %s, want an object, an array of objects, or NDJSON of objects", what, kindOf(rec.Raw[0]))}
}

func utf8Error(rec Record, i int) error {
	line, off := rec.At(i)
	return &Error{Rule: RuleUTF8, Record: rec.Number, Line: line, Offset: off, Err: errors.New("invalid UTF-8 sequence")}
}

// syntaxError locates the syntax error json.Valid found. Only this rare path pays for
// json.Unmarshal, whose SyntaxError carries the offset json.Valid does not give.
func syntaxError(rec Record) error {
	var raw json.RawMessage
	err := json.Unmarshal(rec.Raw, &raw)
	i := len(rec.Raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		i = int(se.Offset) - 1
	} else if err == nil {
		err = errors.New("invalid JSON")
	}
	line, off := rec.At(i)
	return &Error{Rule: RuleJSON, Record: rec.Number, Line: line, Offset: off, Err: err}
}

// errHere reports a problem at the read position.
func (r *Reader) errHere(rule string, err error) error {
	return &Error{Rule: rule, Record: r.n + 1, Line: r.line, Offset: r.base + int64(r.r), Err: err}
}

// unexpected reports the byte c at the read position, which no JSON grammar allows there.
// A byte that starts no valid UTF-8 sequence is reported as such: encoding comes before syntax.
func (r *Reader) unexpected(c byte, where string) error {
	if c >= utf8.RuneSelf {
		for r.w-r.r < utf8.UTFMax && !r.eof {
			if err := r.fill(); err != nil && err != io.EOF {
				return err
			}
		}
		if ch, size := utf8.DecodeRune(r.buf[r.r:r.w]); ch == utf8.RuneError && size <= 1 {
			return r.errHere(RuleUTF8, errors.New("invalid UTF-8 sequence"))
		}
	}
	return r.errHere(RuleJSON, fmt.Errorf("invalid character %q %s", rune(c), where))
}

func (r *Reader) eofIn(err error, where string) error {
	if err == io.EOF {
		return r.errHere(RuleJSON, fmt.Errorf("unexpected end of input %s", where))
	}
	return err
}
