package batch

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSkipsAreWrittenAsRanges(t *testing.T) {
	tests := []struct {
		name string
		in   Skips
		want string
	}{
		{name: "one record", in: Skips{17}, want: `"17"`},
		{name: "isolated records", in: Skips{17, 242}, want: `"17,242"`},
		{name: "a run becomes one range", in: Skips{3, 4, 5, 6, 7, 12}, want: `"3-7,12"`},
		{name: "unsorted with repeats", in: Skips{41, 40, 3, 40}, want: `"3,40-41"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(b))
			var back Skips
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, Skips(sortedUnique(tt.in)), back)
		})
	}
}

func TestFileSkipIsLeftOutWhenEmpty(t *testing.T) {
	b, err := json.Marshal(File{Bucket: "b", Key: "k"})
	require.NoError(t, err)
	assert.NotContains(t, string(b), "skip")
}

func TestSkipsRead(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    Skips
		wantErr string
	}{
		{name: "ranges", json: `"1-3,9"`, want: Skips{1, 2, 3, 9}},
		{name: "the array earlier validators wrote", json: `[242, 17]`, want: Skips{17, 242}},
		{name: "null", json: `null`, want: nil},
		{name: "empty string", json: `""`, want: nil},
		{name: "backwards range", json: `"9-3"`, wantErr: "not a range"},
		{name: "not a number", json: `"1,x"`, wantErr: "not a record number"},
		{name: "negative", json: `"-4"`, wantErr: "not a record number"},
		{name: "a range beyond the bound", json: `"1-10001"`, wantErr: "more than 10000 records"},
		{name: "ranges beyond the bound together", json: `"1-6000,10001-16000"`, wantErr: "more than 10000 records"},
		{name: "the bound itself", json: `"1-5000,10001-15000"`, want: append(seq(1, 5000), seq(10001, 15000)...)},
		{name: "an object", json: `{"from":1}`, wantErr: "string of record ranges or an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Skips
			err := json.Unmarshal([]byte(tt.json), &got)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func seq(a, b int64) Skips {
	var out Skips
	for n := a; n <= b; n++ {
		out = append(out, n)
	}
	return out
}

func sortedUnique(s Skips) []int64 {
	return slices.Compact(slices.Sorted(slices.Values(s)))
}
