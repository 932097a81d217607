package snowsql

import (
	"strconv"
	"strings"
)

// JSONScalarFunction is the DuckDB scalar function, registered by the emulator, that reads
// one value out of a VARIANT for a cast: JSONScalarFunction(variant, path) is JSONScalar.
const JSONScalarFunction = "sf_json_scalar"

// JSONScalar returns the value at path in the VARIANT text doc as the text a cast reads: a
// string's characters, a number exactly as stored, true or false, an object or array as
// JSON. ok is false for SQL NULL: no value at path, or JSON null. path is the form the
// translator writes for json_extract: $ followed by ."key" (with \" for a quote) and [n]
// steps. doc is what ParseJSON stored, so it is valid JSON; a doc that is not gives NULL.
func JSONScalar(doc, path string) (string, bool) {
	p := &jsonParser{s: doc}
	i := skipWS(doc, 0)
	rest := strings.TrimPrefix(path, "$")
	for rest != "" && i >= 0 {
		switch {
		case strings.HasPrefix(rest, `."`):
			end := 2
			for end < len(rest) && (rest[end] != '"' || rest[end-1] == '\\') {
				end++
			}
			if end >= len(rest) {
				return "", false
			}
			key := strings.ReplaceAll(rest[2:end], `\"`, `"`)
			rest = rest[end+1:]
			i = p.member(i, key)
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			n, err := strconv.Atoi(rest[1:max(end, 1)])
			if end < 0 || err != nil {
				return "", false
			}
			rest = rest[end+1:]
			i = p.element(i, n)
		default:
			return "", false
		}
	}
	if i < 0 || i >= len(doc) {
		return "", false
	}
	switch doc[i] {
	case '"':
		end, text := p.str(i)
		return text, end >= 0
	case 'n':
		return "", false
	}
	end := skipJSON(doc, i)
	if end < 0 {
		return "", false
	}
	return doc[i:end], true
}

// member returns where the value of key starts in the object at i, or -1.
func (p *jsonParser) member(i int, key string) int {
	s := p.s
	if i < 0 || i >= len(s) || s[i] != '{' {
		return -1
	}
	for i = skipWS(s, i+1); i < len(s) && s[i] == '"'; {
		end, k := p.str(i)
		if end < 0 {
			return -1
		}
		i = skipWS(s, end)
		if i >= len(s) || s[i] != ':' {
			return -1
		}
		i = skipWS(s, i+1)
		if k == key {
			return i
		}
		if i = nextItem(s, i); i < 0 {
			return -1
		}
	}
	return -1
}

// element returns where element n starts in the array at i, or -1.
func (p *jsonParser) element(i, n int) int {
	s := p.s
	if i < 0 || i >= len(s) || s[i] != '[' || n < 0 {
		return -1
	}
	i = skipWS(s, i+1)
	for k := 0; i < len(s) && s[i] != ']'; k++ {
		if k == n {
			return i
		}
		if i = nextItem(s, i); i < 0 {
			return -1
		}
	}
	return -1
}

// nextItem returns where the member or element after the value at i starts (past its
// comma), or -1 when the text ends first.
func nextItem(s string, i int) int {
	if i = skipJSON(s, i); i < 0 {
		return -1
	}
	if i = skipWS(s, i); i < len(s) && s[i] == ',' {
		i = skipWS(s, i+1)
	}
	return i
}

// skipJSON returns the index after the JSON value at i, or -1 when the text ends first.
func skipJSON(s string, i int) int {
	if i >= len(s) {
		return -1
	}
	switch s[i] {
	case '"':
		for i++; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for ; i < len(s); i++ {
			switch s[i] {
			case '"':
				end := skipJSON(s, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for i < len(s) && !strings.ContainsRune(",}] \t\n\r", rune(s[i])) {
		i++
	}
	return i
}
