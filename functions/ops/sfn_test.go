package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const machineARN = "arn:aws:states:us-east-1:123456789012:stateMachine:loader"

func execARN(name string) string {
	return "arn:aws:states:us-east-1:123456789012:execution:loader:" + name
}

// execFixture is one finished execution of the loader state machine.
type execFixture struct {
	name, status      string
	startedAgo        time.Duration
	errName, cause    string
	files             int
	redrive, reason   string
	history           [][]map[string]any // pages, newest event first
	historyNextTokens []string
}

// fixtures holds one execution for each way a load ends badly.
func fixtures(now time.Time) []execFixture {
	entered := func(typ, name string) map[string]any {
		return map[string]any{"type": typ, "id": 1, "timestamp": now.Unix(), "stateEnteredEventDetails": map[string]any{"name": name}}
	}
	event := func(typ string) map[string]any {
		return map[string]any{"type": typ, "id": 2, "timestamp": now.Unix()}
	}
	return []execFixture{
		{
			name: "batch-dead-lettered", status: "FAILED", startedAgo: time.Hour, files: 2,
			errName: "Snowflake.Auth", cause: "250001 (08001): Failed to connect to DB.\nUnable to find an associated Snowflake user",
			redrive: "REDRIVABLE",
			history: [][]map[string]any{{event("ExecutionFailed"), entered("FailStateEntered", "LoadFailed"), event("TaskSucceeded")}},
		},
		{
			name: "batch-not-dead-lettered", status: "FAILED", startedAgo: 2 * time.Hour, files: 1,
			errName: "DeadLetter.SendFailed", cause: "The batch is NOT in the dead-letter queue",
			redrive: "REDRIVABLE",
			history: [][]map[string]any{{event("ExecutionFailed"), entered("FailStateEntered", "DeadLetterFailed")}},
		},
		{
			name: "batch-timed-out", status: "TIMED_OUT", startedAgo: 3 * time.Hour, files: 3,
			redrive: "REDRIVABLE",
			// Retries push the state's entry to a second page of history.
			history:           [][]map[string]any{{event("ExecutionTimedOut"), event("TaskFailed"), event("TaskScheduled")}, {entered("TaskStateEntered", "LoadBatch")}},
			historyNextTokens: []string{"h2"},
		},
		{
			name: "batch-too-old", status: "FAILED", startedAgo: 4 * time.Hour, files: 1,
			errName: "States.Runtime", cause: "An error occurred while executing the state 'SendToDLQ'",
			redrive: "NOT_REDRIVABLE", reason: "Execution redrivable period exceeded.",
			history: [][]map[string]any{{event("ExecutionFailed"), entered("TaskStateEntered", "SendToDLQ")}},
		},
		{
			name: "batch-before-window", status: "FAILED", startedAgo: 48 * time.Hour, files: 1,
			errName: "Snowflake.Auth", redrive: "REDRIVABLE",
			history: [][]map[string]any{{event("ExecutionFailed"), entered("FailStateEntered", "LoadFailed")}},
		},
	}
}

// newStepFunctions serves the fixtures. FAILED executions come in two pages, as the real
// service pages them. refuse names executions whose redrive fails.
func newStepFunctions(t *testing.T, refuse ...string) *fakeAWS {
	now := time.Now()
	execs := fixtures(now)
	byARN := map[string]execFixture{}
	for _, e := range execs {
		byARN[execARN(e.name)] = e
	}
	item := func(e execFixture) map[string]any {
		start := now.Add(-e.startedAgo)
		return map[string]any{
			"executionArn": execARN(e.name), "stateMachineArn": machineARN, "name": e.name, "status": e.status,
			"startDate": float64(start.Unix()), "stopDate": float64(start.Add(time.Minute).Unix()), "redriveCount": 0,
		}
	}
	return newFakeAWS(t, "AWSStepFunctions.", map[string]func(map[string]any) (int, any){
		"ListExecutions": func(body map[string]any) (int, any) {
			var items []any
			for _, e := range execs {
				if e.status == body["statusFilter"] {
					items = append(items, item(e))
				}
			}
			if body["statusFilter"] == "FAILED" {
				if body["nextToken"] == nil {
					return http.StatusOK, map[string]any{"executions": items[:1], "nextToken": "p2"}
				}
				return http.StatusOK, map[string]any{"executions": items[1:]}
			}
			return http.StatusOK, map[string]any{"executions": items}
		},
		"DescribeExecution": func(body map[string]any) (int, any) {
			e := byARN[body["executionArn"].(string)]
			files := make([]any, e.files)
			for i := range files {
				files[i] = map[string]any{"bucket": "b", "key": "incoming/f.json"}
			}
			resp := map[string]any{
				"executionArn": execARN(e.name), "stateMachineArn": machineARN, "name": e.name, "status": e.status,
				"startDate":     float64(now.Add(-e.startedAgo).Unix()),
				"input":         mustJSON(t, map[string]any{"version": 1, "files": files}),
				"redriveStatus": e.redrive, "redriveCount": 0,
			}
			if e.errName != "" {
				resp["error"], resp["cause"] = e.errName, e.cause
			}
			if e.reason != "" {
				resp["redriveStatusReason"] = e.reason
			}
			return http.StatusOK, resp
		},
		"GetExecutionHistory": func(body map[string]any) (int, any) {
			e := byARN[body["executionArn"].(string)]
			page := 0
			if tok, ok := body["nextToken"].(string); ok {
				for i, tk := range e.historyNextTokens {
					if tk == tok {
						page = i + 1
					}
				}
			}
			resp := map[string]any{"events": e.history[page]}
			if page < len(e.historyNextTokens) {
				resp["nextToken"] = e.historyNextTokens[page]
			}
			return http.StatusOK, resp
		},
		"RedriveExecution": func(body map[string]any) (int, any) {
			for _, name := range refuse {
				if body["executionArn"] == execARN(name) {
					return http.StatusBadRequest, awsError("ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven")
				}
			}
			return http.StatusOK, map[string]any{"redriveDate": float64(now.Unix())}
		},
	})
}

func TestSFNFailed(t *testing.T) {
	sfn := newStepFunctions(t)
	awsEnv(t, map[string]string{"AWS_ENDPOINT_URL_SFN": sfn.URL})

	res := runOps(t, "sfn-failed", "-state-machine", machineARN, "-since", "24h")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)

	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, 5, res.stdout)
	assert.Regexp(t, `^STOPPED \(UTC\)\s+EXECUTION\s+STATUS\s+FILES\s+FAILED IN\s+ERROR\s+CAUSE$`, lines[0])
	assert.Regexp(t, `batch-dead-lettered\s+FAILED\s+2\s+LoadFailed\s+Snowflake.Auth\s+250001 \(08001\): Failed to connect to DB. Unable to find`, lines[1], "causes are flattened to one line")
	assert.Regexp(t, `batch-not-dead-lettered\s+FAILED\s+1\s+DeadLetterFailed\s+DeadLetter.SendFailed`, lines[2])
	assert.Regexp(t, `batch-too-old\s+FAILED\s+1\s+SendToDLQ\s+States.Runtime`, lines[3])
	assert.Regexp(t, `^3 FAILED executions started since `, lines[4])
	assert.NotContains(t, res.stdout, "batch-before-window", "outside -since")
	assert.NotContains(t, res.stdout, "batch-timed-out", "not FAILED")

	lists := sfn.bodies("ListExecutions")
	require.Len(t, lists, 2, "the second page is read")
	assert.Equal(t, map[string]any{"stateMachineArn": machineARN, "statusFilter": "FAILED", "maxResults": float64(50)}, lists[0])
	assert.Equal(t, "p2", lists[1]["nextToken"])
	for _, h := range sfn.bodies("GetExecutionHistory") {
		assert.Equal(t, true, h["reverseOrder"], "newest events first")
		assert.Equal(t, false, h["includeExecutionData"])
	}
	assert.NotContains(t, sfn.ops(), "RedriveExecution")
}

func TestSFNFailedNone(t *testing.T) {
	sfn := newFakeAWS(t, "AWSStepFunctions.", map[string]func(map[string]any) (int, any){
		"ListExecutions": ok(map[string]any{"executions": []any{}}),
	})
	awsEnv(t, map[string]string{"AWS_ENDPOINT_URL_SFN": sfn.URL})
	res := runOps(t, "sfn-failed", "-state-machine", machineARN)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "no FAILED executions started since")
}

func TestSFNRedrive(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		refuse       []string
		wantCode     int
		wantRedrives []string
		wantLines    []string
	}{
		{
			name:         "redrives only what a redrive can finish",
			wantRedrives: []string{"batch-timed-out"},
			wantLines: []string{
				"skip      batch-dead-lettered: ended in Fail state LoadFailed with Snowflake.Auth; its batch is in the dead-letter queue, use dlq-redrive",
				"skip      batch-not-dead-lettered: ended in Fail state DeadLetterFailed; its batch is NOT in the dead-letter queue",
				"redriven  batch-timed-out: failed in LoadBatch with (TIMED_OUT)",
				"skip      batch-too-old: Step Functions cannot redrive it: Execution redrivable period exceeded.",
				"redriven 1, skipped 3, errors 0 (of 4 FAILED/TIMED_OUT/ABORTED executions)",
			},
		},
		{
			name: "dry run changes nothing",
			args: []string{"-dry-run"},
			wantLines: []string{
				"would     batch-timed-out: failed in LoadBatch with (TIMED_OUT)",
				"would redrive 1, skipped 3, errors 0",
			},
		},
		{
			name:         "a refused redrive is reported and fails the command",
			args:         []string{"-status", "TIMED_OUT"},
			refuse:       []string{"batch-timed-out"},
			wantCode:     1,
			wantRedrives: []string{"batch-timed-out"},
			wantLines: []string{
				"error     batch-timed-out:",
				"redriven 0, skipped 0, errors 1 (of 1 TIMED_OUT executions)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sfn := newStepFunctions(t, tt.refuse...)
			awsEnv(t, map[string]string{"AWS_ENDPOINT_URL_SFN": sfn.URL})

			args := append([]string{"sfn-redrive", "-state-machine", machineARN}, tt.args...)
			res := runOps(t, args...)
			require.Equal(t, tt.wantCode, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
			for _, l := range tt.wantLines {
				assert.Contains(t, res.stdout, l)
			}
			var redriven []string
			for _, b := range sfn.bodies("RedriveExecution") {
				arn := b["executionArn"].(string)
				redriven = append(redriven, arn[strings.LastIndex(arn, ":")+1:])
				assert.Len(t, b["clientToken"], 64)
			}
			assert.Equal(t, tt.wantRedrives, redriven)
		})
	}
}

func TestSFNRedriveIsIdempotentPerAttempt(t *testing.T) {
	sfn := newStepFunctions(t)
	awsEnv(t, map[string]string{"AWS_ENDPOINT_URL_SFN": sfn.URL})
	for range 2 {
		res := runOps(t, "sfn-redrive", "-state-machine", machineARN, "-status", "TIMED_OUT")
		require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	}
	redrives := sfn.bodies("RedriveExecution")
	require.Len(t, redrives, 2)
	assert.Equal(t, redrives[0]["clientToken"], redrives[1]["clientToken"],
		"a second run sends the same token, so Step Functions redrives the execution once")
}
