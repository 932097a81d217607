package sqslocal_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
)

// invocation is what a test handler saw in one call.
type invocation struct {
	at     time.Duration // since epoch
	bodies []string
	counts []string // ApproximateReceiveCount of each record
}

// recorder keeps the invocations of a test handler.
type recorder struct {
	clock *sqslocal.FakeClock
	mu    sync.Mutex
	calls []invocation
}

func (r *recorder) record(ev events.SQSEvent) {
	inv := invocation{at: r.clock.Now().Sub(epoch)}
	for _, rec := range ev.Records {
		inv.bodies = append(inv.bodies, rec.Body)
		inv.counts = append(inv.counts, rec.Attributes["ApproximateReceiveCount"])
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, inv)
}

func (r *recorder) invocations() []invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// drain runs m.Drain, moving the clock on by a second whenever every goroutine waits on it,
// and returns what Drain returned.
func drain(t *testing.T, m *sqslocal.Mapping, clock *sqslocal.FakeClock) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Drain(ctx) }()
	for range 1000 {
		synctest.Wait()
		select {
		case err := <-done:
			return err
		default:
		}
		clock.Advance(time.Second)
	}
	cancel()
	<-done
	t.Fatal("Drain did not return within 1000 simulated seconds")
	return nil
}

func succeed(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	return events.SQSEventResponse{}, nil
}

func TestMappingBatching(t *testing.T) {
	type batch struct {
		size int
		at   time.Duration
	}
	tests := []struct {
		name string
		cfg  sqslocal.MappingConfig
		send int
		// want lists every schedule Lambda may produce: the mapping's two pollers receive
		// in whatever order they are scheduled, so some configurations have more than one.
		want [][]batch
	}{
		{
			name: "without a window each invocation gets one receive",
			cfg:  sqslocal.MappingConfig{BatchSize: 10},
			send: 25,
			want: [][]batch{{{5, 0}, {10, 0}, {10, 0}}},
		},
		{
			name: "full batches go at once, the rest when the window ends",
			cfg:  sqslocal.MappingConfig{BatchSize: 4, BatchingWindow: 5 * time.Second},
			send: 10,
			want: [][]batch{{{4, 0}, {4, 0}, {2, 5 * time.Second}}},
		},
		{
			name: "a batch above ten gathers several receives",
			cfg:  sqslocal.MappingConfig{BatchSize: 20, BatchingWindow: 10 * time.Second},
			send: 40,
			// Either each poller fills its batch from two receives, or one poller fills a
			// batch, both take the last ten messages between them, and each invokes with
			// ten when its window ends.
			want: [][]batch{
				{{20, 0}, {20, 0}},
				{{20, 0}, {10, 10 * time.Second}, {10, 10 * time.Second}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clock := sqslocal.NewFakeClock(epoch)
				q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
				for range tt.send {
					q.Send("{}", nil)
				}
				rec := &recorder{clock: clock}
				m := sqslocal.NewMapping(q, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
					rec.record(ev)
					return events.SQSEventResponse{}, nil
				}, tt.cfg, clock)

				require.NoError(t, drain(t, m, clock))

				var got []batch
				for _, inv := range rec.invocations() {
					got = append(got, batch{len(inv.bodies), inv.at})
				}
				slices.SortFunc(got, func(a, b batch) int {
					if a.at != b.at {
						return int(a.at - b.at)
					}
					return a.size - b.size
				})
				assert.Contains(t, tt.want, got)
			})
		})
	}
}

func TestMappingRedeliversAfterVisibilityTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := sqslocal.NewFakeClock(epoch)
		q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
		q.Send("flaky", nil)
		rec := &recorder{clock: clock}
		m := sqslocal.NewMapping(q, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			rec.record(ev)
			if ev.Records[0].Attributes["ApproximateReceiveCount"] != "3" {
				return events.SQSEventResponse{}, errors.New("not yet")
			}
			return events.SQSEventResponse{}, nil
		}, sqslocal.MappingConfig{}, clock)

		require.NoError(t, drain(t, m, clock))

		assert.Equal(t, []invocation{
			{at: 0, bodies: []string{"flaky"}, counts: []string{"1"}},
			{at: 30 * time.Second, bodies: []string{"flaky"}, counts: []string{"2"}},
			{at: 60 * time.Second, bodies: []string{"flaky"}, counts: []string{"3"}},
		}, rec.invocations())
		assert.Equal(t, sqslocal.MappingStats{Invocations: 3, Delivered: 3, Deleted: 1, HandlerErrors: 2, PeakConcurrency: 1}, m.Stats())
	})
}

func TestMappingDeadLettersThenProcessesRedrivenMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := sqslocal.NewFakeClock(epoch)
		src, dlq := deadLetterPair(clock, 2)
		src.Send("poison", map[string]string{"kind": "bad"})
		rec := &recorder{clock: clock}
		var failing atomic.Bool
		failing.Store(true)
		m := sqslocal.NewMapping(src, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			rec.record(ev)
			if failing.Load() {
				return events.SQSEventResponse{}, errors.New("cannot handle it")
			}
			return events.SQSEventResponse{}, nil
		}, sqslocal.MappingConfig{}, clock)

		require.NoError(t, drain(t, m, clock))
		dead := dlq.Messages()
		require.Len(t, dead, 1)
		assert.Equal(t, src.ARN(), dead[0].Attributes["DeadLetterQueueSourceArn"])
		assert.Equal(t, "2", dead[0].Attributes["ApproximateReceiveCount"])

		failing.Store(false)
		moved, err := dlq.Redrive(context.Background(), nil, 0)
		require.NoError(t, err)
		require.Equal(t, 1, moved)
		require.NoError(t, drain(t, m, clock))

		assert.Equal(t, []invocation{
			{at: 0, bodies: []string{"poison"}, counts: []string{"1"}},
			{at: 30 * time.Second, bodies: []string{"poison"}, counts: []string{"2"}},
			{at: 60 * time.Second, bodies: []string{"poison"}, counts: []string{"1"}},
		}, rec.invocations())
		assert.Empty(t, src.Messages())
		assert.Empty(t, dlq.Messages())
		assert.Equal(t, sqslocal.MappingStats{Invocations: 3, Delivered: 3, Deleted: 1, HandlerErrors: 2, PeakConcurrency: 1}, m.Stats())
	})
}

func TestMappingKeepsToMaxConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := sqslocal.NewFakeClock(epoch)
		q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
		for range 10 {
			q.Send("{}", nil)
		}
		release := make(chan struct{})
		var mu sync.Mutex
		running, peak := 0, 0
		m := sqslocal.NewMapping(q, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			defer func() {
				mu.Lock()
				running--
				mu.Unlock()
			}()
			select {
			case <-release:
				return events.SQSEventResponse{}, nil
			case <-ctx.Done():
				return events.SQSEventResponse{}, ctx.Err()
			}
		}, sqslocal.MappingConfig{BatchSize: 1, MaxConcurrency: 3}, clock)

		done := make(chan error, 1)
		go func() { done <- m.Drain(context.Background()) }()
		synctest.Wait()
		mu.Lock()
		assert.Equal(t, 3, running, "three invocations wait for release, no more")
		mu.Unlock()

		close(release)
		require.NoError(t, <-done)
		assert.Equal(t, 3, peak)
		assert.Equal(t, sqslocal.MappingStats{Invocations: 10, Delivered: 10, Deleted: 10, PeakConcurrency: 3}, m.Stats())
	})
}

func TestDrain(t *testing.T) {
	t.Run("an empty queue returns at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, sqslocal.NewFakeClock(epoch))
			m := sqslocal.NewMapping(q, succeed, sqslocal.MappingConfig{}, nil)
			assert.NoError(t, m.Drain(context.Background()))
			assert.Zero(t, m.Stats().Invocations)
		})
	})
	t.Run("with the system clock a batch that succeeds drains without waiting", func(t *testing.T) {
		q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, nil)
		for range 3 {
			q.Send("{}", nil)
		}
		m := sqslocal.NewMapping(q, succeed, sqslocal.MappingConfig{}, nil)
		require.NoError(t, m.Drain(context.Background()))
		assert.Equal(t, 3, m.Stats().Deleted)
	})
	t.Run("a message that always fails without a dead-letter queue runs until ctx ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clock := sqslocal.NewFakeClock(epoch)
			q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
			q.Send("poison", nil)
			m := sqslocal.NewMapping(q, func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{}, errors.New("cannot handle it")
			}, sqslocal.MappingConfig{}, clock)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Drain(ctx) }()
			for range 95 {
				synctest.Wait()
				clock.Advance(time.Second)
			}
			synctest.Wait()
			cancel()
			assert.ErrorIs(t, <-done, context.Canceled)
			assert.Equal(t, 4, m.Stats().Invocations, "received at 0s, 30s, 60s and 90s")
		})
	})
}

func TestMappingRefusesConfigLambdaRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  sqslocal.MappingConfig
	}{
		{name: "batch size above 10000", cfg: sqslocal.MappingConfig{BatchSize: 10001, BatchingWindow: time.Second}},
		{name: "batch size above ten without a window", cfg: sqslocal.MappingConfig{BatchSize: 11}},
		{name: "window above five minutes", cfg: sqslocal.MappingConfig{BatchingWindow: 301 * time.Second}},
		{name: "window in fractions of a second", cfg: sqslocal.MappingConfig{BatchingWindow: 1500 * time.Millisecond}},
		{name: "maximum concurrency of one", cfg: sqslocal.MappingConfig{MaxConcurrency: 1}},
		{name: "function timeout above 15 minutes", cfg: sqslocal.MappingConfig{FunctionTimeout: 16 * time.Minute}},
		{name: "function timeout longer than the visibility timeout", cfg: sqslocal.MappingConfig{FunctionTimeout: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, nil)
			m := sqslocal.NewMapping(q, succeed, tt.cfg, nil)
			err := m.Run(context.Background())
			assert.ErrorIs(t, err, sqslocal.ErrInvalidParameterValue)
			assert.ErrorIs(t, m.Drain(context.Background()), sqslocal.ErrInvalidParameterValue)
			if strings.Contains(tt.name, "visibility") {
				assert.NoError(t, tt.cfg.Validate(), "the mapping alone is valid; the queue is not")
			}
		})
	}
}
