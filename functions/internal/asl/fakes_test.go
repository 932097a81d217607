package asl_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
)

// fakeClock advances only when slept on, so retry delays and waits cost nothing. With
// expireTimeouts set, every Task TimeoutSeconds has already run out when the task starts.
type fakeClock struct {
	mu             sync.Mutex
	now            time.Time
	slept          []time.Duration
	expireTimeouts bool
}

var _ asl.DeadlineClock = (*fakeClock)(nil)

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *fakeClock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if c.expireTimeouts {
		return context.WithDeadline(ctx, time.Unix(0, 0))
	}
	return context.WithCancel(ctx)
}

// outcome is one scripted answer of a fake function.
type outcome struct {
	out   string
	err   error
	panic any
}

// fakeLambda answers invocations from a script; the last outcome repeats.
type fakeLambda struct {
	mu       sync.Mutex
	script   []outcome
	payloads []string
	arns     []string
}

func (l *fakeLambda) handler(ctx context.Context, payload []byte) ([]byte, error) {
	l.mu.Lock()
	l.payloads = append(l.payloads, string(payload))
	if lc, ok := lambdaContextARN(ctx); ok {
		l.arns = append(l.arns, lc)
	}
	o := l.script[min(len(l.payloads), len(l.script))-1]
	l.mu.Unlock()
	if o.panic != nil {
		panic(o.panic)
	}
	if o.err != nil {
		return nil, o.err
	}
	return []byte(o.out), nil
}

func (l *fakeLambda) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.payloads...)
}

// sentMessage is one message a fake queue was asked to send.
type sentMessage struct {
	queueURL, body string
	attrs          map[string]string
}

// fakeSQS records sends and fails them from a script of errors; the last entry repeats and
// an empty script means every send succeeds.
type fakeSQS struct {
	mu       sync.Mutex
	errs     []error
	attempts int
	sent     []sentMessage
}

func (q *fakeSQS) send(_ context.Context, queueURL, body string, attrs map[string]string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.attempts++
	if len(q.errs) > 0 {
		if err := q.errs[min(q.attempts, len(q.errs))-1]; err != nil {
			return err
		}
	}
	q.sent = append(q.sent, sentMessage{queueURL: queueURL, body: body, attrs: attrs})
	return nil
}

// half is a Rand that always returns 0.5, which makes FULL jitter exactly half the backoff.
func half() float64 { return 0.5 }

func seconds(s ...float64) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, v := range s {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out
}

func mustLoad(t *testing.T, definition string, subs map[string]string) *asl.Machine {
	t.Helper()
	m, err := asl.Load([]byte(definition), subs)
	require.NoError(t, err)
	return m
}

func lambdaContextARN(ctx context.Context) (string, bool) {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return "", false
	}
	return lc.InvokedFunctionArn, true
}
