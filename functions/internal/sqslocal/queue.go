// Package sqslocal gives SQS queues and Lambda's SQS event source mapping in process, for tests and local runs; Lambda builds never link it.
package sqslocal

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Region, AccountID and SenderID are what local queues report in URLs, ARNs, events and the
// SenderId attribute.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
	SenderID  = "AIDAQLOCALSQSSENDER00"
)

// Limits and defaults of SQS standard queues.
const (
	DefaultVisibilityTimeout = 30 * time.Second
	MaxVisibilityTimeout     = 12 * time.Hour
	DefaultRetention         = 4 * 24 * time.Hour
	MinRetention             = time.Minute
	MaxRetention             = 14 * 24 * time.Hour
	MaxReceiveCountLimit     = 1000
	// MaxReceiveBatch is the most messages one ReceiveMessage call returns.
	MaxReceiveBatch = 10
)

// Errors carry the names SQS gives them, so callers can match them as they would match the
// service's error codes.
var (
	ErrReceiptHandleIsInvalid = errors.New("ReceiptHandleIsInvalid")
	ErrMessageNotInflight     = errors.New("MessageNotInflight")
	ErrInvalidParameterValue  = errors.New("InvalidParameterValue")
)

// Names of the system attributes a received message carries.
const (
	AttrApproximateReceiveCount          = "ApproximateReceiveCount"
	AttrSentTimestamp                    = "SentTimestamp"
	AttrSenderID                         = "SenderId"
	AttrApproximateFirstReceiveTimestamp = "ApproximateFirstReceiveTimestamp"
	AttrDeadLetterQueueSourceArn         = "DeadLetterQueueSourceArn"
)

var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// QueueConfig is a standard queue's configuration. Zero durations take SQS's defaults.
type QueueConfig struct {
	Name              string
	VisibilityTimeout time.Duration
	// MaxReceiveCount and DeadLetter form the redrive policy: a message received
	// MaxReceiveCount times without being deleted moves to DeadLetter on its next receive.
	// Zero and nil mean no redrive policy.
	MaxReceiveCount int
	DeadLetter      *Queue
	Retention       time.Duration
}

func (c QueueConfig) withDefaults() QueueConfig {
	if c.VisibilityTimeout == 0 {
		c.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	return c
}

// Validate reports a configuration SQS would refuse in CreateQueue or SetQueueAttributes.
func (c QueueConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case !queueName.MatchString(c.Name):
		return fmt.Errorf("sqslocal: queue name %q: %w: 1 to 80 letters, digits, hyphens or underscores", c.Name, ErrInvalidParameterValue)
	case c.VisibilityTimeout < 0 || c.VisibilityTimeout > MaxVisibilityTimeout:
		return fmt.Errorf("sqslocal: queue %s: %w: visibility timeout %s is outside 0s to 12h", c.Name, ErrInvalidParameterValue, c.VisibilityTimeout)
	case c.Retention < MinRetention || c.Retention > MaxRetention:
		return fmt.Errorf("sqslocal: queue %s: %w: retention %s is outside 1m to 336h", c.Name, ErrInvalidParameterValue, c.Retention)
	case c.MaxReceiveCount < 0 || c.MaxReceiveCount > MaxReceiveCountLimit:
		return fmt.Errorf("sqslocal: queue %s: %w: maxReceiveCount %d is outside 1 to 1000", c.Name, ErrInvalidParameterValue, c.MaxReceiveCount)
	case (c.MaxReceiveCount == 0) != (c.DeadLetter == nil):
		return fmt.Errorf("sqslocal: queue %s: %w: a redrive policy needs both maxReceiveCount and a dead-letter queue", c.Name, ErrInvalidParameterValue)
	}
	return nil
}

// Queue is an SQS standard queue held in memory. Its methods are safe for concurrent use.
type Queue struct {
	cfg   QueueConfig
	clock Clock
	// tag makes receipt handles of two queues of the same name tell apart.
	tag string

	mu    sync.Mutex
	byID  map[string]*message
	order []*message // enqueue order, which is also delivery order
	// changed is closed and replaced whenever messages arrive, become visible on request or
	// leave the queue, which wakes long polls and Drain.
	changed chan struct{}
}

// message is one stored message. SQS keeps the enqueue time and receive count of a message
// moved to a dead-letter queue, and so does this type.
type message struct {
	id           string
	body         string
	attrs        map[string]string
	sentAt       time.Time
	receiveCount int
	firstReceive time.Time
	lastReceive  time.Time
	visibleAt    time.Time
	receipt      string
	deleted      bool
	// deadLetterSource is the queue the message was dead-lettered from, for the
	// DeadLetterQueueSourceArn attribute and for redrive back to it.
	deadLetterSource *Queue
}

// Message is a message as ReceiveMessage returns it with all attributes requested. Attributes
// holds the system attributes, MessageAttributes the String attributes the sender set.
type Message struct {
	ID                string
	ReceiptHandle     string
	Body              string
	Attributes        map[string]string
	MessageAttributes map[string]string
}

// NewQueue creates a queue. A nil clock means the system clock. It panics on a configuration
// Validate refuses: that is a mistake in the calling code, not a condition to handle.
func NewQueue(cfg QueueConfig, clock Clock) *Queue {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if clock == nil {
		clock = RealClock{}
	}
	q := &Queue{
		cfg:     cfg.withDefaults(),
		clock:   clock,
		tag:     randomHex(8),
		byID:    make(map[string]*message),
		changed: make(chan struct{}),
	}
	return q
}

// Name returns the queue name.
func (q *Queue) Name() string { return q.cfg.Name }

// URL returns the queue URL.
func (q *Queue) URL() string { return "http://sqs.local/" + AccountID + "/" + q.cfg.Name }

// ARN returns the queue ARN.
func (q *Queue) ARN() string { return "arn:aws:sqs:" + Region + ":" + AccountID + ":" + q.cfg.Name }

// VisibilityTimeout returns the queue's visibility timeout.
func (q *Queue) VisibilityTimeout() time.Duration { return q.cfg.VisibilityTimeout }

// Send stores a message with String message attributes and returns its message id.
func (q *Queue) Send(body string, attrs map[string]string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := &message{id: newUUID(), body: body, attrs: maps.Clone(attrs), sentAt: q.clock.Now()}
	q.addLocked(m)
	return m.id
}

// Receive returns up to max visible messages (at most MaxReceiveBatch), waiting up to wait
// for the first one to arrive, as a long poll does. Each message returned counts one more
// receive and stays hidden for the visibility timeout. Under a redrive policy, a message
// already received MaxReceiveCount times moves to the dead-letter queue instead of being
// returned.
func (q *Queue) Receive(max int, wait time.Duration) []Message {
	return q.receive(context.Background(), max, wait)
}

func (q *Queue) receive(ctx context.Context, limit int, wait time.Duration) []Message {
	limit = min(max(limit, 1), MaxReceiveBatch)
	deadline := q.clock.Now().Add(wait)
	for {
		q.mu.Lock()
		now := q.clock.Now()
		q.expireLocked(now)
		got, dead, next := q.takeLocked(now, limit)
		changed := q.changed
		q.mu.Unlock()
		// The dead-letter queue is locked only after this one is released, so two queues
		// that dead-letter into each other cannot deadlock.
		for _, m := range dead {
			q.cfg.DeadLetter.deadLetter(m, q)
		}

		if len(got) > 0 || !now.Before(deadline) || ctx.Err() != nil {
			return got
		}
		sleep := deadline.Sub(now)
		if !next.IsZero() && next.Sub(now) < sleep {
			sleep = next.Sub(now)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-q.clock.After(sleep):
		}
	}
}

// takeLocked marks up to limit visible messages received and picks out those due for the
// dead-letter queue. It also returns when the next hidden message becomes visible.
func (q *Queue) takeLocked(now time.Time, limit int) (got []Message, dead []*message, next time.Time) {
	for _, m := range q.order {
		if m.deleted {
			continue
		}
		if m.visibleAt.After(now) {
			if next.IsZero() || m.visibleAt.Before(next) {
				next = m.visibleAt
			}
			continue
		}
		if len(got) == limit {
			continue
		}
		if q.cfg.MaxReceiveCount > 0 && m.receiveCount >= q.cfg.MaxReceiveCount {
			q.removeLocked(m)
			dead = append(dead, m)
			continue
		}
		m.receiveCount++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.lastReceive = now
		m.receipt = q.newReceipt(m.id)
		m.visibleAt = now.Add(q.cfg.VisibilityTimeout)
		got = append(got, m.snapshot())
	}
	if len(dead) > 0 {
		q.compactLocked()
		q.notifyLocked()
	}
	return got, dead, next
}

// Delete deletes the message received with receipt. A receipt handle from an earlier receive
// of a message received again since deletes nothing and reports no error, as SQS documents
// for DeleteMessage; deleting a message already gone succeeds too.
func (q *Queue) Delete(receipt string) error {
	_, err := q.delete(receipt)
	return err
}

func (q *Queue) delete(receipt string) (bool, error) {
	id, err := q.parseReceipt(receipt)
	if err != nil {
		return false, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.byID[id]
	if m == nil || m.receipt != receipt {
		return false, nil
	}
	q.removeLocked(m)
	q.compactLocked()
	q.notifyLocked()
	return true, nil
}

// ChangeVisibility hides the message received with receipt for d from now; zero makes it
// visible at once. The message must still be in flight under that receipt, and it cannot be
// hidden beyond 12 hours after it was received.
func (q *Queue) ChangeVisibility(receipt string, d time.Duration) error {
	if d < 0 || d > MaxVisibilityTimeout {
		return fmt.Errorf("sqslocal: change visibility on %s: %w: %s is outside 0s to 12h", q.cfg.Name, ErrInvalidParameterValue, d)
	}
	id, err := q.parseReceipt(receipt)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	m := q.byID[id]
	if m == nil || m.receipt != receipt || !m.visibleAt.After(now) {
		return fmt.Errorf("sqslocal: change visibility on %s: %w: message %s", q.cfg.Name, ErrMessageNotInflight, id)
	}
	if now.Add(d).After(m.lastReceive.Add(MaxVisibilityTimeout)) {
		return fmt.Errorf("sqslocal: change visibility on %s: %w: message %s would stay hidden beyond 12h after its receive", q.cfg.Name, ErrInvalidParameterValue, id)
	}
	m.visibleAt = now.Add(d)
	q.notifyLocked()
	return nil
}

// Depth counts visible messages and in-flight ones (received, neither deleted nor visible
// again yet).
func (q *Queue) Depth() (visible, inFlight int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	q.expireLocked(now)
	for _, m := range q.order {
		if m.visibleAt.After(now) {
			inFlight++
		} else {
			visible++
		}
	}
	return visible, inFlight
}

// Messages returns every message in the queue, visible or in flight, in enqueue order.
func (q *Queue) Messages() []Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked(q.clock.Now())
	out := make([]Message, 0, len(q.order))
	for _, m := range q.order {
		out = append(out, m.snapshot())
	}
	return out
}

// watch returns a channel closed at the queue's next change.
func (q *Queue) watch() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.changed
}

func (q *Queue) addLocked(m *message) {
	q.byID[m.id] = m
	q.order = append(q.order, m)
	q.notifyLocked()
}

// removeLocked takes a message out of the index; compactLocked then drops it from the order.
func (q *Queue) removeLocked(m *message) {
	m.deleted = true
	delete(q.byID, m.id)
}

func (q *Queue) compactLocked() {
	kept := q.order[:0]
	for _, m := range q.order {
		if !m.deleted {
			kept = append(kept, m)
		}
	}
	clear(q.order[len(kept):])
	q.order = kept
}

func (q *Queue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// expireLocked drops messages older than the retention period, counted from the original
// enqueue time.
func (q *Queue) expireLocked(now time.Time) {
	expired := false
	for _, m := range q.order {
		if !m.sentAt.Add(q.cfg.Retention).After(now) {
			q.removeLocked(m)
			expired = true
		}
	}
	if expired {
		q.compactLocked()
		q.notifyLocked()
	}
}

func (m *message) snapshot() Message {
	attrs := map[string]string{
		AttrApproximateReceiveCount: strconv.Itoa(m.receiveCount),
		AttrSentTimestamp:           millis(m.sentAt),
		AttrSenderID:                SenderID,
	}
	if !m.firstReceive.IsZero() {
		attrs[AttrApproximateFirstReceiveTimestamp] = millis(m.firstReceive)
	}
	if m.deadLetterSource != nil {
		attrs[AttrDeadLetterQueueSourceArn] = m.deadLetterSource.ARN()
	}
	return Message{
		ID:                m.id,
		ReceiptHandle:     m.receipt,
		Body:              m.body,
		Attributes:        attrs,
		MessageAttributes: maps.Clone(m.attrs),
	}
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
