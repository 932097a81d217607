package snowflake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
)

// stagedNames lists the loader user's stage through the client's own session.
func stagedNames(t *testing.T, c *Client) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := c.pool().Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "LIST @~")
	require.NoError(t, err)
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name, md5, modified string
		var size int64
		require.NoError(t, rows.Scan(&name, &size, &md5, &modified))
		names = append(names, name)
	}
	require.NoError(t, rows.Err())
	return names
}

// TestLoadThroughStage loads batches of every shape the caps allow through the stage: each
// record lands exactly once, the stage is empty afterwards, and a batch costs the same
// requests whatever it holds.
func TestLoadThroughStage(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx))
	tests := []struct {
		name           string
		files, records int
	}{
		{"1 file of 1 record", 1, 1},
		{"100 files of 1,000 records", 100, 1000},
		{"1,000 files of 10 records", 1000, 10},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []testFile
			for f := range tt.files {
				files = append(files, fileVersion(fmt.Sprintf("shape%d/%04d.json", i, f), "v1", "0A", tt.records))
			}
			s.ResetStats()
			before := s.StageCalls()
			res, err := c.Load(ctx, newBatch(fmt.Sprintf("load-%d", i), files...))
			require.NoError(t, err)
			st := s.Stats()
			after := s.StageCalls()
			// The statements are constant; the PUT's own S3 requests are one upload and one
			// check (HeadObject) per staged file, the driver's way (storage_client.go).
			assert.Equal(t, tt.files, after["PutObject"]-before["PutObject"], "S3 uploads")
			assert.Equal(t, tt.files, after["HeadObject"]-before["HeadObject"], "S3 checks")

			want := int64(tt.files * tt.records)
			var rows int64
			for _, f := range res.Files {
				assert.Equal(t, StatusLoaded, f.Status)
				rows += f.Rows
			}
			assert.Equal(t, want, rows)
			prefix := fmt.Sprintf("'shape%d/%%'", i)
			assert.Equal(t, want, count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY LIKE "+prefix))
			assert.Equal(t, want, count(t, s, "SELECT COUNT(DISTINCT S3_KEY || '#' || RECORD_NUMBER) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY LIKE "+prefix),
				"each record exactly once")
			assert.Equal(t, want, count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY LIKE "+prefix+
				" AND PAYLOAD:n::NUMBER = RECORD_NUMBER AND PAYLOAD:key::VARCHAR = S3_KEY"), "each row holds its own record")
			assert.Equal(t, int64(tt.files), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.FILE_LOADS WHERE S3_KEY LIKE "+prefix))

			assert.Equal(t, int64(9), st.TotalStatements, "requests per batch")
			assert.Equal(t, map[string]int64{"PUT": 1, "COPY": 1, "SELECT": 1, "MERGE": 1, "DELETE": 2, "INSERT": 1, "COMMIT": 1, "REMOVE": 1}, st.Statements)
			assert.Empty(t, stagedNames(t, c), "the stage is empty after the batch")
		})
	}
}

// TestFailedLoadEmptiesStage: a batch that fails inside its transaction leaves neither
// rows nor staged files.
func TestFailedLoadEmptiesStage(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	s.InjectFault(sfemu.Fault{Kind: "MERGE", Count: 1})
	_, err := c.Load(ctx, newBatch("load-1", fileVersion("a.json", "v1", "0A", 3)))
	require.Error(t, err)
	assert.Empty(t, stagedNames(t, c))
	assert.Zero(t, count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"))
}

// trickyRecords are records whose bytes a file format could re-interpret.
func trickyRecords() [][]byte {
	big := make([]byte, 0, 16<<20)
	big = append(big, `{"blob":"`...)
	for len(big) < 16<<20-2 {
		big = append(big, `ab\"\\\n\t\u00e9😀 `...)
	}
	big = big[:16<<20-2]
	// Cut at a clean point: no half escape, no half UTF-8 sequence.
	for !json.Valid(append(append([]byte{}, big...), `"}`...)) {
		big = big[:len(big)-1]
	}
	big = append(big, `"}`...)
	return [][]byte{
		[]byte(`{"quote":"she said \"hi\"","single":"it's"}`),
		[]byte(`{"backslash":"C:\\path\\to\\file","slash":"a\/b"}`),
		[]byte(`{"tab":"a\tb","raw_tab_between":	1}`),
		[]byte(`{"newline":"line1\nline2\r\nline3","unicode_escape":"\u00e9\u4e2d"}`),
		[]byte(`{"unicode":"é中文Ω","emoji":"😀🚀👍🏽","surrogates":"\ud83d\ude00"}`),
		[]byte(`{"csv":"a,b;c|d","null_if":"\\N","empty":"","spaces":"  padded  "}`),
		[]byte(`{"numbers":[0,-1,1.5,1e10,12345678901234567890],"bools":[true,false,null]}`),
		[]byte("{\"pretty\":\n  {\"nested\": [1,\n 2]}\n}"),
		[]byte(`{"control":"\u0001\u001f","html":"<a href='x'>&amp;</a>"}`),
		big,
	}
}

// TestPayloadRoundTrip loads tricky records and every file under testdata/data/valid, and
// reads each back with TO_JSON(PAYLOAD): it must be the same JSON value as the record, every
// string identical to the byte. (TO_JSON writes its own canonical text, so the texts differ
// where JSON allows: "\u00e9" comes back as "é", whitespace between tokens goes.)
func TestPayloadRoundTrip(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()

	b := &Batch{Table: "RAW_DATA", LoadID: "roundtrip"}
	raws := map[string][][]byte{}
	add := func(key string, recs [][]byte) {
		i := b.AddFile(File{Bucket: "landing", Key: key, VersionID: "v1", Sequencer: "01"})
		for n, raw := range recs {
			b.AddRecord(i, int64(n+1), raw)
		}
		raws[key] = recs
	}
	add("tricky.ndjson", trickyRecords())
	dir := filepath.Join("..", "..", "..", "testdata", "data", "valid")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		r, err := records.NewReader(f, e.Name(), records.Limits{})
		require.NoError(t, err)
		var recs [][]byte
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, e.Name())
			recs = append(recs, bytes.Clone(rec.Raw))
		}
		_ = f.Close()
		add("valid/"+e.Name(), recs)
	}
	_, err = c.Load(ctx, b)
	require.NoError(t, err)

	conn, err := c.pool().Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	for key, recs := range raws {
		for n, raw := range recs {
			var got string
			require.NoError(t, conn.QueryRowContext(ctx,
				"SELECT TO_JSON(PAYLOAD) FROM RAW_DATA WHERE S3_KEY = ? AND RECORD_NUMBER = ?", key, n+1).Scan(&got), "%s record %d", key, n+1)
			assert.True(t, sameJSON(t, raw, []byte(got)), "%s record %d: %.200q loaded as %.200q", key, n+1, raw, got)
		}
	}
	_, _ = conn.ExecContext(ctx, "ROLLBACK")
}

// sameJSON compares two JSON texts as values, numbers by their text.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	decode := func(raw []byte) any {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		require.NoError(t, d.Decode(&v))
		return normalizeNumbers(v)
	}
	return assert.ObjectsAreEqual(decode(a), decode(b))
}

// normalizeNumbers writes numbers as floats where their texts differ only in form (1e10
// and 10000000000 are one number).
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return strings.TrimSuffix(fmt.Sprint(f), ".0")
		}
	}
	return v
}

// TestLoadNear512MiB loads a batch at the validator's default cap, 512 MiB, made of 32
// records of 16 MiB (the record cap), one per file: the same requests as any batch, every
// record once, the stage empty afterwards. It moves a gigabyte or two through the emulator,
// so -short leaves it out.
func TestLoadNear512MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("moves about a gigabyte; run without -short")
	}
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx))

	const files = 32
	b := &Batch{Table: "RAW_DATA", LoadID: "big"}
	record := func(i int) []byte {
		rec := make([]byte, 0, 16<<20)
		rec = fmt.Appendf(rec, `{"file":%d,"blob":"`, i)
		for len(rec) < 16<<20-2 {
			rec = append(rec, 'a'+byte(len(rec)%26))
		}
		return append(rec, `"}`...)
	}
	for i := range files {
		f := b.AddFile(File{Bucket: "landing", Key: fmt.Sprintf("big/%02d.json", i), VersionID: "v1", Sequencer: "01"})
		b.AddRecord(f, 1, record(i))
	}
	require.Equal(t, int64(files*16<<20), b.PayloadBytes(), "512 MiB of records")
	s.ResetStats()
	_, err := c.Load(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, int64(9), s.Stats().TotalStatements)
	assert.Equal(t, int64(files), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY LIKE 'big/%'"))
	assert.Equal(t, int64(files), count(t, s, "SELECT COUNT(DISTINCT PAYLOAD:file::NUMBER) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY LIKE 'big/%'"))
	assert.Equal(t, int64(files*16<<20), count(t, s, "SELECT SUM(LENGTH(TO_JSON(PAYLOAD))) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY LIKE 'big/%'"),
		"every record whole")
	assert.Empty(t, stagedNames(t, c))
}
