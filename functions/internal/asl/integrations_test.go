package asl_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
)

type valueError struct{ code string }

func (e valueError) Error() string { return "value " + e.code }

type pointerError struct{ code string }

func (e *pointerError) Error() string { return "pointer " + e.code }

func TestLambdaError(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantType  string
		wantCause string
	}{
		{name: "nil", err: nil},
		{name: "errors.New", err: errors.New("boom"), wantType: "errorString", wantCause: `{"errorMessage":"boom","errorType":"errorString"}`},
		{name: "fmt.Errorf with %w", err: fmt.Errorf("load: %w", errors.New("boom")), wantType: "wrapError", wantCause: `{"errorMessage":"load: boom","errorType":"wrapError"}`},
		{name: "a value type", err: valueError{"1"}, wantType: "valueError", wantCause: `{"errorMessage":"value 1","errorType":"valueError"}`},
		{name: "a pointer type is named after its element", err: &pointerError{"2"}, wantType: "pointerError", wantCause: `{"errorMessage":"pointer 2","errorType":"pointerError"}`},
		{
			name: "an InvokeResponse_Error value keeps its Type and Message",
			err:  messages.InvokeResponse_Error{Type: "Snowflake.Transient", Message: "390114 <expired>"},
			// The runtime encodes with encoding/json, which escapes < and >.
			wantType: "Snowflake.Transient", wantCause: `{"errorMessage":"390114 \u003cexpired\u003e","errorType":"Snowflake.Transient"}`,
		},
		{
			// The runtime's plain type assertion does not see through a pointer.
			name:     "an InvokeResponse_Error pointer is named after its Go type",
			err:      &messages.InvokeResponse_Error{Type: "Snowflake.Transient", Message: "m"},
			wantType: "InvokeResponse_Error",
		},
		{
			name:     "a wrapped InvokeResponse_Error is named after the wrapper",
			err:      fmt.Errorf("load: %w", messages.InvokeResponse_Error{Type: "Data.Invalid", Message: "m"}),
			wantType: "wrapError",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotType, gotCause := asl.LambdaError(tc.err)
			assert.Equal(t, tc.wantType, gotType)
			if tc.wantCause != "" || tc.err == nil {
				assert.Equal(t, tc.wantCause, gotCause)
			}
		})
	}
}

const sqsMachine = `{"StartAt":"Send","States":{"Send":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage",
	"Parameters":{"QueueUrl":"https://queue","MessageBody.$":"$.body",
		"MessageAttributes":{"A":{"DataType":"String","StringValue.$":"$.a"},"N":{"DataType":"Number","StringValue":"5"}}},
	"ResultPath":"$.sent","End":true}}}`

func TestSQSSendMessage(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		sqsErr    error
		wantBody  string
		wantError string
	}{
		{name: "a string body is sent as it is", input: `{"body":"{\"raw\": 1}","a":"x"}`, wantBody: `{"raw": 1}`},
		{name: "an object body is sent as JSON text", input: `{"body":{"k":["<v>"]},"a":"x"}`, wantBody: `{"k":["<v>"]}`},
		{name: "a number body is sent as JSON text", input: `{"body":12,"a":"x"}`, wantBody: `12`},
		{name: "an empty attribute value is refused as SQS refuses it", input: `{"body":"b","a":""}`, wantError: asl.ErrSQSService},
		{name: "an empty body is refused", input: `{"body":"","a":"x"}`, wantError: asl.ErrSQSService},
		{name: "a plain send error is a client failure", input: `{"body":"b","a":"x"}`, sqsErr: errors.New("connection refused"), wantError: asl.ErrSQSClient},
		{name: "an API error is named after its code", input: `{"body":"b","a":"x"}`, sqsErr: apiError{"QueueDoesNotExist"}, wantError: "SQS.QueueDoesNotExist"},
		{name: "a ServiceError keeps its name", input: `{"body":"b","a":"x"}`, sqsErr: &asl.ServiceError{Name: "SQS.KmsThrottled", Message: "slow"}, wantError: "SQS.KmsThrottled"},
	}
	m := mustLoad(t, sqsMachine, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := &fakeSQS{errs: []error{tc.sqsErr}}
			exec, err := m.Run(context.Background(), asl.Bindings{SQSSend: q.send}, newFakeClock(), "e", []byte(tc.input))
			require.NoError(t, err)
			if tc.wantError != "" {
				assert.Equal(t, tc.wantError, exec.Error, exec.Cause)
				assert.Empty(t, q.sent)
				return
			}
			require.Equal(t, asl.StatusSucceeded, exec.Status, exec.Cause)
			require.Len(t, q.sent, 1)
			assert.Equal(t, "https://queue", q.sent[0].queueURL)
			assert.Equal(t, tc.wantBody, q.sent[0].body)
			assert.Equal(t, map[string]string{"A": "x", "N": "5"}, q.sent[0].attrs)
			assert.Contains(t, string(exec.Output), `"MessageId":`)
		})
	}
}

type apiError struct{ code string }

func (e apiError) Error() string     { return "api error " + e.code }
func (e apiError) ErrorCode() string { return e.code }
