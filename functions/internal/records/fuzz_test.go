package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

// FuzzReader checks that no input makes the Reader panic or break its promises: records are
// valid JSON objects at the offsets they claim, content problems are *Error, and a file the
// standard library accepts as an array of objects is read in full.
func FuzzReader(f *testing.F) {
	seeds := []string{
		"", " ", "{}", "[]", "[{}]", "{\"a\":1}\n{\"b\":2}\n", "[{\"a\":[1,{\"b\":\"]\"}]},{}]",
		"{\n\"a\":1\n}", "\xEF\xBB\xBF[{}]", "[{},]", "[1]", "\"x\"", "{\"a\":\"\xff\"}",
		"{}\r\n{}\r\n", "[{\"a\":\"\\\"}\"}]", "{\"a\":\"x\ny\"}", "{}}", "[[{}]]",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false, uint8(0))
		f.Add(gz(f, []byte(s)), true, uint8(16))
	}
	f.Fuzz(func(t *testing.T, body []byte, compressed bool, maxRec uint8) {
		name := "f.json"
		if compressed {
			name += ".gz"
		}
		lim := Limits{MaxRecordBytes: int64(maxRec) * 4, MaxBytes: 1 << 20}
		rd, err := NewReader(bytes.NewReader(body), name, lim)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		var elements [][]byte
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var rerr *Error
				if !errors.As(err, &rerr) {
					t.Fatalf("content error is not *Error: %v", err)
				}
				elements = nil
				break
			}
			n++
			if rec.Number != n {
				t.Fatalf("record number %d, want %d", rec.Number, n)
			}
			if len(rec.Raw) == 0 || rec.Raw[0] != '{' || !json.Valid(rec.Raw) {
				t.Fatalf("record %d is not a valid object: %q", n, rec.Raw)
			}
			if !compressed && !bytes.Equal(body[rec.Offset:rec.Offset+int64(len(rec.Raw))], rec.Raw) {
				t.Fatalf("record %d offset %d does not point at it", n, rec.Offset)
			}
			elements = append(elements, bytes.Clone(rec.Raw))
		}
		// encoding/json tolerates invalid UTF-8, which the Reader rightly rejects.
		if compressed || !utf8.Valid(body) || rd.Format() != "" && rd.Format() != FormatArray {
			return
		}
		// An array the standard library accepts must be read in full, and the other way round.
		var std []json.RawMessage
		stdErr := json.Unmarshal(bytes.TrimPrefix(body, bom), &std)
		if stdErr == nil && elements == nil && rd.err != io.EOF {
			for _, e := range std {
				if int64(len(e)) > lim.maxRecord() || len(e) == 0 || e[0] != '{' {
					return // rejected for a record cap or a non-object element, as it should be
				}
			}
			t.Fatalf("json accepts the array but the reader failed: %v", rd.err)
		}
		if rd.err == io.EOF && rd.Format() == FormatArray && stdErr != nil {
			t.Fatalf("the reader accepted an array json rejects: %v", stdErr)
		}
	})
}
