package snowsql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON documents into VARIANTs.
//
// ParseJSON is the emulator's one reading of JSON text into a VARIANT: PARSE_JSON and
// TRY_PARSE_JSON call it (through the DuckDB function ParseJSONFunction names), and so must
// any other path that turns JSON text into VARIANT values, such as loading staged JSON
// files. DuckDB's own JSON parser accepts what Snowflake refuses (duplicate keys) and keeps
// what Snowflake changes (digits a DOUBLE cannot hold), so it is not used for this.

// ParseJSONFunction is the DuckDB scalar function, registered by the emulator, that
// PARSE_JSON and TRY_PARSE_JSON translate to: ParseJSONFunction(text, parameter, try) with
// parameter 's' (duplicate keys refused, the default) or 'd' (allowed, the last one wins),
// and try true for TRY_PARSE_JSON (NULL instead of an error). It returns VARCHAR; the
// translation casts it to JSON.
const ParseJSONFunction = "sf_parse_json"

// MaxVariantBytes is the largest JSON text ParseJSON turns into a VARIANT. Snowflake's
// limit for a VARIANT is 128 MB since the 2025_03 behaviour change bundle and was 16 MB
// before it (https://docs.snowflake.com/en/release-notes/bcr-bundles/2025_03/bcr-1942); a
// VARCHAR column, such as the one a loader stages its text in, still defaults to 16 MB, and
// the semi-structured data page warns that internal overhead makes the practical VARIANT
// limit smaller than the stated one. The emulator refuses past the smaller limit, so that a
// test never passes on a size real Snowflake may refuse.
const MaxVariantBytes = 16 << 20

// MaxJSONDepth is how deeply ParseJSON lets arrays and objects nest. Snowflake documents no
// limit; the emulator refuses past the bound the validator's gate enforces (gate.MaxDepth),
// so that a record the gate let through by mistake fails a test instead of loading here and
// perhaps not in Snowflake.
const MaxJSONDepth = 256

// JSONError is a document PARSE_JSON refuses; Snowflake reports it as error 100069
// (SQL state 22P02) "Error parsing JSON: ...".
type JSONError struct {
	Pos int // byte offset of the problem in the text
	Msg string
}

func (e *JSONError) Error() string {
	return fmt.Sprintf("Error parsing JSON: %s, pos %d", e.Msg, e.Pos)
}

// ParseJSON reads text as Snowflake's PARSE_JSON reads it
// (https://docs.snowflake.com/en/sql-reference/functions/parse_json) and returns the JSON
// text the emulator stores for the VARIANT: no whitespace, object members in the order
// written. null is true when the result is SQL NULL, which PARSE_JSON returns for an empty
// or all-whitespace string. The documented rules it follows:
//
//   - An object with the same key twice is refused, unless allowDuplicates ('d'): then the
//     last value of the key is kept.
//   - A number without exponent that fits a NUMBER (at most 38 digits, at most 37 after the
//     point) is kept exactly, as written. Any other number becomes a DOUBLE: stored as the
//     nearest double, written in exponent form ("1.5e+02") so it stays a double for DuckDB.
//     A number beyond the DOUBLE's range cannot be stored and is refused.
//
// Staged JSON files are read the same way: the JSON file format's ALLOW_DUPLICATE defaults
// to FALSE (https://docs.snowflake.com/en/sql-reference/sql/create-file-format), which is
// allowDuplicates false.
//
// Where the documentation is silent, the emulator refuses, on the safe side, the same
// things the validator's gate refuses: a \u escape of half a UTF-16 surrogate pair, the NUL
// character \u0000, nesting deeper than MaxJSONDepth, and text longer than MaxVariantBytes.
func ParseJSON(text string, allowDuplicates bool) (variant string, null bool, err error) {
	if strings.TrimSpace(text) == "" {
		return "", true, nil
	}
	if len(text) > MaxVariantBytes {
		return "", false, &JSONError{Pos: MaxVariantBytes, Msg: fmt.Sprintf("document is too large, max size %d bytes", MaxVariantBytes)}
	}
	if !utf8.ValidString(text) {
		return "", false, &JSONError{Pos: firstInvalidUTF8(text), Msg: "invalid UTF-8 sequence"}
	}
	p := &jsonParser{s: text, dup: allowDuplicates}
	p.out.Grow(len(text))
	i := p.value(skipWS(text, 0), 0)
	if p.err == nil {
		if i = skipWS(text, i); i < len(text) {
			p.fail(i, "unexpected character after the document")
		}
	}
	if p.err != nil {
		return "", false, p.err
	}
	return p.out.String(), false, nil
}

func firstInvalidUTF8(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return len(s)
}

// jsonParser reads one document and writes its stored form to out.
type jsonParser struct {
	s   string
	dup bool
	out strings.Builder
	err *JSONError
}

func (p *jsonParser) fail(i int, msg string) int {
	if p.err == nil {
		p.err = &JSONError{Pos: i, Msg: msg}
	}
	return -1
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func (p *jsonParser) value(i, depth int) int {
	s := p.s
	if i >= len(s) {
		return p.fail(i, "unexpected end of the document")
	}
	switch c := s[i]; {
	case c == '{' || c == '[':
		if depth+1 > MaxJSONDepth {
			return p.fail(i, fmt.Sprintf("document nested deeper than %d levels", MaxJSONDepth))
		}
		if c == '{' {
			return p.object(i, depth+1)
		}
		return p.array(i, depth+1)
	case c == '"':
		end, _ := p.str(i)
		if end >= 0 {
			p.out.WriteString(s[i:end])
		}
		return end
	case c == '-' || c >= '0' && c <= '9':
		return p.number(i)
	}
	for _, lit := range []string{"true", "false", "null"} {
		if strings.HasPrefix(s[i:], lit) {
			p.out.WriteString(lit)
			return i + len(lit)
		}
	}
	return p.fail(i, fmt.Sprintf("unknown keyword at %q", clipText(s[i:])))
}

func clipText(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// member is one key and its stored value, while an object with allowDuplicates is read.
type jsonMember struct{ key, val string }

func (p *jsonParser) object(i, depth int) int {
	s := p.s
	i = skipWS(s, i+1)
	seen := map[string]int{}
	var members []jsonMember // only with allowDuplicates: the values are written at the end
	p.out.WriteByte('{')
	first := true
	if i < len(s) && s[i] == '}' {
		p.out.WriteByte('}')
		return i + 1
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return p.fail(i, "expected an object key")
		}
		end, key := p.str(i)
		if end < 0 {
			return -1
		}
		rawKey := s[i:end]
		i = skipWS(s, end)
		if i >= len(s) || s[i] != ':' {
			return p.fail(i, "expected ':' after an object key")
		}
		i = skipWS(s, i+1)
		if p.dup {
			sub := &jsonParser{s: s, dup: true}
			i = sub.value(i, depth)
			if sub.err != nil {
				p.err = sub.err
				return -1
			}
			if k, ok := seen[key]; ok {
				members[k].val = sub.out.String()
			} else {
				seen[key] = len(members)
				members = append(members, jsonMember{key: rawKey, val: sub.out.String()})
			}
		} else {
			if _, ok := seen[key]; ok {
				return p.fail(i, fmt.Sprintf("duplicate object attribute %q", key))
			}
			seen[key] = 0
			if !first {
				p.out.WriteByte(',')
			}
			first = false
			p.out.WriteString(rawKey)
			p.out.WriteByte(':')
			if i = p.value(i, depth); i < 0 {
				return -1
			}
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return p.fail(i, "unexpected end of the document in an object")
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case '}':
			for k, m := range members {
				if k > 0 {
					p.out.WriteByte(',')
				}
				p.out.WriteString(m.key)
				p.out.WriteByte(':')
				p.out.WriteString(m.val)
			}
			p.out.WriteByte('}')
			return i + 1
		default:
			return p.fail(i, "expected ',' or '}' in an object")
		}
	}
}

func (p *jsonParser) array(i, depth int) int {
	s := p.s
	i = skipWS(s, i+1)
	p.out.WriteByte('[')
	if i < len(s) && s[i] == ']' {
		p.out.WriteByte(']')
		return i + 1
	}
	for n := 0; ; n++ {
		if n > 0 {
			p.out.WriteByte(',')
		}
		if i = p.value(i, depth); i < 0 {
			return -1
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return p.fail(i, "unexpected end of the document in an array")
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case ']':
			p.out.WriteByte(']')
			return i + 1
		default:
			return p.fail(i, "expected ',' or ']' in an array")
		}
	}
}

// plainRun returns the end of the run of string bytes from k that need no decoding: up to
// the first quote, backslash or control character.
func plainRun(s string, k int) int {
	for k < len(s) && s[k] != '"' && s[k] != '\\' && s[k] >= 0x20 {
		k++
	}
	return k
}

// str checks the string at i and returns the index after it and its text.
func (p *jsonParser) str(i int) (int, string) {
	s := p.s
	k := plainRun(s, i+1)
	if k < len(s) && s[k] == '"' {
		// Most strings hold no escape: their text is the input's own bytes.
		return k + 1, s[i+1 : k]
	}
	var text strings.Builder
	text.WriteString(s[i+1 : k])
	for k < len(s) {
		c := s[k]
		switch {
		case c == '"':
			return k + 1, text.String()
		case c < 0x20:
			return p.fail(k, "control character in a string"), ""
		case c != '\\':
			end := plainRun(s, k)
			text.WriteString(s[k:end])
			k = end
			continue
		}
		if k+1 >= len(s) {
			break
		}
		switch e := s[k+1]; e {
		case '"', '\\', '/':
			text.WriteByte(e)
		case 'b':
			text.WriteByte('\b')
		case 'f':
			text.WriteByte('\f')
		case 'n':
			text.WriteByte('\n')
		case 'r':
			text.WriteByte('\r')
		case 't':
			text.WriteByte('\t')
		case 'u':
			r, ok := hexRune(s, k+2)
			if !ok {
				return p.fail(k, "invalid \\u escape"), ""
			}
			switch {
			case r == 0:
				return p.fail(k, "NUL character (\\u0000) in a string"), ""
			case utf16.IsSurrogate(r):
				low, ok := rune(0), false
				if r < 0xDC00 && k+12 <= len(s) && s[k+6] == '\\' && s[k+7] == 'u' {
					low, ok = hexRune(s, k+8)
				}
				pair := utf16.DecodeRune(r, low)
				if !ok || pair == utf8.RuneError {
					return p.fail(k, "lone UTF-16 surrogate in a \\u escape"), ""
				}
				text.WriteRune(pair)
				k += 12
				continue
			}
			text.WriteRune(r)
			k += 6
			continue
		default:
			return p.fail(k, "invalid escape in a string"), ""
		}
		k += 2
	}
	return p.fail(len(s), "unterminated string"), ""
}

func hexRune(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s[i:i+4], 16, 32)
	return rune(n), err == nil
}

// number reads the number at i and writes it as Snowflake stores it: a NUMBER as written, a
// DOUBLE as the nearest double.
func (p *jsonParser) number(i int) int {
	s := p.s
	start := i
	if s[i] == '-' {
		i++
	}
	intDigits, fracDigits, exp := 0, 0, false
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		at := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		intDigits = i - at
	default:
		return p.fail(i, "invalid number")
	}
	if i < len(s) && s[i] == '.' {
		at := i + 1
		for i = at; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		}
		if fracDigits = i - at; fracDigits == 0 {
			return p.fail(i, "invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		exp = true
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		at := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == at {
			return p.fail(i, "invalid number")
		}
	}
	lit := s[start:i]
	if !exp && fracDigits <= 37 && intDigits+fracDigits <= 38 {
		p.out.WriteString(lit)
		return i
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && math.IsInf(f, 0) {
		return p.fail(start, fmt.Sprintf("number out of range: %s", clipText(lit)))
	}
	p.out.WriteString(strconv.FormatFloat(f, 'e', -1, 64))
	return i
}
