package asl_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
)

// throttleDelays is the throttling retrier's schedule with FULL jitter at 0.5: 15 s doubling,
// capped at 600 s, halved.
func throttleDelays(retries int) []time.Duration {
	out := make([]time.Duration, retries)
	d := 15.0
	for i := range out {
		out[i] = time.Duration(min(d, 600) / 2 * float64(time.Second))
		d *= 2
	}
	return out
}

// TestLoaderDefinitionWaitsOutThrottling checks that a loader refused for its reserved
// concurrency (Lambda.TooManyRequestsException) is retried far longer than other Lambda
// service errors, and that a batch throttled beyond that still reaches the dead-letter queue.
func TestLoaderDefinitionWaitsOutThrottling(t *testing.T) {
	throttled := outcome{err: &asl.ServiceError{Name: "Lambda.TooManyRequestsException", Message: "Rate Exceeded."}}
	tests := []struct {
		name       string
		throttles  int
		wantStatus string
		wantSends  int
	}{
		{name: "throttled 100 times, then loads", throttles: 100, wantStatus: asl.StatusSucceeded},
		{name: "throttled 101 times goes to the dead-letter queue", throttles: 101, wantStatus: asl.StatusFailed, wantSends: 1},
	}
	m := loadLoaderDefinition(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := make([]outcome, 0, tc.throttles+1)
			for range tc.throttles {
				script = append(script, throttled)
			}
			script = append(script, outcome{out: loadResult})
			fn := &fakeLambda{script: script}
			queue := &fakeSQS{}
			b := asl.Bindings{Lambda: map[string]asl.LambdaFunc{loaderARN: fn.handler}, SQSSend: queue.send, Rand: half}

			exec, err := m.Run(context.Background(), b, newFakeClock(), execName, loaderInput(t, true))
			require.NoError(t, err)

			assert.Equal(t, tc.wantStatus, exec.Status)
			assert.Equal(t, throttleDelays(min(tc.throttles, 100)), exec.Delays)
			assert.Equal(t, tc.wantSends, queue.attempts)
			if tc.wantStatus == asl.StatusFailed {
				assert.Equal(t, "Lambda.TooManyRequestsException", exec.Error)
				require.Len(t, queue.sent, 1)
				assert.Equal(t, "Lambda.TooManyRequestsException", queue.sent[0].attrs["ErrorName"])
			}
			var waited time.Duration
			for _, d := range exec.Delays {
				waited += d
			}
			if tc.throttles == 100 {
				// 7.5 + 15 + 30 + 60 + 120 + 240 s, then 94 × 300 s: just under 8 hours.
				assert.Equal(t, 28672500*time.Millisecond, waited)
			}
		})
	}
}
