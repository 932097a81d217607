package sfemu

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A loader's array-bound INSERT of 100,000 rows arrives as a request of tens of megabytes,
// nearly all of it the bind arrays. encoding/json reads such a body three times over
// (validate, find value ends, decode) and allocates a pointer per string; this reader goes
// through the body once and decodes the binds straight into string slices.

type jsonReader struct {
	b   []byte
	pos int
}

func (r *jsonReader) errorf(format string, args ...any) error {
	return fmt.Errorf("query request body: at byte %d: %s", r.pos, fmt.Sprintf(format, args...))
}

func (r *jsonReader) ws() {
	for r.pos < len(r.b) {
		switch r.b[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *jsonReader) peek() byte {
	r.ws()
	if r.pos >= len(r.b) {
		return 0
	}
	return r.b[r.pos]
}

func (r *jsonReader) expect(c byte) error {
	if r.peek() != c {
		return r.errorf("expected %q", c)
	}
	r.pos++
	return nil
}

// literal reads null, true, false or a number and returns its text.
func (r *jsonReader) literal() (string, error) {
	r.ws()
	start := r.pos
	for r.pos < len(r.b) {
		c := r.b[r.pos]
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t' {
			break
		}
		r.pos++
	}
	if r.pos == start {
		return "", r.errorf("expected a value")
	}
	return string(r.b[start:r.pos]), nil
}

// str reads a JSON string.
func (r *jsonReader) str() (string, error) {
	if err := r.expect('"'); err != nil {
		return "", err
	}
	start := r.pos
	for r.pos < len(r.b) {
		switch c := r.b[r.pos]; {
		case c == '"':
			s := string(r.b[start:r.pos])
			r.pos++
			return s, nil
		case c == '\\':
			return r.escapedStr(start)
		case c < 0x20:
			return "", r.errorf("control character in string")
		}
		r.pos++
	}
	return "", r.errorf("unterminated string")
}

func (r *jsonReader) escapedStr(start int) (string, error) {
	out := make([]byte, 0, r.pos-start+64)
	out = append(out, r.b[start:r.pos]...)
	for r.pos < len(r.b) {
		c := r.b[r.pos]
		switch {
		case c == '"':
			r.pos++
			return string(out), nil
		case c != '\\':
			out = append(out, c)
			r.pos++
			continue
		}
		if r.pos+1 >= len(r.b) {
			break
		}
		e := r.b[r.pos+1]
		r.pos += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			ru, ok := r.hex4()
			if !ok {
				return "", r.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(ru) {
				if r.pos+1 < len(r.b) && r.b[r.pos] == '\\' && r.b[r.pos+1] == 'u' {
					save := r.pos
					r.pos += 2
					lo, ok := r.hex4()
					if dec := utf16.DecodeRune(ru, lo); ok && dec != utf8.RuneError {
						ru = dec
					} else {
						r.pos = save
						ru = utf8.RuneError
					}
				} else {
					ru = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, ru)
		default:
			return "", r.errorf("bad escape \\%c", e)
		}
	}
	return "", r.errorf("unterminated string")
}

func (r *jsonReader) hex4() (rune, bool) {
	if r.pos+4 > len(r.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(r.b[r.pos:r.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	r.pos += 4
	return rune(v), true
}

// skip passes over any value and returns its bytes.
func (r *jsonReader) skip() ([]byte, error) {
	r.ws()
	start := r.pos
	depth := 0
	for r.pos < len(r.b) {
		switch r.b[r.pos] {
		case '"':
			if _, err := r.str(); err != nil {
				return nil, err
			}
			if depth == 0 {
				return r.b[start:r.pos], nil
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				r.pos++
				return r.b[start:r.pos], nil
			}
			if depth < 0 {
				return nil, r.errorf("unbalanced brackets")
			}
		case ',', ' ', '\n', '\r', '\t':
			if depth == 0 {
				return r.b[start:r.pos], nil
			}
		}
		r.pos++
	}
	if depth != 0 || r.pos == start {
		return nil, r.errorf("unexpected end")
	}
	return r.b[start:r.pos], nil
}

// object calls field for each key of an object; field must consume the value.
func (r *jsonReader) object(field func(key string) error) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	if r.peek() == '}' {
		r.pos++
		return nil
	}
	for {
		key, err := r.str()
		if err != nil {
			return err
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return nil
		default:
			return r.errorf("expected ',' or '}'")
		}
	}
}

// parseQueryRequest reads a query-request body.
func parseQueryRequest(body []byte) (*queryRequest, error) {
	r := &jsonReader{b: body}
	req := &queryRequest{}
	err := r.object(func(key string) error {
		switch key {
		case "bindings":
			if r.peek() == 'n' {
				_, err := r.literal()
				return err
			}
			req.Bindings = map[string]bind{}
			return r.object(func(pos string) error {
				b, err := r.bind()
				req.Bindings[pos] = b
				return err
			})
		case "sqlText", "bindStage":
			raw, err := r.skip()
			if err != nil {
				return err
			}
			if key == "sqlText" {
				return json.Unmarshal(raw, &req.SQLText)
			}
			return json.Unmarshal(raw, &req.BindStage)
		case "parameters":
			raw, err := r.skip()
			if err != nil {
				return err
			}
			return json.Unmarshal(raw, &req.Parameters)
		case "describeOnly":
			raw, err := r.skip()
			if err != nil {
				return err
			}
			return json.Unmarshal(raw, &req.DescribeOnly)
		}
		_, err := r.skip()
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.peek() != 0 {
		return nil, r.errorf("data after the request object")
	}
	return req, nil
}

// bind reads one binding: {"type": ..., "value": null | "s" | ["s", null, ...]}.
func (r *jsonReader) bind() (bind, error) {
	var b bind
	err := r.object(func(key string) error {
		switch key {
		case "type":
			t, err := r.str()
			b.typ = t
			return err
		case "value":
			return r.bindValue(&b)
		}
		_, err := r.skip()
		return err
	})
	return b, err
}

func (r *jsonReader) bindValue(b *bind) error {
	switch r.peek() {
	case '"':
		s, err := r.str()
		b.scalar = &s
		return err
	case '[':
		r.pos++
		b.isArray = true
		b.array = []string{}
		if r.peek() == ']' {
			r.pos++
			return nil
		}
		for {
			switch r.peek() {
			case '"':
				s, err := r.str()
				if err != nil {
					return err
				}
				b.array = append(b.array, s)
			default:
				lit, err := r.literal()
				if err != nil {
					return err
				}
				if lit == "null" {
					if b.nulls == nil {
						b.nulls = make([]bool, len(b.array), cap(b.array))
					}
					for len(b.nulls) < len(b.array) {
						b.nulls = append(b.nulls, false)
					}
					b.nulls = append(b.nulls, true)
					lit = ""
				}
				b.array = append(b.array, lit)
			}
			switch r.peek() {
			case ',':
				r.pos++
			case ']':
				r.pos++
				if b.nulls != nil {
					for len(b.nulls) < len(b.array) {
						b.nulls = append(b.nulls, false)
					}
				}
				return nil
			default:
				return r.errorf("expected ',' or ']'")
			}
		}
	}
	lit, err := r.literal()
	if err == nil && lit != "null" {
		// A number or boolean written bare is taken as its text.
		b.scalar = &lit
	}
	return err
}
