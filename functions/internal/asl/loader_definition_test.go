package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
)

const (
	loaderARN  = "arn:aws:lambda:us-east-1:123456789012:function:loader"
	dlqURL     = "https://sqs.us-east-1.amazonaws.com/123456789012/loader-dlq"
	execName   = "RAW_DATA-3f9a0c1d2e"
	deadLetter = `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"landing"},"object":{"key":"incoming/events+1.json","versionId":"v1","size":2048}}}]}`
	loadResult = `{"load_id":"RAW_DATA-3f9a0c1d2e","table":"RAW_DATA","files":[{"key":"incoming/events 1.json","version_id":"v1","rows":10,"status":"loaded"}],"files_loaded":1,"rows_loaded":10}`
)

// loadLoaderDefinition loads the definition SAM deploys, with stand-in substitutions.
func loadLoaderDefinition(t *testing.T) *asl.Machine {
	t.Helper()
	def, err := os.ReadFile(filepath.Join("..", "..", "..", "statemachine", "loader.asl.json"))
	require.NoError(t, err)
	m, err := asl.Load(def, map[string]string{"LoaderFunctionArn": loaderARN, "DeadLetterQueueUrl": dlqURL})
	require.NoError(t, err)
	return m
}

func loaderInput(t *testing.T, withDeadLetter bool) []byte {
	t.Helper()
	in := batch.Input{
		Version: batch.Version,
		Table:   "RAW_DATA",
		Name:    execName,
		Files: []batch.File{{
			Bucket: "landing", Key: "incoming/events 1.json", VersionID: "v1", ETag: "\"abc\"", Size: 2048,
			Sequencer: "0055AED6DCD90281E5", EventName: "ObjectCreated:Put",
			EventTime: time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC), Records: 10,
		}},
	}
	if withDeadLetter {
		in.DeadLetter = json.RawMessage(deadLetter)
	}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	if !withDeadLetter {
		// Leave the field out altogether rather than null, as an older producer would.
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		delete(m, "dead_letter")
		b, err = json.Marshal(m)
		require.NoError(t, err)
	}
	return b
}

func loaderErr(name string) error {
	return messages.InvokeResponse_Error{Type: name, Message: name + " while loading"}
}

func causeOf(name string) string {
	_, cause := asl.LambdaError(loaderErr(name))
	return cause
}

func TestLoaderDefinition(t *testing.T) {
	sqsDown := errors.New("dial tcp: connection refused")
	ok := outcome{out: loadResult}
	tests := []struct {
		name          string
		script        []outcome
		sqsErrs       []error
		noDeadLetter  bool
		expireTimeout bool
		wantStatus    string
		wantError     string
		wantCause     string // exact, when set
		wantLoads     int    // -1: not checked (a timed-out call may or may not have started)
		wantSends     int    // SQS attempts
		wantDLQRuns   int    // runs of SendToDLQ, when they differ from the SQS attempts
		wantDelays    []time.Duration
		wantDLQError  string // ErrorName attribute of the dead-letter message; empty: none sent
		wantDLQCause  string
	}{
		{
			name: "loads on the first attempt", script: []outcome{ok},
			wantStatus: asl.StatusSucceeded, wantLoads: 1,
		},
		{
			name:   "Snowflake.Transient twice, then loads",
			script: []outcome{{err: loaderErr("Snowflake.Transient")}, {err: loaderErr("Snowflake.Transient")}, ok},
			// 5 s × 2^n with FULL jitter at 0.5.
			wantStatus: asl.StatusSucceeded, wantLoads: 3, wantDelays: seconds(2.5, 5),
		},
		{
			name:       "S3.Transient is retried",
			script:     []outcome{{err: loaderErr("S3.Transient")}, ok},
			wantStatus: asl.StatusSucceeded, wantLoads: 2, wantDelays: seconds(2.5),
		},
		{
			name: "Lambda service errors and throttling have their own retriers and counts",
			script: []outcome{
				{err: &asl.ServiceError{Name: "Lambda.ServiceException", Message: "internal error"}},
				{err: loaderErr("Snowflake.Transient")},
				{err: &asl.ServiceError{Name: "Lambda.TooManyRequestsException", Message: "Rate Exceeded."}},
				{err: &asl.ServiceError{Name: "Lambda.ServiceException", Message: "internal error"}},
				ok,
			},
			// 2 s × 2^0, then 5 s × 2^0, then 15 s × 2^0, then 2 s × 2^1, each halved.
			wantStatus: asl.StatusSucceeded, wantLoads: 5, wantDelays: seconds(1, 2.5, 7.5, 2),
		},
		{
			name:       "Snowflake.Transient outlasts its retries and goes to the dead-letter queue",
			script:     []outcome{{err: loaderErr("Snowflake.Transient")}},
			wantStatus: asl.StatusFailed, wantError: "Snowflake.Transient", wantCause: causeOf("Snowflake.Transient"),
			// Six retries: 5, 10, 20, 40, 80 and 160 capped at 120 seconds, halved.
			wantLoads: 7, wantSends: 1, wantDelays: seconds(2.5, 5, 10, 20, 40, 60),
			wantDLQError: "Snowflake.Transient", wantDLQCause: causeOf("Snowflake.Transient"),
		},
		{
			name: "Snowflake.Auth is not retried", script: []outcome{{err: loaderErr("Snowflake.Auth")}},
			wantStatus: asl.StatusFailed, wantError: "Snowflake.Auth", wantCause: causeOf("Snowflake.Auth"),
			wantLoads: 1, wantSends: 1, wantDLQError: "Snowflake.Auth", wantDLQCause: causeOf("Snowflake.Auth"),
		},
		{
			name: "Snowflake.Sql is not retried", script: []outcome{{err: loaderErr("Snowflake.Sql")}},
			wantStatus: asl.StatusFailed, wantError: "Snowflake.Sql", wantLoads: 1, wantSends: 1, wantDLQError: "Snowflake.Sql",
		},
		{
			name: "S3.Changed is not retried", script: []outcome{{err: loaderErr("S3.Changed")}},
			wantStatus: asl.StatusFailed, wantError: "S3.Changed", wantLoads: 1, wantSends: 1, wantDLQError: "S3.Changed",
		},
		{
			name: "S3.NotFound is not retried", script: []outcome{{err: loaderErr("S3.NotFound")}},
			wantStatus: asl.StatusFailed, wantError: "S3.NotFound", wantLoads: 1, wantSends: 1, wantDLQError: "S3.NotFound",
		},
		{
			name: "Data.Invalid is not retried", script: []outcome{{err: loaderErr("Data.Invalid")}},
			wantStatus: asl.StatusFailed, wantError: "Data.Invalid", wantCause: causeOf("Data.Invalid"),
			wantLoads: 1, wantSends: 1, wantDLQError: "Data.Invalid",
		},
		{
			name: "an unnamed Go error is named after its type and not retried", script: []outcome{{err: errors.New("boom")}},
			wantStatus: asl.StatusFailed, wantError: "errorString", wantCause: `{"errorMessage":"boom","errorType":"errorString"}`,
			wantLoads: 1, wantSends: 1, wantDLQError: "errorString",
		},
		{
			name: "a panicking loader goes to the dead-letter queue", script: []outcome{{panic: "nil map"}},
			wantStatus: asl.StatusFailed, wantError: "string", wantLoads: 1, wantSends: 1, wantDLQError: "string",
		},
		{
			name:   "a failed dead-letter send is retried",
			script: []outcome{{err: loaderErr("Data.Invalid")}}, sqsErrs: []error{sqsDown, sqsDown, nil},
			wantStatus: asl.StatusFailed, wantError: "Data.Invalid", wantCause: causeOf("Data.Invalid"),
			wantLoads: 1, wantSends: 3, wantDelays: seconds(1, 2), wantDLQError: "Data.Invalid",
		},
		{
			name:   "an unreachable dead-letter queue fails the execution with DeadLetter.SendFailed",
			script: []outcome{{err: loaderErr("Data.Invalid")}}, sqsErrs: []error{sqsDown},
			wantStatus: asl.StatusFailed, wantError: "DeadLetter.SendFailed",
			wantCause: "The batch is NOT in the dead-letter queue: sending it failed with SQS.SdkClientException: dial tcp: connection refused. " +
				"The load had failed with Data.Invalid: " + causeOf("Data.Invalid") + ". Send the dead_letter of the execution input to the dead-letter queue once it is reachable.",
			// Eight retries: 2 s × 2^n capped at 60 seconds, halved.
			wantLoads: 1, wantSends: 9, wantDelays: seconds(1, 2, 4, 8, 16, 30, 30, 30),
		},
		{
			name:   "a timed-out load reaches the dead-letter queue with a cause",
			script: []outcome{ok}, expireTimeout: true,
			wantStatus: asl.StatusFailed, wantError: "States.Timeout", wantCause: "States.Timeout (Step Functions gave no cause)",
			wantLoads: -1, wantSends: 1, wantDLQError: "States.Timeout", wantDLQCause: "States.Timeout (Step Functions gave no cause)",
		},
		{
			name:   "an input without dead_letter fails the execution loudly",
			script: []outcome{{err: loaderErr("Data.Invalid")}}, noDeadLetter: true,
			wantStatus: asl.StatusFailed, wantError: "States.Runtime", wantLoads: 1, wantSends: 0, wantDLQRuns: 1,
		},
	}
	m := loadLoaderDefinition(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := loaderInput(t, !tc.noDeadLetter)
			fn := &fakeLambda{script: tc.script}
			queue := &fakeSQS{errs: tc.sqsErrs}
			clock := newFakeClock()
			clock.expireTimeouts = tc.expireTimeout
			b := asl.Bindings{Lambda: map[string]asl.LambdaFunc{loaderARN: fn.handler}, SQSSend: queue.send, Rand: half}

			exec, err := m.Run(context.Background(), b, clock, execName, input)
			require.NoError(t, err)

			assert.Equal(t, tc.wantStatus, exec.Status)
			assert.Equal(t, tc.wantError, exec.Error)
			if tc.wantCause != "" {
				assert.Equal(t, tc.wantCause, exec.Cause)
			}
			assert.Equal(t, tc.wantDelays, exec.Delays)
			assert.Equal(t, tc.wantDelays, clock.slept, "the delays are slept on the clock")
			assert.Equal(t, len(tc.wantDelays), exec.Retries)
			if tc.wantLoads >= 0 {
				calls := fn.calls()
				require.Len(t, calls, tc.wantLoads)
				assert.Equal(t, tc.wantLoads, exec.Attempts["LoadBatch"])
				for _, payload := range calls {
					assert.JSONEq(t, string(input), payload, "the loader gets the whole execution input")
				}
			}
			assert.Equal(t, tc.wantSends, queue.attempts)
			if tc.wantDLQRuns == 0 {
				tc.wantDLQRuns = tc.wantSends
			}
			assert.Equal(t, tc.wantDLQRuns, exec.Attempts["SendToDLQ"])

			if tc.wantStatus == asl.StatusSucceeded {
				assert.JSONEq(t, `{"result":`+loadResult+`}`, string(exec.Output))
				assert.Equal(t, []string{loaderARN}, fn.arns[len(fn.arns)-1:], "the handler sees its ARN in the Lambda context")
			}
			if tc.wantDLQError == "" {
				assert.Empty(t, queue.sent)
				return
			}
			require.Len(t, queue.sent, 1)
			msg := queue.sent[0]
			assert.Equal(t, dlqURL, msg.queueURL)
			assert.JSONEq(t, deadLetter, msg.body, "the body is the input's dead_letter as JSON text")
			assert.Equal(t, tc.wantDLQError, msg.attrs["ErrorName"])
			assert.Equal(t, exec.Cause, msg.attrs["ErrorCause"])
			if tc.wantDLQCause != "" {
				assert.Equal(t, tc.wantDLQCause, msg.attrs["ErrorCause"])
			}
			assert.Equal(t, execName, msg.attrs["ExecutionName"])
			assert.Len(t, msg.attrs, 3)
		})
	}
}

func TestLoaderDefinitionNeedsBothSubstitutions(t *testing.T) {
	def, err := os.ReadFile(filepath.Join("..", "..", "..", "statemachine", "loader.asl.json"))
	require.NoError(t, err)
	_, err = asl.Load(def, map[string]string{"LoaderFunctionArn": loaderARN})
	var de *asl.DefinitionError
	require.ErrorAs(t, err, &de)
	assert.Contains(t, de.Reason, "${DeadLetterQueueUrl}")
}
