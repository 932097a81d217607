package records

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// skipSpace consumes JSON whitespace and returns the next byte without consuming it, or
// io.EOF at the end of the stream.
func (r *Reader) skipSpace() (byte, error) {
	for {
		for r.r < r.w {
			switch c := r.buf[r.r]; c {
			case '\n':
				r.line++
				r.r++
			case ' ', '\t', '\r':
				r.r++
			default:
				return c, nil
			}
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
}

// balance returns the length of the object or array that starts at the read position,
// reading more as needed. It follows only strings, escapes and bracket depth, which is all
// it takes to find the end; whether the brackets match in kind is left to the syntax check.
// A raw control character inside a string ends the scan early: it is never valid JSON, and
// a line break there usually means a record was cut off, which is better reported where it
// happens than as a never-ending object.
func (r *Reader) balance() (int, error) {
	i, depth := 0, 0
	inStr, esc := false, false
	for {
		b := r.buf[r.r:r.w]
		for ; i < len(b); i++ {
			c := b[i]
			if inStr {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
				case c < 0x20:
					rec := r.record(b[:i])
					line, off := rec.At(i)
					return 0, &Error{Rule: RuleJSON, Record: rec.Number, Line: line, Offset: off,
						Err: fmt.Errorf("invalid character %q in string literal", rune(c))}
				}
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					if i+1 > r.maxRec {
						return 0, r.tooLong()
					}
					return i + 1, nil
				}
			}
		}
		if i > r.maxRec {
			return 0, r.tooLong()
		}
		if err := r.fill(); err == io.EOF {
			rec := r.record(r.buf[r.r:r.w])
			if !utf8.Valid(rec.Raw) {
				return 0, utf8Error(rec, invalidUTF8At(rec.Raw))
			}
			return 0, r.errHere(RuleJSON, fmt.Errorf("unexpected end of input: the %s opened here is never closed", strings.TrimPrefix(strings.TrimPrefix(kindOf(rec.Raw[0]), "an "), "a ")))
		} else if err != nil {
			return 0, err
		}
	}
}

// findNewline returns the length of the line at the read position and whether a '\n' ends
// it (false at the end of the stream).
func (r *Reader) findNewline() (int, bool, error) {
	from := 0
	for {
		if k := bytes.IndexByte(r.buf[r.r+from:r.w], '\n'); k >= 0 {
			if from+k > r.maxRec {
				return 0, false, r.tooLong()
			}
			return from + k, true, nil
		}
		from = r.w - r.r
		if from > r.maxRec {
			return 0, false, r.tooLong()
		}
		if err := r.fill(); err == io.EOF {
			return from, false, nil
		} else if err != nil {
			return 0, false, err
		}
	}
}

func (r *Reader) tooLong() error {
	return r.errHere(RuleRecordSize, fmt.Errorf("record longer than %d bytes", r.maxRec))
}

// trimSpace returns the bounds of b without leading and trailing JSON whitespace.
func trimSpace(b []byte) (start, end int) {
	end = len(b)
	for start < end && isSpace(b[start]) {
		start++
	}
	for end > start && isSpace(b[end-1]) {
		end--
	}
	return start, end
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func countNewlines(b []byte) int { return bytes.Count(b, []byte{'\n'}) }

// invalidUTF8At returns the index of the first byte of b that is not part of a valid UTF-8
// sequence, or len(b).
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		c, size := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// startsValue reports whether c can start a JSON value.
func startsValue(c byte) bool {
	switch c {
	case '{', '[', '"', '-', 't', 'f', 'n':
		return true
	}
	return c >= '0' && c <= '9'
}

// kindOf names the kind of JSON value that starts with c, with its article.
func kindOf(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
