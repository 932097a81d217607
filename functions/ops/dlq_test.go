package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	dlqARN    = "arn:aws:sqs:us-east-1:123456789012:loader-dlq"
	ingestARN = "arn:aws:sqs:us-east-1:123456789012:loader-ingest"
)

func moveTask(status string, moved, total int) map[string]any {
	return map[string]any{
		"Status": status, "SourceArn": dlqARN, "DestinationArn": ingestARN,
		"ApproximateNumberOfMessagesMoved": moved, "ApproximateNumberOfMessagesToMove": total,
		"StartedTimestamp": 1700000000000,
	}
}

func TestDLQRedrive(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		start      func(map[string]any) (int, any)
		tasks      []any
		wantCode   int
		wantStart  map[string]any
		wantLists  int
		wantStdout string
		wantStderr []string
	}{
		{
			name:  "completes",
			args:  []string{"-destination-arn", ingestARN, "-rate", "10"},
			start: ok(map[string]any{"TaskHandle": "h-1"}),
			tasks: []any{
				map[string]any{"Results": []any{moveTask("RUNNING", 2, 5)}},
				map[string]any{"Results": []any{moveTask("COMPLETED", 5, 5)}},
			},
			wantStart:  map[string]any{"SourceArn": dlqARN, "DestinationArn": ingestARN, "MaxNumberOfMessagesPerSecond": float64(10)},
			wantLists:  2,
			wantStdout: "moved 5 messages from " + dlqARN + " to " + ingestARN,
			wantStderr: []string{"started move task h-1", "RUNNING: moved 2/5", "COMPLETED: moved 5/5"},
		},
		{
			name:  "no destination or rate leaves both to SQS",
			start: ok(map[string]any{"TaskHandle": "h-2"}),
			tasks: []any{
				map[string]any{"Results": []any{map[string]any{"Status": "COMPLETED", "SourceArn": dlqARN, "ApproximateNumberOfMessagesMoved": 3}}},
			},
			wantStart:  map[string]any{"SourceArn": dlqARN},
			wantLists:  1,
			wantStdout: "moved 3 messages from " + dlqARN + " to their source queues",
			wantStderr: []string{"COMPLETED: moved 3"},
		},
		{
			name:  "task fails",
			args:  []string{"-destination-arn", ingestARN},
			start: ok(map[string]any{"TaskHandle": "h-3"}),
			tasks: []any{
				map[string]any{"Results": []any{func() map[string]any {
					m := moveTask("FAILED", 1, 5)
					m["FailureReason"] = "AWS.SimpleQueueService.NonExistentQueue"
					return m
				}()}},
			},
			wantCode:   1,
			wantStart:  map[string]any{"SourceArn": dlqARN, "DestinationArn": ingestARN},
			wantLists:  1,
			wantStderr: []string{"move task FAILED after 1 messages: AWS.SimpleQueueService.NonExistentQueue"},
		},
		{
			name: "start refused",
			start: func(map[string]any) (int, any) {
				return http.StatusBadRequest, awsError("com.amazonaws.sqs#UnsupportedOperation", "a move task is already running")
			},
			wantCode:   1,
			wantStart:  map[string]any{"SourceArn": dlqARN},
			wantStderr: []string{"start moving messages from " + dlqARN, "a move task is already running"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handlers := map[string]func(map[string]any) (int, any){"StartMessageMoveTask": tt.start}
			if tt.tasks != nil {
				handlers["ListMessageMoveTasks"] = sequence(tt.tasks...)
			}
			sqs := newFakeAWS(t, "AmazonSQS.", handlers)
			awsEnv(t, map[string]string{"AWS_ENDPOINT_URL_SQS": sqs.URL})

			args := append([]string{"dlq-redrive", "-source-arn", dlqARN, "-interval", "1ms"}, tt.args...)
			res := runOps(t, args...)
			require.Equal(t, tt.wantCode, res.code, "stderr: %s", res.stderr)

			starts := sqs.bodies("StartMessageMoveTask")
			require.Len(t, starts, 1)
			assert.Equal(t, tt.wantStart, starts[0])
			lists := sqs.bodies("ListMessageMoveTasks")
			assert.Len(t, lists, tt.wantLists)
			for _, l := range lists {
				assert.Equal(t, map[string]any{"SourceArn": dlqARN, "MaxResults": float64(1)}, l)
			}
			assert.Contains(t, res.stdout, tt.wantStdout)
			for _, s := range tt.wantStderr {
				assert.Contains(t, res.stderr, s)
			}
		})
	}
}
