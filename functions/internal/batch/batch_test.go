package batch

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func files(n int, size int64) []File {
	out := make([]File, n)
	for i := range out {
		out[i] = File{Bucket: "b", Key: fmt.Sprintf("incoming/%03d.json", i), VersionID: fmt.Sprintf("v%d", i), ETag: "e", Size: size}
	}
	return out
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		files []File
		caps  Caps
		want  []int // files per batch
	}{
		{name: "one batch", files: files(3, 10), caps: Caps{MaxFiles: 10, MaxBytes: 100}, want: []int{3}},
		{name: "file cap", files: files(5, 10), caps: Caps{MaxFiles: 2, MaxBytes: 1000}, want: []int{2, 2, 1}},
		{name: "byte cap", files: files(5, 40), caps: Caps{MaxFiles: 10, MaxBytes: 100}, want: []int{2, 2, 1}},
		{name: "oversized file alone", files: files(2, 500), caps: Caps{MaxFiles: 10, MaxBytes: 100}, want: []int{1, 1}},
		{name: "none", caps: DefaultCaps()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Split(tc.files, tc.caps)
			var sizes []int
			for _, b := range got {
				sizes = append(sizes, len(b))
			}
			assert.Equal(t, tc.want, sizes)
		})
	}
}

func TestSplitIsOrderIndependent(t *testing.T) {
	fs := files(7, 10)
	reversed := make([]File, len(fs))
	for i := range fs {
		reversed[len(fs)-1-i] = fs[i]
	}
	caps := Caps{MaxFiles: 3, MaxBytes: 1000}
	a, b := Split(fs, caps), Split(reversed, caps)
	require.Len(t, b, len(a))
	for i := range a {
		assert.Equal(t, ExecutionName("RAW_DATA", a[i]), ExecutionName("RAW_DATA", b[i]))
	}
}

func TestExecutionName(t *testing.T) {
	fs := files(3, 10)
	name := ExecutionName("RAW_DATA", fs)
	assert.LessOrEqual(t, len(name), 80)
	assert.Regexp(t, regexp.MustCompile(`^[a-z0-9_-]+$`), name)

	changed := append([]File(nil), fs...)
	changed[1].ETag = "other"
	assert.NotEqual(t, name, ExecutionName("RAW_DATA", changed), "another version of a member is another batch")
	assert.NotEqual(t, name, ExecutionName("ORDERS", fs), "another table is another batch")
	assert.LessOrEqual(t, len(ExecutionName("DB.SCHEMA.A_VERY_LONG_TABLE_NAME_THAT_GOES_ON", fs)), 80)
}

func TestInputValidate(t *testing.T) {
	ok := Input{Version: Version, Table: "RAW_DATA", Name: "n", Files: files(1, 1), DeadLetter: json.RawMessage(`{}`)}
	require.NoError(t, ok.Validate())

	tests := []struct {
		name   string
		mutate func(*Input)
		want   string
	}{
		{name: "future version", mutate: func(in *Input) { in.Version = 2 }, want: "version 2 is not supported"},
		{name: "no table", mutate: func(in *Input) { in.Table = "" }, want: "no table"},
		{name: "no files", mutate: func(in *Input) { in.Files = nil }, want: "no files"},
		{name: "no key", mutate: func(in *Input) { in.Files = []File{{Bucket: "b"}} }, want: "no bucket or key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := ok
			tc.mutate(&in)
			err := in.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
