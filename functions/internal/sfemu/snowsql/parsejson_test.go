package snowsql

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		dup  bool
		want string // the stored text; "" with null for SQL NULL
		null bool
		err  string // a substring of the refusal
	}{
		{name: "object", in: ` {"b": 1, "a": [true, null, "x"]} `, want: `{"b":1,"a":[true,null,"x"]}`},
		{name: "empty string is NULL", in: "", null: true},
		{name: "whitespace is NULL", in: " \n\t", null: true},
		{name: "JSON null is a value", in: "null", want: "null"},
		{name: "escapes are kept as written", in: `{"\u0061":"\ud83d\ude00\n\"\/"}`, want: `{"\u0061":"\ud83d\ude00\n\"\/"}`},
		{name: "duplicate key", in: `{"a":1,"b":{"c":1,"c":2}}`, err: `duplicate object attribute "c"`},
		{name: "duplicate key after unescaping", in: `{"a":1,"\u0061":2}`, err: `duplicate object attribute "a"`},
		{name: "duplicate key: plain text around an escape", in: `{"key\"one\"end":1,"key\u0022one\u0022end":2}`, err: `duplicate object attribute "key\"one\"end"`},
		{name: "keys differing after an escape are distinct", in: `{"ab\ncd":1,"ab\ncx":2}`, want: `{"ab\ncd":1,"ab\ncx":2}`},
		{name: "raw control character after an escape", in: "\"ab\\ncd\te\"", err: "control character"},
		{name: "unterminated after an escape", in: `"ab\ncd`, err: "unterminated string"},
		{name: "duplicates allowed: the last wins, in the first one's place", in: `{"a":1,"b":2,"a":{"x":3}}`, dup: true, want: `{"a":{"x":3},"b":2}`},
		{name: "NUMBER kept as written", in: `[1.50,-0,12345678901234567890123456789012345678,0.1234567890123456789012345678901234567]`,
			want: `[1.50,-0,12345678901234567890123456789012345678,0.1234567890123456789012345678901234567]`},
		{name: "exponent: a DOUBLE", in: `[1.5e2,1E0]`, want: `[1.5e+02,1e+00]`},
		{name: "39 digits: a DOUBLE, rounded", in: `123456789012345678901234567890123456789`, want: `1.2345678901234568e+38`},
		{name: "38 decimals: a DOUBLE", in: `0.12345678901234567890123456789012345678`, want: `1.2345678901234568e-01`},
		{name: "underflow", in: `1e-400`, want: `0e+00`},
		{name: "beyond a DOUBLE", in: `{"x":1e309}`, err: "number out of range: 1e309, pos 5"},
		{name: "lone high surrogate", in: `"\ud800"`, err: "lone UTF-16 surrogate"},
		{name: "lone low surrogate", in: `"\udc00\ud800"`, err: "lone UTF-16 surrogate"},
		{name: "NUL", in: `"a\u0000"`, err: "NUL character"},
		{name: "nesting at the limit", in: strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth),
			want: strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth)},
		{name: "nesting past the limit", in: strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1), err: "nested deeper than 256"},
		{name: "too large", in: `"` + strings.Repeat("x", MaxVariantBytes) + `"`, err: "document is too large, max size 16777216 bytes"},
		{name: "trailing text", in: `{} x`, err: "unexpected character after the document, pos 3"},
		{name: "single quotes", in: `{'a':1}`, err: "expected an object key"},
		{name: "raw control character", in: "\"a\tb\"", err: "control character"},
		{name: "leading zero", in: `[01]`, err: "expected ',' or ']'"},
		{name: "invalid UTF-8", in: "\"\xff\"", err: "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, null, err := ParseJSON(tt.in, tt.dup)
			if tt.err != "" {
				var jerr *JSONError
				require.True(t, errors.As(err, &jerr), "error %v", err)
				assert.Contains(t, err.Error(), tt.err)
				assert.True(t, strings.HasPrefix(err.Error(), "Error parsing JSON: "))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.null, null)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestJSONScalar(t *testing.T) {
	doc := `{"a":{"b":[1,{"c":9999999999999999.99}]},"s":"x\"y\u00e9","q\"k":true,"n":null,"o":{"p":[]},"e":1.5e+02}`
	tests := []struct {
		path string
		want string
		ok   bool
	}{
		{path: `$."a"."b"[1]."c"`, want: "9999999999999999.99", ok: true},
		{path: `$."a"."b"[0]`, want: "1", ok: true},
		{path: `$."s"`, want: `x"yé`, ok: true},
		{path: `$."q\"k"`, want: "true", ok: true},
		{path: `$."o"`, want: `{"p":[]}`, ok: true},
		{path: `$."e"`, want: "1.5e+02", ok: true},
		{path: `$."n"`},
		{path: `$."missing"`},
		{path: `$."a"."b"[2]`},
		{path: `$."s"[0]`},
		{path: `$`, want: doc, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := JSONScalar(doc, tt.path)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// BenchmarkParseJSON parses generated events (about 205 bytes each), the emulator's cost per
// line of every COPY and PARSE_JSON.
func BenchmarkParseJSON(b *testing.B) {
	rng := gendata.NewRand(1)
	opt := gendata.Options{Seed: 1, Records: 1000}
	events := make([]string, 1000)
	size := 0
	for i := range events {
		events[i] = string(gendata.Event(rng, i, opt))
		size += len(events[i])
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		for _, e := range events {
			if _, _, err := ParseJSON(e, false); err != nil {
				b.Fatal(err)
			}
		}
	}
}
