package records

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
)

var errConnReset = errors.New("connection reset by peer")

// failingReader serves its data, then fails the way an S3 body does when the connection drops.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadFailureIsNotAContentError(t *testing.T) {
	ndjson := []byte(strings.Repeat("{\"a\":1}\n", 20_000))
	tests := []struct {
		name string
		key  string
		data []byte
		err  error
	}{
		{"plain body breaks off", "a.ndjson", ndjson[:100_003], errConnReset},
		{"plain body ends early", "a.ndjson", ndjson[:100_003], io.ErrUnexpectedEOF},
		{"gzip body breaks off", "a.ndjson.gz", gz(t, ndjson)[:200], errConnReset},
		{"gzip body breaks off in the header", "a.ndjson.gz", gz(t, ndjson)[:4], errConnReset},
		{"array body breaks off inside a record", "a.json", []byte(`[{"a":"xxxx`), errConnReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, err := NewReader(&failingReader{data: tt.data, err: tt.err}, tt.key, Limits{})
			require.NoError(t, err)
			for err == nil {
				_, err = rd.Next()
			}
			require.ErrorIs(t, err, tt.err)
			var rerr *Error
			assert.False(t, errors.As(err, &rerr), "a failed read must not look like a bad file: %v", err)
			assert.Contains(t, err.Error(), tt.key, "the error names the file")
		})
	}
}

func TestGzipBombStopsEarly(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name string
		lim  Limits
		rule string
	}{
		{"ratio cap", Limits{MaxRatio: 100, MaxBytes: gib}, RuleCompressionRatio},
		{"size cap", Limits{MaxBytes: 8 << 20}, RuleDecompressedSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bomb := gendata.NewBomb(gib)
			defer bomb.Close()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)

			rd, err := NewReader(bomb, "bomb.ndjson.gz", tt.lim)
			require.NoError(t, err)
			records := 0
			for err == nil {
				_, err = rd.Next()
				records++
			}
			runtime.ReadMemStats(&after)

			var rerr *Error
			require.ErrorAs(t, err, &rerr)
			assert.Equal(t, tt.rule, rerr.Rule)
			assert.Less(t, rd.BytesRead(), int64(16<<20), "the reader stopped within a few MiB")
			bomb.Close()
			assert.Less(t, bomb.Produced(), int64(gib/8), "far less than the bomb was ever inflated")
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "memory stays bounded")
			assert.Greater(t, records, 1000, "records before the cap were read normally")
		})
	}
}

func TestLongRecordsGrowTheBuffer(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 300_000) + `"}`
	body := "[" + big + ",\n" + big + "]"
	_, recs, err := readAll(t, "a.json", []byte(body), Limits{})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, big, string(recs[1].Raw))
	assert.Equal(t, int64(len(big)+3), recs[1].Offset)
	assert.Equal(t, int64(2), recs[1].Line)
}

// oneByteReader returns one byte per Read, the worst case for buffer refills.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestTinyReadsGiveTheSameRecords(t *testing.T) {
	bodies := map[string]string{
		"a.ndjson": "\xEF\xBB\xBF{\"a\":1}\r\n\n{\"b\":\"x}\\\"\"}\n",
		"a.json":   "[ {\"a\":1},\n {\"b\":[1,{\"c\":\"]}\\\\\"}]} ]\n",
		"b.json":   "{\n  \"a\": [1,\n 2]\n}\n",
	}
	for key, body := range bodies {
		t.Run(key, func(t *testing.T) {
			_, want, err := readAll(t, key, []byte(body), Limits{})
			require.NoError(t, err)
			rd, err := NewReader(oneByteReader{strings.NewReader(body)}, key, Limits{})
			require.NoError(t, err)
			var got []Record
			for {
				rec, err := rd.Next()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				rec.Raw = bytes.Clone(rec.Raw)
				got = append(got, rec)
			}
			assert.Equal(t, want, got)
		})
	}
}
