package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		wantSlept     []time.Duration // retry delays and Wait states, when they differ from wantDelays
		wantDLQError  string          // ErrorName attribute of the dead-letter message; empty: none sent
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
			name:       "Snowflake.Transient outlasts its retries, waits out the abort window, and goes to the dead-letter queue",
			script:     []outcome{{err: loaderErr("Snowflake.Transient")}},
			wantStatus: asl.StatusFailed, wantError: "Snowflake.Transient", wantCause: causeOf("Snowflake.Transient"),
			// Two rounds of six retries: 5, 10, 20, 40, 80 and 160 capped at 120 seconds,
			// halved; between them the 330-second wait, which has no jitter.
			wantLoads: 14, wantSends: 1, wantDelays: seconds(2.5, 5, 10, 20, 40, 60, 2.5, 5, 10, 20, 40, 60),
			wantSlept:    seconds(2.5, 5, 10, 20, 40, 60, 330, 2.5, 5, 10, 20, 40, 60),
			wantDLQError: "Snowflake.Transient", wantDLQCause: causeOf("Snowflake.Transient"),
		},
		{
			name: "Snowflake.Transient loads after the abort window",
			script: []outcome{
				{err: loaderErr("Snowflake.Transient")}, {err: loaderErr("Snowflake.Transient")}, {err: loaderErr("Snowflake.Transient")},
				{err: loaderErr("Snowflake.Transient")}, {err: loaderErr("Snowflake.Transient")}, {err: loaderErr("Snowflake.Transient")},
				{err: loaderErr("Snowflake.Transient")}, ok,
			},
			wantStatus: asl.StatusSucceeded, wantLoads: 8, wantDelays: seconds(2.5, 5, 10, 20, 40, 60),
			wantSlept: seconds(2.5, 5, 10, 20, 40, 60, 330),
		},
		{
			name:       "S3.Transient outlasts its retries without the abort-window wait",
			script:     []outcome{{err: loaderErr("S3.Transient")}},
			wantStatus: asl.StatusFailed, wantError: "S3.Transient", wantLoads: 7, wantSends: 1,
			wantDelays: seconds(2.5, 5, 10, 20, 40, 60), wantDLQError: "S3.Transient",
		},
		{
			name:       "a loader that timed out is retried and loads",
			script:     []outcome{{err: loaderErr("Sandbox.Timedout")}, ok},
			wantStatus: asl.StatusSucceeded, wantLoads: 2, wantDelays: seconds(15),
		},
		{
			name: "a loader that crashed after its COMMIT is retried and its rows are not dead-lettered",
			script: []outcome{
				{err: &asl.ServiceError{Name: "Runtime.ExitError", Message: "RequestId: 1 Error: Runtime exited with error: signal: killed"}},
				{err: loaderErr("Runtime.OutOfMemory")}, ok,
			},
			// 30 s × 2^n, halved; the two crash names share one retrier and its count.
			wantStatus: asl.StatusSucceeded, wantLoads: 3, wantDelays: seconds(15, 30),
		},
		{
			name:       "a loader that keeps dying is retried twice, then dead-lettered",
			script:     []outcome{{err: loaderErr("Lambda.Unknown")}},
			wantStatus: asl.StatusFailed, wantError: "Lambda.Unknown", wantLoads: 3, wantSends: 1,
			wantDelays: seconds(15, 30), wantDLQError: "Lambda.Unknown",
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
			if tc.wantSlept == nil {
				tc.wantSlept = tc.wantDelays
			}
			assert.Equal(t, tc.wantSlept, clock.slept, "the delays are slept on the clock")
			assert.Equal(t, len(tc.wantDelays), exec.Retries)
			if tc.wantLoads >= 0 {
				calls := fn.calls()
				require.Len(t, calls, tc.wantLoads)
				assert.Equal(t, tc.wantLoads, exec.Attempts["LoadBatch"]+exec.Attempts["LoadBatchAfterAbortWindow"])
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

// TestLoaderTransientBudgetOutlastsAbortWindow runs the definition with every FULL-jitter draw
// at its extremes. Snowflake aborts a detached transaction (a loader that died inside its
// transaction) once it has been idle for 5 minutes while it blocks another transaction
// (https://docs.snowflake.com/en/sql-reference/transactions#aborting-transactions). At
// least one attempt must start more than 5 minutes after the first Snowflake.Transient
// failure, even when jitter makes every retry delay zero: that is what the Wait state, which
// jitter does not touch, guarantees.
func TestLoaderTransientBudgetOutlastsAbortWindow(t *testing.T) {
	const abortWindow = 5 * time.Minute
	tests := []struct {
		name      string
		rand      func() float64
		wantLast  time.Duration // from the first attempt to the last
		wantAfter int           // attempts that start after the abort window
	}{
		// All jitter draws 0: the six retries of each round happen at once, and only the
		// 330-second wait separates the rounds.
		{"worst case: every jitter draw is zero", func() float64 { return 0 }, 330 * time.Second, 7},
		// All draws at the top: 275 s of retries, the wait, 275 s more.
		{"best case: every jitter draw is the full backoff", func() float64 { return 1 }, 880 * time.Second, 7},
	}
	m := loadLoaderDefinition(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			fn := &fakeLambda{script: []outcome{{err: loaderErr("Snowflake.Transient")}}}
			var starts []time.Time
			timed := func(ctx context.Context, payload []byte) ([]byte, error) {
				starts = append(starts, clock.Now())
				return fn.handler(ctx, payload)
			}
			b := asl.Bindings{Lambda: map[string]asl.LambdaFunc{loaderARN: timed}, SQSSend: (&fakeSQS{}).send, Rand: tc.rand}
			exec, err := m.Run(context.Background(), b, clock, execName, loaderInput(t, true))
			require.NoError(t, err)
			assert.Equal(t, "Snowflake.Transient", exec.Error)
			require.Len(t, starts, 14, "two rounds of one attempt and six retries")

			first := starts[0]
			assert.Equal(t, tc.wantLast, starts[len(starts)-1].Sub(first))
			var after int
			for _, s := range starts {
				if s.Sub(first) > abortWindow {
					after++
				}
			}
			assert.Equal(t, tc.wantAfter, after, "attempts that start once Snowflake has aborted a detached transaction")
			assert.Greater(t, starts[7].Sub(first), abortWindow, "the second round starts after the window, whatever the jitter")
		})
	}
}

// TestLoaderRetryStatesAgree checks that the task run after the abort window is the same
// invocation as LoadBatch with the same retriers, and that it cannot wait again.
func TestLoaderRetryStatesAgree(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "statemachine", "loader.asl.json"))
	require.NoError(t, err)
	var def struct {
		States map[string]map[string]any
	}
	require.NoError(t, json.Unmarshal(data, &def))
	first, second := def.States["LoadBatch"], def.States["LoadBatchAfterAbortWindow"]
	require.NotNil(t, first)
	require.NotNil(t, second)
	for _, field := range []string{"Type", "Resource", "Parameters", "TimeoutSeconds", "ResultSelector", "ResultPath", "Retry", "Next"} {
		assert.Equal(t, first[field], second[field], field)
	}
	assert.Equal(t, []any{map[string]any{"ErrorEquals": []any{"States.ALL"}, "ResultPath": "$.error", "Next": "CheckErrorCause"}}, second["Catch"])

	wait := def.States["WaitOutAbortWindow"]
	require.NotNil(t, wait)
	assert.Equal(t, "Wait", wait["Type"])
	assert.Greater(t, wait["Seconds"], 300.0, "longer than Snowflake's 5-minute abort window")
	assert.Contains(t, wait["Comment"], fmt.Sprintf("%v s", wait["Seconds"]), "the comment states the worst case")
}
