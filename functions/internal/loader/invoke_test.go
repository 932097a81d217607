package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInvokeMalformedInput sends payloads the loader cannot read through the Lambda runtime's
// own handler adapter: each fails as Data.Invalid with a message about the execution input,
// where the runtime alone would report SyntaxError or UnmarshalTypeError.
func TestInvokeMalformedInput(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		wantMsg string
	}{
		{"not JSON", `{"version":1,`, "is not valid JSON"},
		{"a string where a number belongs", `{"version":"1","table":"RAW_DATA","name":"n","files":[]}`, `field "version" holds a JSON string`},
		{"a nested field of the wrong type", `{"version":1,"table":"RAW_DATA","name":"n","files":[{"bucket":"b","key":"k","size":"big"}]}`, `field "files.size" holds a JSON string`},
		{"an array instead of an object", `[1,2]`, "is a JSON array, not a load batch object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			store := &fakeStore{}
			h := newHandler(&fakeS3{}, store, &logs)
			_, err := lambda.NewHandler(h).Invoke(context.Background(), []byte(tt.payload))
			assert.Equal(t, NameDataInvalid, errorName(t, err))
			msg := err.(messages.InvokeResponse_Error).Message
			assert.Contains(t, msg, "execution input")
			assert.Contains(t, msg, tt.wantMsg)
			assert.NotContains(t, msg, "s3://", "the message is about the input, not a file")
			assert.Nil(t, store.batch)
			line := logLine(t, &logs)
			assert.Equal(t, "batch failed", line["msg"])
			assert.Equal(t, NameDataInvalid, line["error_name"])
		})
	}
}

// TestInvokeLoads checks that a well-formed payload goes through Handle and comes back as its
// JSON result.
func TestInvokeLoads(t *testing.T) {
	s3c := &fakeS3{objects: map[string]string{"a.ndjson": "{\"n\":1}\n{\"n\":2}\n"}}
	payload, err := json.Marshal(input(file("a.ndjson", 2)))
	require.NoError(t, err)
	out, err := lambda.NewHandler(newHandler(s3c, &fakeStore{}, nil)).Invoke(context.Background(), payload)
	require.NoError(t, err)
	var got Output
	require.NoError(t, json.Unmarshal(out, &got))
	assert.Equal(t, 1, got.FilesLoaded)
	assert.Equal(t, int64(2), got.RowsLoaded)
}
