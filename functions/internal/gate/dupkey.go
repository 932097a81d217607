package gate

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
)

// Duplicate keys.
//
// Snowflake's PARSE_JSON refuses an object that holds the same key twice, and one such
// record fails the whole load batch. Decoding for the schema library keeps the last of the
// duplicates, so the library cannot see them; the scanner does, since it reads every key of
// every object anyway. Keys are compared as text, after unescaping: "a" and "\u0061" are
// the same key to every JSON parser.
//
// The scanner keeps the keys of the objects it is inside on one stack; closing an object
// drops its keys. A new key of a small object is compared with its siblings one by one,
// which allocates nothing and is faster than hashing for the handful of keys events have.
// An object with more keys is checked once, when it closes, by sorting its keys.

// smallObject is how many keys an object may have and still be checked key by key.
const smallObject = 16

// keySeed seeds the hash that sorts the keys of large objects.
var keySeed = maphash.MakeSeed()

// keyRef is one key of an object the scanner is inside. The text of a key without escapes
// is in the record; that of an escaped key is unescaped into the scanner's scratch buffer.
// Offsets are int32 because a record is at most records.DefaultMaxRecordBytes long, and
// smaller entries keep the stack of a wide object compact.
type keyRef struct {
	at  int32  // where the key's opening quote is in the record
	off int32  // where the text starts, in the record or the scratch buffer
	n   int32  // the text's length
	tag uint32 // a digest of the text, compared first
	esc bool   // the text is in the scratch buffer
}

// tagOf digests a key from its length and three of its bytes: keys that differ in these
// are told apart without comparing their text. Equal texts always have equal tags.
func tagOf(text []byte) uint32 {
	if len(text) == 0 {
		return 0
	}
	return uint32(len(text))<<24 | uint32(text[0])<<16 | uint32(text[len(text)/2])<<8 | uint32(text[len(text)-1])
}

func (s *scanner) keyText(k keyRef) []byte {
	if k.esc {
		return s.unesc[k.off : k.off+k.n]
	}
	return s.data[k.off : k.off+k.n]
}

// noteKey notes the key whose quotes are at quote and end-1 in the object whose keys start
// at base on the stack, and compares it with its siblings while the object is small.
func (s *scanner) noteKey(quote, end int, esc bool, base int) {
	k := keyRef{at: int32(quote)}
	var text []byte
	if esc {
		off := len(s.unesc)
		s.unesc = appendUnescaped(s.unesc, s.data[quote+1:end-1])
		text = s.unesc[off:]
		k.off, k.n, k.esc = int32(off), int32(len(text)), true
	} else {
		text = s.data[quote+1 : end-1]
		k.off, k.n = int32(quote+1), int32(len(text))
	}
	k.tag = tagOf(text)
	if len(s.keys)-base < smallObject {
		for _, o := range s.keys[base:] {
			if o.tag == k.tag && bytes.Equal(s.keyText(o), text) {
				s.duplicate(o.at, k.at)
				break
			}
		}
	}
	s.keys = append(s.keys, k)
}

// closeObject checks a large object's keys and drops the object's keys from the stack.
func (s *scanner) closeObject(base int) {
	if keys := s.keys[base:]; len(keys) > smallObject {
		// The cheap tag tells few keys of a wide object apart (k1, k2, ... share most of
		// theirs), so a real hash replaces it before sorting; the keys are dropped after.
		for k := range keys {
			keys[k].tag = uint32(maphash.Bytes(keySeed, s.keyText(keys[k])))
		}
		// Sorting by hash, text and position puts equal keys side by side, in the order
		// they appear in the record.
		slices.SortFunc(keys, func(a, b keyRef) int {
			if c := cmp.Compare(a.tag, b.tag); c != 0 {
				return c
			}
			if c := bytes.Compare(s.keyText(a), s.keyText(b)); c != 0 {
				return c
			}
			return cmp.Compare(a.at, b.at)
		})
		for k := 1; k < len(keys); k++ {
			if keys[k].tag == keys[k-1].tag && bytes.Equal(s.keyText(keys[k]), s.keyText(keys[k-1])) {
				s.duplicate(keys[k-1].at, keys[k].at)
			}
		}
	}
	s.keys = s.keys[:base]
}

// duplicate notes that the key at at repeats the key at first. A record may hold several
// duplicates; the one reported is the earliest in the record, whichever object held it.
func (s *scanner) duplicate(first, at int32) {
	if s.dupAt < 0 || int(at) < s.dupAt {
		s.dupAt, s.dupFirst = int(at), int(first)
	}
}

// appendUnescaped appends the text of the JSON string content s (without quotes, already
// checked by the scanner) to dst. It decodes as encoding/json does, which is also how the
// schema library reads keys: a \u escape of a lone UTF-16 surrogate becomes U+FFFD.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		c := s[i+1]
		i += 2
		switch c {
		case 'u':
			r := hex4(s[i:])
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if pair := utf16.DecodeRune(r, hex4(s[i+2:])); pair != utf8.RuneError {
						dst = utf8.AppendRune(dst, pair)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		default: // '"', '\\' and '/' stand for themselves
			dst = append(dst, c)
		}
	}
	return dst
}

// hex4 decodes the four hex digits at the start of b.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// duplicateFinding describes the duplicate key the scanner found in rec: where the repeat
// is, which key, its JSON pointer, and where the key first appeared.
func duplicateFinding(rec records.Record, sc *scanner) Finding {
	line, off := rec.At(sc.dupAt)
	firstLine, firstOff := rec.At(sc.dupFirst)
	raw := rawKey(rec.Raw, sc.dupAt)
	key := string(appendUnescaped(nil, raw))
	spelling := ""
	if firstRaw := rawKey(rec.Raw, sc.dupFirst); !bytes.Equal(raw, firstRaw) {
		spelling = fmt.Sprintf(`, written "%s" here and "%s" before`, raw, firstRaw)
	}
	return Finding{Rule: RuleDuplicateKey, Record: rec.Number, Line: line, Offset: off,
		Message: fmt.Sprintf("at '%s': duplicate key %q%s (first at line %d, byte %d); Snowflake rejects an object with the same key twice",
			pointerTo(rec.Raw, sc.start, sc.dupAt), key, spelling, firstLine, firstOff)}
}

// rawKey returns the key whose opening quote is at at, as written, without its quotes.
func rawKey(d []byte, at int) []byte {
	return d[at+1 : skipString(d, at)-1]
}

// pointerTo returns the JSON pointer (RFC 6901) of the member whose key's opening quote is
// at at, inside the valid value that starts at i.
func pointerTo(d []byte, i, at int) string {
	var p []byte
	for {
		found := false
		switch d[i] {
		case '{':
			for _, m := range walkObject(d, i, nil) {
				if m.kStart-1 == at || m.vStart <= at && at < m.vEnd {
					p = append(p, '/')
					p = append(p, pointerToken(appendUnescaped(nil, d[m.kStart:m.kEnd]))...)
					if m.kStart-1 == at {
						return string(p)
					}
					i, found = m.vStart, true
					break
				}
			}
		case '[':
			for n, m := range walkArray(d, i, nil) {
				if m.vStart <= at && at < m.vEnd {
					p = strconv.AppendInt(append(p, '/'), int64(n), 10)
					i, found = m.vStart, true
					break
				}
			}
		}
		if !found {
			return string(p) // unreachable for a key the scanner found
		}
	}
}

// pointerEscaper and pointerUnescaper turn a key into a JSON pointer token and back
// (RFC 6901); each replaces in one pass, so "~01" decodes to "~1".
var (
	pointerEscaper   = strings.NewReplacer("~", "~0", "/", "~1")
	pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")
)

func pointerToken(key []byte) string {
	return pointerEscaper.Replace(string(key))
}
