package sqslocal

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// outcome is how one invocation ended.
type outcome struct {
	resp     events.SQSEventResponse
	err      error
	timedOut bool
}

// invoke calls the handler with one batch and settles the batch from the outcome.
//
// The handler runs in its own goroutine so that the invocation can end at the function
// timeout as Lambda ends it. Lambda would also stop the handler's code there; a goroutine
// cannot be stopped, so a handler that ignores its context keeps running after its
// invocation has failed. The project's handlers honour their context.
func (m *Mapping) invoke(ctx context.Context, batch []Message) {
	m.begin(len(batch))
	defer m.end()

	deadline := m.clock.Now().Add(m.cfg.FunctionTimeout)
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(context.Canceled)
	hctx := lambdacontext.NewContext(deadlineContext{Context: cctx, deadline: deadline}, &lambdacontext.LambdaContext{
		AwsRequestID:       newUUID(),
		InvokedFunctionArn: "arn:aws:lambda:" + Region + ":" + AccountID + ":function:" + m.cfg.FunctionName,
	})
	ev := m.q.Event(batch)

	results := make(chan outcome, 1)
	go func() {
		defer func() {
			// The Lambda Go runtime reports a panic as a failed invocation.
			if r := recover(); r != nil {
				results <- outcome{err: fmt.Errorf("sqslocal: handler panicked: %v", r)}
			}
		}()
		resp, err := m.h(hctx, ev)
		results <- outcome{resp: resp, err: err}
	}()

	var o outcome
	select {
	case o = <-results:
	case <-m.clock.After(m.cfg.FunctionTimeout):
		cancel(context.DeadlineExceeded)
		o = outcome{err: fmt.Errorf("sqslocal: task timed out after %s", m.cfg.FunctionTimeout), timedOut: true}
	}
	m.settle(batch, o)
}

// settle deletes what Lambda deletes after an invocation. A failed invocation deletes
// nothing: its messages reappear when their visibility timeout ends. A successful one deletes
// the whole batch, unless ReportBatchItemFailures is on and the response lists failures:
// then the listed messages stay and the others go. A response naming an empty id or a
// message outside the batch fails the whole batch, as Lambda documents.
func (m *Mapping) settle(batch []Message, o outcome) {
	if o.err != nil {
		m.count(func(s *MappingStats) {
			s.HandlerErrors++
			if o.timedOut {
				s.Timeouts++
			}
		})
		return
	}
	failed := map[string]bool{}
	if m.cfg.ReportBatchItemFailures {
		inBatch := make(map[string]bool, len(batch))
		for _, msg := range batch {
			inBatch[msg.ID] = true
		}
		for _, f := range o.resp.BatchItemFailures {
			if !inBatch[f.ItemIdentifier] {
				m.count(func(s *MappingStats) { s.InvalidResponses++ })
				return
			}
			failed[f.ItemIdentifier] = true
		}
	}
	deleted := 0
	for _, msg := range batch {
		if failed[msg.ID] {
			continue
		}
		// An error here means a receipt handle this queue did not issue, which the mapping
		// never holds; a stale handle deletes nothing and is not counted.
		if ok, err := m.q.delete(msg.ReceiptHandle); err == nil && ok {
			deleted++
		}
	}
	m.count(func(s *MappingStats) {
		s.Deleted += deleted
		s.Failed += len(failed)
	})
}

func (m *Mapping) begin(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.active++
	m.stats.Invocations++
	m.stats.Delivered += n
	m.stats.PeakConcurrency = max(m.stats.PeakConcurrency, m.active)
}

func (m *Mapping) end() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.active--
}

func (m *Mapping) count(f func(*MappingStats)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.stats)
}

// deadlineContext carries the function deadline. The mapping's clock, not the system clock,
// cancels it, so a fake clock drives function timeouts as it drives everything else; Deadline
// and Err answer as a context.WithDeadline context would.
type deadlineContext struct {
	context.Context
	deadline time.Time
}

func (c deadlineContext) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c deadlineContext) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return err
}
