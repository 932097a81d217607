package gate

import (
	"fmt"
	"unicode/utf8"
)

// maxDepth is encoding/json's nesting limit: deeper than this, the scanner stops with a
// syntax error rather than grow its stack further. Records nested deeper than MaxDepth but
// within this are well-formed, and break the record rule nesting_depth instead.
const maxDepth = 10000

// member is one "key": value pair of an object, as byte offsets into the record.
type member struct {
	kStart, kEnd int  // the key, without its quotes
	kEsc         bool // the key holds an escape sequence, so its bytes are not its text
	vStart, vEnd int  // the value
}

// scanner checks the JSON syntax of one record and, in the same pass, notes the record's
// top-level members for the schema plan and looks for duplicate keys. It is hand-written for
// the same reason as the record splitter: it allocates nothing per record once its scratch
// space has grown, and it folds three passes (syntax, finding the fields, comparing keys)
// into one. Records arrive already checked for UTF-8.
type scanner struct {
	data   []byte
	top    []member
	start  int // where the top-level object starts
	end    int // where it ends
	depth  int
	errPos int
	errMsg string

	keys     []keyRef // the keys of the objects the scan is inside, outermost first
	unesc    []byte   // the text of escaped keys
	dupAt    int      // where the earliest duplicate key's opening quote is, or -1
	dupFirst int      // where the key it repeats is

	refusal issue  // the first value Snowflake would refuse (rule "" when none)
	pairLow int    // where the \u escape that completes the last high surrogate is
	lossy   issue  // the first number Snowflake would store with another value
	scratch []byte // formatting space for checkDouble
}

// strPlain marks the bytes a string can hold without a closer look: everything but the
// quote, the backslash and control characters.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scan reports whether data is exactly one JSON object, with optional whitespace around it.
// On failure errPos and errMsg say where and why. A syntactically valid record may still
// hold a duplicate key: then dupAt is not -1.
func (s *scanner) scan(data []byte) bool {
	s.data, s.top, s.depth = data, s.top[:0], 0
	s.keys, s.unesc, s.dupAt, s.dupFirst = s.keys[:0], s.unesc[:0], -1, -1
	s.refusal, s.lossy, s.pairLow = issue{}, issue{}, -1
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		s.fail(i, "looking for the beginning of an object")
		return false
	}
	s.start = i
	if i = s.object(i, true); i < 0 {
		return false
	}
	s.end = i
	if i = skipSpace(data, i); i < len(data) {
		s.fail(i, "after the top-level object")
		return false
	}
	return true
}

// fail records an error at i: an unexpected character, or the end of the input.
func (s *scanner) fail(i int, where string) int {
	s.errPos = i
	if i >= len(s.data) {
		s.errMsg = "unexpected end of input " + where
	} else {
		r, _ := utf8.DecodeRune(s.data[i:])
		s.errMsg = fmt.Sprintf("invalid character %q %s", r, where)
	}
	return -1
}

func skipSpace(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value checks the value at i and returns the index after it, or -1.
func (s *scanner) value(i int) int {
	d := s.data
	if i >= len(d) {
		return s.fail(i, "looking for the beginning of a value")
	}
	switch c := d[i]; {
	case c == '"':
		end, _ := s.str(i)
		return end
	case c == '{':
		return s.object(i, false)
	case c == '[':
		return s.array(i)
	case c == '-' || c >= '0' && c <= '9':
		return s.number(i)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	}
	return s.fail(i, "looking for the beginning of a value")
}

// str checks the string at i and returns the index after its closing quote and whether it
// holds escape sequences.
func (s *scanner) str(i int) (int, bool) {
	d := s.data
	esc := false
	start := i
	i++
	for {
		for i < len(d) && strPlain[d[i]] {
			i++
		}
		if i >= len(d) {
			return s.fail(i, "in a string"), false
		}
		switch d[i] {
		case '"':
			return i + 1, esc
		case '\\':
			esc = true
			if i+1 >= len(d) {
				return s.fail(i+1, "in a string escape"), false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(d) || !isHex(d[k]) {
						return s.fail(k, "in a \\u escape"), false
					}
				}
				s.escape(d, start, i)
				i += 6
			default:
				return s.fail(i+1, "in a string escape"), false
			}
		default:
			return s.fail(i, "in a string (control characters must be escaped)"), false
		}
	}
}

// escape checks the \u escape whose backslash is at i, in the string whose opening quote is
// at start: \u0000 and a surrogate escape that is not half of a pair are noted as values
// Snowflake may refuse. Called only for \u escapes, so plain strings cost nothing more.
func (s *scanner) escape(d []byte, start, i int) {
	switch r := hex4(d[i+2:]); {
	case r == 0:
		s.noteRefusal(RuleNULCharacter, start, start+1)
	case r >= 0xD800 && r < 0xDC00:
		// A high surrogate must be followed at once by a low one. The scanner checks the
		// low escape's hex digits when it gets there; here they only need to be in range.
		if i+12 <= len(d) && d[i+6] == '\\' && d[i+7] == 'u' && isLowSurrogate(d[i+8:i+12]) {
			s.pairLow = i + 6
			return
		}
		s.noteRefusal(RuleLoneSurrogate, start, start+1)
	case r >= 0xDC00 && r < 0xE000:
		if i != s.pairLow {
			s.noteRefusal(RuleLoneSurrogate, start, start+1)
		}
	}
}

func isLowSurrogate(h []byte) bool {
	for _, c := range h {
		if !isHex(c) {
			return false
		}
	}
	r := hex4(h)
	return r >= 0xDC00 && r < 0xE000
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number checks a number at i against the JSON grammar: no leading zeros, no leading '+',
// digits on both sides of the point. It counts the digits as it goes, to tell the numbers
// PARSE_JSON keeps as NUMBER from those it stores as DOUBLE (loadable.go).
func (s *scanner) number(i int) int {
	d := s.data
	start := i
	if d[i] == '-' {
		i++
	}
	intDigits, fracDigits, exp := 0, 0, false
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		at := i
		for i++; i < len(d) && isDigit(d[i]); i++ {
		}
		intDigits = i - at
	default:
		return s.fail(i, "in a number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return s.fail(i, "after the decimal point of a number")
		}
		at := i
		for i++; i < len(d) && isDigit(d[i]); i++ {
		}
		fracDigits = i - at
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		exp = true
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return s.fail(i, "in the exponent of a number")
		}
		for i++; i < len(d) && isDigit(d[i]); i++ {
		}
	}
	if exp || fracDigits > maxFixedScale || intDigits+fracDigits > maxFixedDigits {
		s.checkDouble(start, i) // not a NUMBER: Snowflake stores a DOUBLE
	}
	return i
}

func (s *scanner) literal(i int, lit string) int {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(s.data) || s.data[i+k] != lit[k] {
			return s.fail(i+k, "in the literal "+lit)
		}
	}
	return i + len(lit)
}

// descend counts the level of nesting the object or array at i opens. Past MaxDepth the
// record is refused (RuleDepth) and the scan goes on; past maxDepth it fails, and descend
// reports false.
func (s *scanner) descend(i int) bool {
	if s.depth++; s.depth > MaxDepth {
		if s.depth > maxDepth {
			s.fail(i, "nested too deeply")
			return false
		}
		s.noteRefusal(RuleDepth, i, i+1)
	}
	return true
}

// object checks the object at i. Members of the top-level object are noted in s.top.
func (s *scanner) object(i int, top bool) int {
	d := s.data
	if !s.descend(i) {
		return -1
	}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		s.depth--
		return i + 1
	}
	base := len(s.keys)
	for {
		if i >= len(d) || d[i] != '"' {
			return s.fail(i, "looking for the beginning of an object key")
		}
		kEnd, esc := s.str(i)
		if kEnd < 0 {
			return -1
		}
		s.noteKey(i, kEnd, esc, base)
		kStart := i + 1
		i = skipSpace(d, kEnd)
		if i >= len(d) || d[i] != ':' {
			return s.fail(i, "after an object key")
		}
		i = skipSpace(d, i+1)
		vStart := i
		if i = s.value(i); i < 0 {
			return -1
		}
		if top {
			s.top = append(s.top, member{kStart: kStart, kEnd: kEnd - 1, kEsc: esc, vStart: vStart, vEnd: i})
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return s.fail(i, "after an object value")
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case '}':
			s.depth--
			s.closeObject(base)
			return i + 1
		default:
			return s.fail(i, "after an object value")
		}
	}
}

func (s *scanner) array(i int) int {
	d := s.data
	if !s.descend(i) {
		return -1
	}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == ']' {
		s.depth--
		return i + 1
	}
	for {
		if i = s.value(i); i < 0 {
			return -1
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return s.fail(i, "after an array element")
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case ']':
			s.depth--
			return i + 1
		default:
			return s.fail(i, "after an array element")
		}
	}
}

// The functions below walk JSON the scanner has already accepted, for the schema plan's
// look into nested values. They check nothing.

// skipValue returns the index after the valid value at i.
func skipValue(d []byte, i int) int {
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for {
			switch d[i] {
			case '"':
				i = skipString(d, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	for i < len(d) {
		switch d[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

func skipString(d []byte, i int) int {
	for i++; ; i++ {
		switch d[i] {
		case '"':
			return i + 1
		case '\\':
			i++
		}
	}
}

// walkObject appends the members of the valid object at i to dst.
func walkObject(d []byte, i int, dst []member) []member {
	i = skipSpace(d, i+1)
	for d[i] != '}' {
		kEnd := skipString(d, i)
		m := member{kStart: i + 1, kEnd: kEnd - 1}
		for k := m.kStart; k < m.kEnd; k++ {
			if d[k] == '\\' {
				m.kEsc = true
				break
			}
		}
		i = skipSpace(d, skipSpace(d, kEnd)+1)
		m.vStart, m.vEnd = i, skipValue(d, i)
		dst = append(dst, m)
		if i = skipSpace(d, m.vEnd); d[i] == ',' {
			i = skipSpace(d, i+1)
		}
	}
	return dst
}

// walkArray appends the element bounds of the valid array at i to dst, as members without keys.
func walkArray(d []byte, i int, dst []member) []member {
	i = skipSpace(d, i+1)
	for d[i] != ']' {
		end := skipValue(d, i)
		dst = append(dst, member{vStart: i, vEnd: end})
		if i = skipSpace(d, end); d[i] == ',' {
			i = skipSpace(d, i+1)
		}
	}
	return dst
}
