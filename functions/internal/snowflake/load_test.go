package snowflake

import (
	"compress/gzip"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompareSequencers(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"equal", "0055AED6DCD90281E5", "0055AED6DCD90281E5", 0},
		{"greater", "0055AED6DCD90281E6", "0055AED6DCD90281E5", 1},
		{"shorter is padded, not compared as text", "FF", "0100", -1},
		{"padding makes equal", "00A", "A", 0},
		{"case does not matter", "0055aed6dcd90281e5", "0055AED6DCD90281E5", 0},
		{"longer real sequencer", "0062A3F0B9D1C4E7A0", "62A3F0B9D1C4E79F", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, CompareSequencers(tt.a, tt.b))
			assert.Equal(t, -tt.want, CompareSequencers(tt.b, tt.a))
		})
	}
}

func TestAgainst(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   File
		prev loadedVersion
		want Status
	}{
		{"same version id again", File{VersionID: "v1", Sequencer: "10"}, loadedVersion{VersionID: "v1", Sequencer: "10"}, StatusReloaded},
		{"newer sequencer", File{VersionID: "v2", Sequencer: "11"}, loadedVersion{VersionID: "v1", Sequencer: "10"}, StatusReplaced},
		{"older sequencer", File{VersionID: "v1", Sequencer: "10"}, loadedVersion{VersionID: "v2", Sequencer: "11"}, StatusSkippedOlder},
		{"sequencers of different length", File{VersionID: "v2", Sequencer: "100"}, loadedVersion{VersionID: "v1", Sequencer: "FF"}, StatusReplaced},
		{"unversioned, same event", File{ETag: "e1", Sequencer: "10"}, loadedVersion{ETag: "e1", Sequencer: "10"}, StatusReloaded},
		{"unversioned, same bytes uploaded again", File{ETag: "e1", Sequencer: "11"}, loadedVersion{ETag: "e1", Sequencer: "10"}, StatusReplaced},
		{"no sequencer, later event", File{VersionID: "v2", EventTime: t0.Add(time.Minute)}, loadedVersion{VersionID: "v1", Sequencer: "10", EventTime: sql.NullTime{Time: t0, Valid: true}}, StatusReplaced},
		{"no sequencer, earlier event", File{VersionID: "v1", EventTime: t0}, loadedVersion{VersionID: "v2", EventTime: sql.NullTime{Time: t0.Add(time.Minute), Valid: true}}, StatusSkippedOlder},
		{"no sequencer, loaded time unknown", File{VersionID: "v2", EventTime: t0}, loadedVersion{VersionID: "v1"}, StatusReplaced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, against(tt.in, tt.prev))
		})
	}
}

func TestNewer(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	assert.True(t, Newer(File{Sequencer: "0B"}, File{Sequencer: "A"}))
	assert.False(t, Newer(File{Sequencer: "0A"}, File{Sequencer: "A"}), "equal is not newer")
	assert.True(t, Newer(File{EventTime: t0.Add(time.Second)}, File{Sequencer: "A", EventTime: t0}), "event time when a sequencer is missing")
}

func TestDecide(t *testing.T) {
	b := &Batch{Table: "RAW_DATA", LoadID: "load-1"}
	for i, name := range []string{"new.json", "newer.json", "same.json", "older.json"} {
		f := b.AddFile(File{Bucket: "b", Key: name, VersionID: "v2", Sequencer: "20"})
		for n := int64(1); n <= int64(i+1); n++ {
			b.AddRecord(f, n, []byte(`{"n":1}`))
		}
	}
	loaded := map[int]loadedVersion{
		1: {VersionID: "v1", Sequencer: "10"},
		2: {VersionID: "v2", Sequencer: "20"},
		3: {VersionID: "v3", Sequencer: "30"},
	}
	res, p := decide(b, loaded)

	assert.Equal(t, []FileResult{
		{Status: StatusLoaded, Rows: 1},
		{Status: StatusReplaced, Rows: 2},
		{Status: StatusReloaded, Rows: 3},
		{Status: StatusSkippedOlder, Rows: 0},
	}, res.Files)
	assert.Equal(t, []int{0}, p.fresh)
	assert.Equal(t, []int{1, 2}, p.replace)
	assert.Equal(t, int64(6), p.rows)
	assert.Equal(t, []int{0, 1, 2}, p.winners())
}

func TestBatchSpool(t *testing.T) {
	b := &Batch{Table: "RAW_DATA", LoadID: "load-1", Dir: t.TempDir()}
	defer b.Close()
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.FixedZone("", 3600))
	f0 := b.AddFile(File{Bucket: "b", Key: "a.json", VersionID: "v1", Size: 10, Sequencer: "0a", EventTime: at, SourceIP: "203.0.113.7"})
	raw := []byte(`{"a":1}`)
	b.AddRecord(f0, 1, raw)
	raw[2] = 'X' // the batch holds its own copy
	b.AddRecord(f0, 3, []byte("{\"a\":\n  [3, \"x\\ny\"]\r\n}"))
	f1 := b.AddFile(File{Bucket: "b", Key: "b.json"})
	require.NoError(t, b.seal())
	require.NoError(t, b.check())

	lines := func(i int) []string {
		assert.NoFileExists(t, filepath.Join(b.spool, spoolName(i)), "only the compressed spool file is left")
		f, err := os.Open(filepath.Join(b.spool, spoolName(i)+".gz"))
		require.NoError(t, err)
		defer f.Close()
		zr, err := gzip.NewReader(f)
		require.NoError(t, err)
		body, err := io.ReadAll(zr)
		require.NoError(t, err)
		return strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	}
	got := lines(f0)
	require.Len(t, got, 4)
	assert.Equal(t, `{"f":0,"bucket":"b","key":"a.json","version_id":"v1","size":10,"sequencer":"0A","event_time":"2026-11-02T10:00:00+01:00","source_ip":"203.0.113.7","rows":2}`,
		strings.TrimRight(got[0], " "), "line 1 is the metadata, sequencers upper-cased and empty values left out")
	assert.Equal(t, []string{`{"a":1}`, `null`, `{"a":[3,"x\ny"]}`}, got[1:],
		"line n+1 is record n; a record left out is null; line breaks between tokens are dropped, escapes kept")
	got = lines(f1)
	assert.Equal(t, []string{`{"f":1,"bucket":"b","key":"b.json","size":0,"rows":0}`}, []string{strings.TrimRight(got[0], " ")})
	assert.Equal(t, int64(2), b.Rows(f0))
	assert.Equal(t, int64(0), b.Rows(f1))
	assert.Equal(t, int64(2), b.Records())
	assert.Equal(t, int64(5), b.lines)

	spool := b.spool
	require.NoError(t, b.Close())
	assert.NoDirExists(t, spool, "Close removes the spool")
}

func TestRemoveSpools(t *testing.T) {
	dir := t.TempDir()
	b := &Batch{Table: "RAW_DATA", LoadID: "load-1", Dir: dir}
	b.AddRecord(b.AddFile(File{Bucket: "b", Key: "a.json"}), 1, []byte(`{}`))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.txt"), nil, 0o644))
	require.DirExists(t, b.spool)

	require.NoError(t, RemoveSpools(dir))
	assert.NoDirExists(t, b.spool, "a spool left behind is removed")
	assert.FileExists(t, filepath.Join(dir, "other.txt"), "nothing else is")
}

func TestBatchRefusesRecordsOutOfOrder(t *testing.T) {
	b := &Batch{Table: "RAW_DATA", LoadID: "load-1", Dir: t.TempDir()}
	defer b.Close()
	f0 := b.AddFile(File{Bucket: "b", Key: "a.json"})
	b.AddFile(File{Bucket: "b", Key: "b.json"})
	b.AddRecord(f0, 1, []byte(`{}`))
	assert.ErrorContains(t, b.seal(), "added after file 1")
}

func TestBatchCheck(t *testing.T) {
	tests := []struct {
		name string
		b    *Batch
		want string
	}{
		{"bad table", &Batch{Table: "RAW DATA", LoadID: "x"}, "not a valid Snowflake identifier"},
		{"no load id", &Batch{Table: "RAW_DATA"}, "no load id"},
		{"no files", &Batch{Table: "RAW_DATA", LoadID: "x"}, "no files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorContains(t, tt.b.check(), tt.want)
		})
	}
	b := &Batch{Table: "LOADER_DB.RAW.RAW_DATA", LoadID: "x"}
	b.AddFile(File{Bucket: "b", Key: "k"})
	b.AddFile(File{Bucket: "b", Key: "k"})
	assert.ErrorContains(t, b.check(), "s3://b/k twice")
}

func TestFileIn(t *testing.T) {
	assert.Equal(t, "FALSE", fileIn("s", nil))
	assert.Equal(t, "s.FILE_NO IN (0, 4)", fileIn("s", []int{0, 4}))
}
