package records

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAll reads every record of body, copying Raw because it aliases the Reader's buffer.
func readAll(t *testing.T, name string, body []byte, lim Limits) (*Reader, []Record, error) {
	t.Helper()
	rd, err := NewReader(bytes.NewReader(body), name, lim)
	if err != nil {
		return nil, nil, err
	}
	var recs []Record
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return rd, recs, nil
		}
		if err != nil {
			return rd, recs, err
		}
		rec.Raw = bytes.Clone(rec.Raw)
		recs = append(recs, rec)
	}
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestSuffix(t *testing.T) {
	tests := []struct {
		key            string
		compressed, ok bool
	}{
		{"incoming/a.json", false, true},
		{"incoming/a.ndjson", false, true},
		{"incoming/a.jsonl", false, true},
		{"incoming/a.json.gz", true, true},
		{"incoming/A.NDJSON.GZ", true, true},
		{"incoming/a.JsonL.Gz", true, true},
		{"incoming/a.csv", false, false},
		{"incoming/a.gz", false, false},
		{"incoming/a.json.zip", false, false},
		{"incoming/a.json.gz.tmp", false, false},
		{"incoming/json", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			compressed, ok := Suffix(tt.key)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.compressed, compressed)
		})
	}
}

type wantRec struct {
	raw          string
	line, offset int64
}

func TestReaderFormats(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		body   string
		format Format
		want   []wantRec
	}{
		{
			name: "ndjson", key: "a.ndjson", format: FormatNDJSON,
			body: "{\"a\":1}\n{\"b\":2}\n",
			want: []wantRec{{`{"a":1}`, 1, 0}, {`{"b":2}`, 2, 8}},
		},
		{
			name: "ndjson without final newline", key: "a.jsonl", format: FormatNDJSON,
			body: "{\"a\":1}\n{\"b\":2}",
			want: []wantRec{{`{"a":1}`, 1, 0}, {`{"b":2}`, 2, 8}},
		},
		{
			name: "ndjson with CRLF, blank lines and padding", key: "a.jsonl", format: FormatNDJSON,
			body: "\r\n{\"a\":1}\r\n\r\n  {\"b\" : [1, {\"c\":\"}\"}]}\t\r\n   \n",
			want: []wantRec{{`{"a":1}`, 2, 2}, {`{"b" : [1, {"c":"}"}]}`, 4, 15}},
		},
		{
			name: "ndjson with a BOM counts the BOM in offsets", key: "a.ndjson", format: FormatNDJSON,
			body: "\xEF\xBB\xBF{\"a\":1}\n{\"b\":2}\n",
			want: []wantRec{{`{"a":1}`, 1, 3}, {`{"b":2}`, 2, 11}},
		},
		{
			name: "one object on one line is ndjson", key: "a.json", format: FormatNDJSON,
			body: "  {\"a\":{\"b\":[1,2]}}\n\n",
			want: []wantRec{{`{"a":{"b":[1,2]}}`, 1, 2}},
		},
		{
			name: "one object over several lines", key: "a.json", format: FormatObject,
			body: "{\n  \"a\": 1,\n  \"b\": \"{[\\\"\"\n}\n",
			want: []wantRec{{"{\n  \"a\": 1,\n  \"b\": \"{[\\\"\"\n}", 1, 0}},
		},
		{
			name: "array", key: "a.json", format: FormatArray,
			body: "[ {\"a\":1},\n {\"b\":[1,{\"c\":\"]}\\\\\"}]} ]\n",
			want: []wantRec{{`{"a":1}`, 1, 2}, {`{"b":[1,{"c":"]}\\"}]}`, 2, 12}},
		},
		{
			name: "pretty array", key: "a.json", format: FormatArray,
			body: "\xEF\xBB\xBF[\r\n  {\r\n    \"a\": 1\r\n  },\r\n  {}\r\n]",
			want: []wantRec{{"{\r\n    \"a\": 1\r\n  }", 2, 8}, {"{}", 5, 31}},
		},
		{
			name: "empty array", key: "a.json", format: FormatArray,
			body: " [ ] ",
		},
		{
			name: "unicode and escapes", key: "a.json", format: FormatNDJSON,
			body: "{\"name\":\"Zoë \\u00e9 \\\"quoted\\\" 日本\"}\n",
			want: []wantRec{{"{\"name\":\"Zoë \\u00e9 \\\"quoted\\\" 日本\"}", 1, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, recs, err := readAll(t, tt.key, []byte(tt.body), Limits{})
			require.NoError(t, err)
			assert.Equal(t, tt.format, rd.Format())
			require.Len(t, recs, len(tt.want))
			for i, w := range tt.want {
				assert.Equal(t, w.raw, string(recs[i].Raw), "record %d", i+1)
				assert.Equal(t, int64(i+1), recs[i].Number)
				assert.Equal(t, w.line, recs[i].Line, "line of record %d", i+1)
				assert.Equal(t, w.offset, recs[i].Offset, "offset of record %d", i+1)
				assert.Equal(t, w.raw, tt.body[w.offset:w.offset+int64(len(w.raw))], "offset points at the record")
			}
			assert.Equal(t, int64(len(tt.body)), rd.BytesRead())
		})
	}
}

func TestReaderGzip(t *testing.T) {
	body := "{\"a\":1}\n{\"b\":2}\n"
	rd, recs, err := readAll(t, "dir/a.ndjson.GZ", gz(t, []byte(body)), Limits{})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, `{"b":2}`, string(recs[1].Raw))
	assert.Equal(t, int64(8), recs[1].Offset, "offsets count decompressed bytes")
	assert.Equal(t, int64(len(body)), rd.BytesRead())
}

func TestReaderErrors(t *testing.T) {
	long := `{"a":"` + strings.Repeat("x", 100) + `"}`
	bomb := gz(t, bytes.Repeat([]byte("{}\n"), 1<<20))
	tests := []struct {
		name  string
		key   string
		body  []byte
		lim   Limits
		rule  string
		rec   int64 // record number in the error
		line  int64
		off   int64
		nRecs int // records read before the error
	}{
		{name: "zero bytes", key: "a.json", body: nil, rule: RuleEmpty},
		{name: "whitespace only", key: "a.ndjson", body: []byte(" \r\n\t\n"), rule: RuleEmpty},
		{name: "BOM only", key: "a.ndjson", body: []byte("\xEF\xBB\xBF\n"), rule: RuleEmpty},
		{name: "gzip of zero bytes", key: "a.json.gz", body: nil, rule: RuleEmpty},
		{name: "gzip of whitespace", key: "a.json.gz", body: gz(t, []byte("  \n")), rule: RuleEmpty},
		{name: "not gzip", key: "a.json.gz", body: []byte(`{"a":1}`), rule: RuleGzip},
		{name: "truncated gzip", key: "a.json.gz", body: gz(t, []byte(long))[:20], rule: RuleGzip, rec: 1},
		{name: "gzip checksum", key: "a.json.gz", body: corruptTrailer(gz(t, []byte(`{"a":1}`+"\n"))), rule: RuleGzip, rec: 1},
		{name: "utf8 in ndjson record", key: "a.ndjson", body: []byte("{\"a\":1}\n{\"a\":\"caf\xe9\"}\n"), rule: RuleUTF8, rec: 2, line: 2, off: 17, nRecs: 1},
		{name: "utf8 in array record on its second line", key: "a.json", body: []byte("[{},\n{\"a\":\n\"\xc3(\"}]"), rule: RuleUTF8, rec: 2, line: 3, off: 12, nRecs: 1},
		{name: "utf8 after the array", key: "a.json", body: []byte("[{}]\n\xff"), rule: RuleUTF8, rec: 2, line: 2, off: 5, nRecs: 1},
		{name: "utf8 at the top level", key: "a.json", body: []byte("\xfe{}"), rule: RuleUTF8, rec: 1, line: 1, off: 0},
		{name: "utf8 in an unclosed record", key: "a.json", body: []byte("[{\"a\":\"\xff"), rule: RuleUTF8, rec: 1, line: 1, off: 7},
		{name: "utf8 in a top-level string", key: "a.json", body: []byte("\"\xff\""), rule: RuleUTF8, rec: 1, line: 1, off: 1},
		{name: "json in ndjson line", key: "a.ndjson", body: []byte("{\"a\":1}\n{\"a\":}\n"), rule: RuleJSON, rec: 2, line: 2, off: 13, nRecs: 1},
		{name: "json cut-off first line", key: "a.ndjson", body: []byte("{\"a\":\"x\n{\"a\":1}\n"), rule: RuleJSON, rec: 1, line: 1, off: 7},
		{name: "json unclosed first object", key: "a.ndjson", body: []byte("{\"a\":1\n{\"a\":1\n"), rule: RuleJSON, rec: 1, line: 1, off: 0},
		{name: "json two objects on a line", key: "a.ndjson", body: []byte("{}\n{} {}\n"), rule: RuleJSON, rec: 2, line: 2, off: 6, nRecs: 1},
		{name: "json garbage at the top", key: "a.json", body: []byte("hello"), rule: RuleJSON, rec: 1, line: 1, off: 0},
		{name: "json garbage after the array", key: "a.json", body: []byte("[{}]\n x"), rule: RuleJSON, rec: 2, line: 2, off: 6, nRecs: 1},
		{name: "json second array", key: "a.json", body: []byte("[{}][{}]"), rule: RuleJSON, rec: 2, line: 1, off: 4, nRecs: 1},
		{name: "json missing comma", key: "a.json", body: []byte("[{} {}]"), rule: RuleJSON, rec: 2, line: 1, off: 4, nRecs: 1},
		{name: "json trailing comma", key: "a.json", body: []byte("[{},\n]"), rule: RuleJSON, rec: 2, line: 2, off: 5, nRecs: 1},
		{name: "json unclosed array", key: "a.json", body: []byte("[{}, {}"), rule: RuleJSON, rec: 3, line: 1, off: 7, nRecs: 2},
		{name: "json unclosed record", key: "a.json", body: []byte("[{}, {\"a\":[1}"), rule: RuleJSON, rec: 2, line: 1, off: 5, nRecs: 1},
		{name: "json mismatched brackets", key: "a.json", body: []byte("[{\"a\":[1}]]"), rule: RuleJSON, rec: 1, line: 1, off: 8},
		{name: "json newline in string", key: "a.json", body: []byte("[{\"a\":\"x\ny\"}]"), rule: RuleJSON, rec: 1, line: 1, off: 8},
		{name: "json after the object", key: "a.json", body: []byte("{\n\"a\":1\n}\n]"), rule: RuleJSON, rec: 2, line: 4, off: 10, nRecs: 1},
		{name: "format top-level string", key: "a.json", body: []byte(" \"abc\"\n"), rule: RuleFormat, rec: 1, line: 1, off: 1},
		{name: "format top-level number", key: "a.json", body: []byte("42"), rule: RuleFormat, rec: 1, line: 1, off: 0},
		{name: "format array of numbers", key: "a.json", body: []byte("[1, 2]"), rule: RuleFormat, rec: 1, line: 1, off: 1},
		{name: "format array element", key: "a.json", body: []byte("[{},\n \"x\"]"), rule: RuleFormat, rec: 2, line: 2, off: 6, nRecs: 1},
		{name: "format nested array", key: "a.json", body: []byte("[[{}]]"), rule: RuleFormat, rec: 1, line: 1, off: 1},
		{name: "format ndjson line", key: "a.ndjson", body: []byte("{}\n[1]\n"), rule: RuleFormat, rec: 2, line: 2, off: 3, nRecs: 1},
		{name: "format pretty objects concatenated", key: "a.json", body: []byte("{\n}\n{\n}"), rule: RuleFormat, rec: 2, line: 3, off: 4, nRecs: 1},
		{name: "record size ndjson", key: "a.ndjson", body: []byte("{}\n" + long + "\n"), lim: Limits{MaxRecordBytes: 50}, rule: RuleRecordSize, rec: 2, line: 2, off: 3, nRecs: 1},
		{name: "record size array", key: "a.json", body: []byte("[{}, " + long + "]"), lim: Limits{MaxRecordBytes: 50}, rule: RuleRecordSize, rec: 2, line: 1, off: 5, nRecs: 1},
		{name: "record size exactly at the cap passes", key: "a.json", body: []byte("[" + long + "," + long), lim: Limits{MaxRecordBytes: int64(len(long))}, rule: RuleJSON, rec: 3, line: 1, off: 218, nRecs: 2},
		{name: "decompressed size", key: "a.ndjson", body: bytes.Repeat([]byte("{}\n"), 100_000), lim: Limits{MaxBytes: 100_000}, rule: RuleDecompressedSize, off: 100_000},
		{name: "compression ratio", key: "a.ndjson.gz", body: bomb, lim: Limits{MaxRatio: 100}, rule: RuleCompressionRatio},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, recs, err := readAll(t, tt.key, tt.body, tt.lim)
			var rerr *Error
			require.ErrorAs(t, err, &rerr)
			assert.Equal(t, tt.rule, rerr.Rule, "error: %v", err)
			if tt.rule == RuleDecompressedSize || tt.rule == RuleCompressionRatio {
				assert.Positive(t, rerr.Offset)
				return
			}
			assert.Equal(t, tt.nRecs, len(recs), "records before the error")
			if tt.rec > 0 {
				assert.Equal(t, tt.rec, rerr.Record, "record: %v", err)
			}
			if tt.line > 0 {
				assert.Equal(t, tt.line, rerr.Line, "line: %v", err)
				assert.Equal(t, tt.off, rerr.Offset, "offset: %v", err)
			}
		})
	}
}

// corruptTrailer flips the CRC-32 in a gzip trailer.
func corruptTrailer(b []byte) []byte {
	b[len(b)-8] ^= 0xff
	return b
}

func TestReaderSuffix(t *testing.T) {
	_, err := NewReader(strings.NewReader("{}"), "incoming/a.csv", Limits{})
	var rerr *Error
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, RuleSuffix, rerr.Rule)
}

func TestReaderErrorIsSticky(t *testing.T) {
	rd, err := NewReader(strings.NewReader("{}\n{x}\n{}\n"), "a.ndjson", Limits{})
	require.NoError(t, err)
	_, err = rd.Next()
	require.NoError(t, err)
	_, err1 := rd.Next()
	_, err2 := rd.Next()
	require.Error(t, err1)
	assert.Same(t, err1, err2)
}

func TestSkipSyntaxCheck(t *testing.T) {
	body := []byte("{\"a\":}\n")
	_, recs, err := readAll(t, "a.ndjson", body, Limits{SkipSyntaxCheck: true})
	require.NoError(t, err, "the caller checks syntax itself")
	require.Len(t, recs, 1)
	assert.Equal(t, `{"a":}`, string(recs[0].Raw))

	_, _, err = readAll(t, "a.ndjson", []byte("{\"a\":\"\xff\"}\n"), Limits{SkipSyntaxCheck: true})
	var rerr *Error
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, RuleUTF8, rerr.Rule, "UTF-8 is still checked")
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"full", &Error{Rule: RuleUTF8, Record: 2, Line: 3, Offset: 120, Err: errors.New("invalid UTF-8 sequence")},
			"line 3, byte 120, record 2: utf8: invalid UTF-8 sequence"},
		{"offset only", &Error{Rule: RuleDecompressedSize, Offset: 10, Err: errors.New("too big")},
			"byte 10: decompressed_size: too big"},
		{"no position", &Error{Rule: RuleEmpty, Err: errors.New("nothing")}, "empty: nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
	inner := errors.New("x")
	assert.ErrorIs(t, &Error{Rule: RuleJSON, Err: inner}, inner)
}

func TestRecordAt(t *testing.T) {
	rec := Record{Raw: []byte("{\n\"a\":\n1}"), Line: 4, Offset: 100}
	line, off := rec.At(7)
	assert.Equal(t, int64(6), line)
	assert.Equal(t, int64(107), off)
	line, off = rec.At(99)
	assert.Equal(t, int64(6), line, "past the end clamps to the end")
	assert.Equal(t, int64(109), off)
}
