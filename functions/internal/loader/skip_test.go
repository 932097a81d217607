package loader

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHandleReadsSkipsInEitherForm decodes execution inputs as the Lambda runtime does and
// checks that the records named by skip, in the range form the validator writes or the array
// form earlier validators wrote, are left out.
func TestHandleReadsSkipsInEitherForm(t *testing.T) {
	const body = "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n"
	tests := []struct {
		name     string
		skip     string
		wantRows int64
	}{
		{name: "ranges", skip: `"2-3,5"`, wantRows: 2},
		{name: "one range", skip: `"1-5"`, wantRows: 0},
		{name: "array of numbers", skip: `[2, 3, 5]`, wantRows: 2},
		{name: "none", skip: `""`, wantRows: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(input(file("a.ndjson", 5)))
			require.NoError(t, err)
			var doc map[string]any
			require.NoError(t, json.Unmarshal(raw, &doc))
			doc["files"].([]any)[0].(map[string]any)["skip"] = json.RawMessage(tt.skip)
			raw, err = json.Marshal(doc)
			require.NoError(t, err)

			in := input()
			require.NoError(t, json.Unmarshal(raw, &in))
			store := &fakeStore{logins: 1}
			out, err := newHandler(&fakeS3{objects: map[string]string{"a.ndjson": body}}, store, nil).Handle(context.Background(), in)
			require.NoError(t, err)
			require.NotNil(t, store.batch)
			assert.Equal(t, tt.wantRows, store.batch.Rows(0))
			assert.Equal(t, tt.wantRows, out.RowsLoaded)
		})
	}
}
