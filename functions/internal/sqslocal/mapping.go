package sqslocal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Limits and defaults of Lambda's SQS event source mapping and of Lambda functions.
const (
	DefaultBatchSize       = 10
	MaxBatchSize           = 10000
	MaxBatchingWindow      = 5 * time.Minute
	DefaultMaxConcurrency  = 2
	MinMaxConcurrency      = 2
	MaxMaxConcurrency      = 1000
	DefaultFunctionTimeout = 3 * time.Second
	MaxFunctionTimeout     = 15 * time.Minute
	// MaxPayload is the largest synchronous invocation payload; a batch stops growing there.
	MaxPayload = 6 << 20
	// longPoll is how long a poller waits in one ReceiveMessage call when the queue is empty.
	longPoll = 20 * time.Second
)

// Handler is a Lambda handler for SQS events, as lambda.Start would call it.
type Handler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// MappingConfig is an SQS event source mapping's configuration. Zero values take Lambda's
// defaults.
type MappingConfig struct {
	BatchSize int
	// BatchingWindow is MaximumBatchingWindowInSeconds: how long a poller gathers messages
	// before invoking with a batch smaller than BatchSize.
	BatchingWindow          time.Duration
	ReportBatchItemFailures bool
	// MaxConcurrency is the scaling config's MaximumConcurrency: at most this many
	// invocations run at once.
	MaxConcurrency  int
	FunctionTimeout time.Duration
	// FunctionName names the function in the invocation's lambdacontext; "function" if empty.
	FunctionName string
}

func (c MappingConfig) withDefaults() MappingConfig {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.FunctionTimeout == 0 {
		c.FunctionTimeout = DefaultFunctionTimeout
	}
	if c.FunctionName == "" {
		c.FunctionName = "function"
	}
	return c
}

// Validate reports a configuration CreateEventSourceMapping or CreateFunction would refuse.
func (c MappingConfig) Validate() error {
	c = c.withDefaults()
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("sqslocal: event source mapping: %w: "+format, append([]any{ErrInvalidParameterValue}, args...)...)
	}
	switch {
	case c.BatchSize < 1 || c.BatchSize > MaxBatchSize:
		return invalid("batch size %d is outside 1 to %d", c.BatchSize, MaxBatchSize)
	case c.BatchingWindow < 0 || c.BatchingWindow > MaxBatchingWindow || c.BatchingWindow%time.Second != 0:
		return invalid("batching window %s is not whole seconds from 0s to 5m", c.BatchingWindow)
	case c.BatchSize > MaxReceiveBatch && c.BatchingWindow < time.Second:
		return invalid("batch size %d needs a batching window of at least 1s", c.BatchSize)
	case c.MaxConcurrency < MinMaxConcurrency || c.MaxConcurrency > MaxMaxConcurrency:
		return invalid("maximum concurrency %d is outside %d to %d", c.MaxConcurrency, MinMaxConcurrency, MaxMaxConcurrency)
	case c.FunctionTimeout < time.Second || c.FunctionTimeout > MaxFunctionTimeout || c.FunctionTimeout%time.Second != 0:
		return invalid("function timeout %s is not whole seconds from 1s to 15m", c.FunctionTimeout)
	}
	return nil
}

// MappingStats counts what a mapping did. Delivered counts every delivery, redeliveries
// included; Deleted counts messages the mapping actually deleted.
type MappingStats struct {
	Invocations int
	Delivered   int
	Deleted     int
	// Failed counts messages the handler reported in BatchItemFailures.
	Failed int
	// HandlerErrors counts invocations that returned an error, panicked or timed out; their
	// whole batch stays in the queue.
	HandlerErrors int
	// Timeouts counts the invocations among HandlerErrors that ran past FunctionTimeout.
	Timeouts int
	// InvalidResponses counts invocations whose BatchItemFailures named a message outside
	// the batch or an empty id; Lambda fails the whole batch for that.
	InvalidResponses int
	// PeakConcurrency is the most invocations that ran at once.
	PeakConcurrency int
}

// Mapping feeds a queue to a handler the way Lambda's SQS event source mapping does.
type Mapping struct {
	q       *Queue
	h       Handler
	cfg     MappingConfig
	clock   Clock
	running atomic.Bool

	mu     sync.Mutex
	stats  MappingStats
	active int
}

// NewMapping connects a queue to a handler. A nil clock means the queue's clock.
func NewMapping(q *Queue, h Handler, cfg MappingConfig, clock Clock) *Mapping {
	if clock == nil {
		clock = q.clock
	}
	return &Mapping{q: q, h: h, cfg: cfg.withDefaults(), clock: clock}
}

// Stats returns the counts so far.
func (m *Mapping) Stats() MappingStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Run polls the queue and invokes the handler until ctx is done, then waits for the
// invocations under way and returns nil. It fails at once on a configuration Lambda would
// refuse, or when the mapping is already running.
func (m *Mapping) Run(ctx context.Context) error {
	if err := m.validate(); err != nil {
		return err
	}
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("sqslocal: event source mapping is already running")
	}
	defer m.running.Store(false)
	var wg sync.WaitGroup
	// One poller per concurrent invocation: a poller invokes synchronously, so this bounds
	// the invocations in flight by MaxConcurrency.
	for range m.cfg.MaxConcurrency {
		wg.Go(func() { m.poll(ctx) })
	}
	wg.Wait()
	return nil
}

// Drain runs the mapping until the queue holds no message, visible or in flight, and returns
// nil. Messages a failed invocation left behind are retried once their visibility timeout
// expires, so Drain returns only when every message has been deleted, moved to the
// dead-letter queue or expired. It returns ctx's error if ctx ends first.
func (m *Mapping) Drain(ctx context.Context) error {
	if err := m.validate(); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	for {
		// Watch before looking, so a change between the two is not missed.
		changed := m.q.watch()
		if visible, inFlight := m.q.Depth(); visible == 0 && inFlight == 0 {
			stop()
			return <-done
		}
		select {
		case <-changed:
		case err := <-done:
			if err != nil {
				return err
			}
			return ctx.Err()
		}
	}
}

func (m *Mapping) validate() error {
	if err := m.cfg.Validate(); err != nil {
		return err
	}
	// CreateEventSourceMapping refuses a queue that could show a message to a second
	// invocation while the first may still be running.
	if vt := m.q.VisibilityTimeout(); vt < m.cfg.FunctionTimeout {
		return fmt.Errorf("sqslocal: event source mapping for %s: %w: queue visibility timeout %s is less than function timeout %s",
			m.q.Name(), ErrInvalidParameterValue, vt, m.cfg.FunctionTimeout)
	}
	return nil
}

func (m *Mapping) poll(ctx context.Context) {
	for ctx.Err() == nil {
		if batch := m.gather(ctx); len(batch) > 0 {
			m.invoke(ctx, batch)
		}
	}
}

// gather collects one batch. Without a batching window it invokes with whatever the first
// successful receive returned, up to 10 messages. With one, it keeps receiving until the
// batch is full, the payload reaches 6 MB or the window ends. Lambda documents that the next
// window begins as soon as the previous invocation completes, so the window is timed from
// the start of gathering, not from the first message.
func (m *Mapping) gather(ctx context.Context) []Message {
	windowEnd := m.clock.Now().Add(m.cfg.BatchingWindow)
	var batch []Message
	payload := 0
	for {
		wait := longPoll
		if len(batch) > 0 {
			now := m.clock.Now()
			if m.cfg.BatchingWindow == 0 || !now.Before(windowEnd) {
				return batch
			}
			wait = windowEnd.Sub(now)
		}
		got := m.q.receive(ctx, min(MaxReceiveBatch, m.cfg.BatchSize-len(batch)), wait)
		if ctx.Err() != nil {
			// Messages already received come back after their visibility timeout, as they
			// do when a mapping is disabled mid-batch.
			return nil
		}
		for _, msg := range got {
			payload += len(msg.Body)
		}
		batch = append(batch, got...)
		if len(batch) >= m.cfg.BatchSize || payload >= MaxPayload {
			return batch
		}
	}
}
