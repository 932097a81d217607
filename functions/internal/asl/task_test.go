package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
)

const fnARN = "arn:aws:lambda:eu-west-1:123456789012:function:f"

// taskMachine is a Lambda task T with the given Retry and Catch, a Caught state that ends the
// execution with whatever the catcher produced, and Done.
func taskMachine(retry, catch string) string {
	return `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
			"Parameters":{"FunctionName":"` + fnARN + `","Payload":{"in.$":"$","retry.$":"$$.State.RetryCount"}},
			"TimeoutSeconds":30,
			"Retry":` + retry + `,"Catch":` + catch + `,"Next":"Done"},
		"Caught":{"Type":"Pass","End":true},
		"Done":{"Type":"Succeed"}}}`
}

func named(name string) outcome {
	return outcome{err: messages.InvokeResponse_Error{Type: name, Message: "failed: " + name}}
}

func TestRetryAndCatch(t *testing.T) {
	tests := []struct {
		name         string
		retry, catch string
		script       []outcome
		timeout      bool
		wantStatus   string
		wantError    string
		wantAttempts int
		wantDelays   []time.Duration
		wantOutput   string
	}{
		{
			name:  "defaults: three retries, 1 s doubling",
			retry: `[{"ErrorEquals":["E"]}]`, catch: `[]`, script: []outcome{named("E")},
			wantStatus: asl.StatusFailed, wantError: "E", wantAttempts: 4, wantDelays: seconds(1, 2, 4),
		},
		{
			name:  "MaxAttempts 0 never retries",
			retry: `[{"ErrorEquals":["E"],"MaxAttempts":0}]`, catch: `[{"ErrorEquals":["E"],"Next":"Caught"}]`, script: []outcome{named("E")},
			wantStatus: asl.StatusSucceeded, wantAttempts: 1, wantOutput: `{"Error":"E","Cause":"{\"errorMessage\":\"failed: E\",\"errorType\":\"E\"}"}`,
		},
		{
			// The example of the Step Functions developer guide: the fourth error matches the
			// first retrier again, which has used its two attempts, so the catcher takes it.
			name:       "each retrier counts its own attempts and the first match decides",
			retry:      `[{"ErrorEquals":["ErrorA","ErrorB"],"IntervalSeconds":1,"BackoffRate":2.0,"MaxAttempts":2},{"ErrorEquals":["ErrorC"],"IntervalSeconds":5}]`,
			catch:      `[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Caught"}]`,
			script:     []outcome{named("ErrorA"), named("ErrorB"), named("ErrorC"), named("ErrorB"), {out: `"never"`}},
			wantStatus: asl.StatusSucceeded, wantAttempts: 4, wantDelays: seconds(1, 2, 5),
			wantOutput: `{"k":"v","error":{"Error":"ErrorB","Cause":"{\"errorMessage\":\"failed: ErrorB\",\"errorType\":\"ErrorB\"}"}}`,
		},
		{
			name:  "MaxDelaySeconds caps the backoff",
			retry: `[{"ErrorEquals":["E"],"IntervalSeconds":10,"BackoffRate":3,"MaxAttempts":3,"MaxDelaySeconds":25}]`, catch: `[]`,
			script: []outcome{named("E")}, wantStatus: asl.StatusFailed, wantError: "E", wantAttempts: 4, wantDelays: seconds(10, 25, 25),
		},
		{
			name:  "FULL jitter takes a random part of the capped backoff",
			retry: `[{"ErrorEquals":["E"],"IntervalSeconds":10,"BackoffRate":3,"MaxAttempts":3,"MaxDelaySeconds":25,"JitterStrategy":"FULL"}]`, catch: `[]`,
			script: []outcome{named("E")}, wantStatus: asl.StatusFailed, wantError: "E", wantAttempts: 4, wantDelays: seconds(5, 12.5, 12.5),
		},
		{
			name:  "a retrier for other errors does not retry",
			retry: `[{"ErrorEquals":["Other"]}]`, catch: `[]`, script: []outcome{named("E")},
			wantStatus: asl.StatusFailed, wantError: "E", wantAttempts: 1,
		},
		{
			name:  "States.TaskFailed matches a function error",
			retry: `[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":1}]`, catch: `[]`, script: []outcome{named("E"), {out: `{"ok":true}`}},
			wantStatus: asl.StatusSucceeded, wantAttempts: 2, wantDelays: seconds(1),
		},
		{
			name:  "States.TaskFailed does not match States.Timeout",
			retry: `[{"ErrorEquals":["States.TaskFailed"]}]`, catch: `[{"ErrorEquals":["States.TaskFailed"],"Next":"Caught"}]`,
			script: []outcome{{out: `{}`}}, timeout: true,
			wantStatus: asl.StatusFailed, wantError: asl.ErrTimeout, wantAttempts: 1,
		},
		{
			name:  "States.ALL catches States.Timeout, whose cause is empty",
			retry: `[]`, catch: `[{"ErrorEquals":["States.ALL"],"Next":"Caught"}]`, script: []outcome{{out: `{}`}}, timeout: true,
			wantStatus: asl.StatusSucceeded, wantAttempts: 1, wantOutput: `{"Error":"States.Timeout","Cause":""}`,
		},
		{
			name:  "the catcher's ResultPath null keeps the input",
			retry: `[]`, catch: `[{"ErrorEquals":["States.ALL"],"ResultPath":null,"Next":"Caught"}]`, script: []outcome{named("E")},
			wantStatus: asl.StatusSucceeded, wantAttempts: 1, wantOutput: `{"k":"v"}`,
		},
		{
			name:  "success wraps the response as lambda:invoke does",
			retry: `[]`, catch: `[]`, script: []outcome{{out: `{"rows":3}`}},
			wantStatus: asl.StatusSucceeded, wantAttempts: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustLoad(t, taskMachine(tc.retry, tc.catch), nil)
			fn := &fakeLambda{script: tc.script}
			clock := newFakeClock()
			clock.expireTimeouts = tc.timeout
			b := asl.Bindings{Lambda: map[string]asl.LambdaFunc{fnARN: fn.handler}, Rand: half}
			exec, err := m.Run(context.Background(), b, clock, "e", []byte(`{"k":"v"}`))
			require.NoError(t, err)
			assert.Equal(t, tc.wantStatus, exec.Status, exec.Cause)
			assert.Equal(t, tc.wantError, exec.Error)
			assert.Equal(t, tc.wantAttempts, exec.Attempts["T"])
			assert.Equal(t, tc.wantDelays, exec.Delays)
			if tc.wantOutput != "" {
				assert.JSONEq(t, tc.wantOutput, string(exec.Output))
			}
			if tc.timeout {
				return
			}
			calls := fn.calls()
			require.Len(t, calls, tc.wantAttempts)
			for i, payload := range calls {
				assert.JSONEq(t, fmt.Sprintf(`{"in":{"k":"v"},"retry":%d}`, i), payload, "$$.State.RetryCount counts the retries")
			}
		})
	}
}

func TestLambdaInvokeResult(t *testing.T) {
	m := mustLoad(t, taskMachine(`[]`, `[]`), nil)
	fn := &fakeLambda{script: []outcome{{out: `{"rows":3}`}}}
	exec, err := m.Run(context.Background(), asl.Bindings{Lambda: map[string]asl.LambdaFunc{fnARN: fn.handler}}, newFakeClock(), "e", []byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, asl.StatusSucceeded, exec.Status, exec.Cause)
	var out struct {
		ExecutedVersion string
		Payload         map[string]any
		StatusCode      int
		SdkHttpMetadata struct{ HttpStatusCode int }
	}
	require.NoError(t, json.Unmarshal(exec.Output, &out))
	assert.Equal(t, "$LATEST", out.ExecutedVersion)
	assert.Equal(t, map[string]any{"rows": float64(3)}, out.Payload)
	assert.Equal(t, 200, out.StatusCode)
	assert.Equal(t, 200, out.SdkHttpMetadata.HttpStatusCode)
}

func TestStatesRuntimeIsNeverCaught(t *testing.T) {
	def := `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
			"Parameters":{"FunctionName":"` + fnARN + `","Payload.$":"$.missing"},
			"Retry":[{"ErrorEquals":["States.ALL"]}],
			"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true},
		"Caught":{"Type":"Succeed"}}}`
	m := mustLoad(t, def, nil)
	fn := &fakeLambda{script: []outcome{{out: `{}`}}}
	exec, err := m.Run(context.Background(), asl.Bindings{Lambda: map[string]asl.LambdaFunc{fnARN: fn.handler}}, newFakeClock(), "e", []byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, asl.StatusFailed, exec.Status)
	assert.Equal(t, asl.ErrRuntime, exec.Error)
	assert.Contains(t, exec.Cause, "'$.missing'")
	assert.Empty(t, fn.calls())
	assert.Zero(t, exec.Retries)
}

func TestUnknownFunctionIsResourceNotFound(t *testing.T) {
	m := mustLoad(t, taskMachine(`[]`, `[]`), nil)
	exec, err := m.Run(context.Background(), asl.Bindings{}, newFakeClock(), "e", []byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, asl.ErrLambdaNotFound, exec.Error)
}

func TestRealTaskTimeout(t *testing.T) {
	// Without a DeadlineClock the interpreter enforces TimeoutSeconds with a real deadline.
	m := mustLoad(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"Parameters":{"FunctionName":"`+fnARN+`"},"TimeoutSeconds":1,"End":true}}}`, nil)
	block := func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	exec, err := m.Run(context.Background(), asl.Bindings{Lambda: map[string]asl.LambdaFunc{fnARN: block}}, asl.SystemClock{}, "e", []byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, asl.ErrTimeout, exec.Error)
	assert.Equal(t, "TaskTimedOut", exec.History[len(exec.History)-2].Type)
}

func TestAbortedWhenTheContextEnds(t *testing.T) {
	m := mustLoad(t, taskMachine(`[{"ErrorEquals":["E"]}]`, `[]`), nil)
	ctx, cancel := context.WithCancel(context.Background())
	fn := func(context.Context, []byte) ([]byte, error) {
		cancel()
		return nil, errors.New("E")
	}
	exec, err := m.Run(ctx, asl.Bindings{Lambda: map[string]asl.LambdaFunc{fnARN: fn}}, newFakeClock(), "e", []byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, asl.StatusAborted, exec.Status)
	assert.Equal(t, "ExecutionAborted", exec.History[len(exec.History)-1].Type)
}

func TestRunRefusesBadRequests(t *testing.T) {
	m := mustLoad(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, nil)
	tests := []struct {
		name, execName, input string
	}{
		{name: "no name", execName: "", input: `{}`},
		{name: "input that is not JSON", execName: "e", input: `{"a":`},
		{name: "two JSON values", execName: "e", input: `{} {}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Run(context.Background(), asl.Bindings{}, newFakeClock(), tc.execName, []byte(tc.input))
			assert.Error(t, err)
		})
	}
}
