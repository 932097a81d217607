package sqslocal

import (
	"context"
	"fmt"
	"time"
)

// deadLetter takes in a message moved from src under src's redrive policy. It keeps its id,
// body, attributes, enqueue time and receive count, as SQS does for standard queues.
func (q *Queue) deadLetter(m *message, src *Queue) {
	q.mu.Lock()
	defer q.mu.Unlock()
	moved := *m
	moved.deleted = false
	moved.visibleAt = time.Time{}
	moved.receipt = ""
	moved.deadLetterSource = src
	q.addLocked(&moved)
}

// MaxRedriveRate is the highest MaxNumberOfMessagesPerSecond StartMessageMoveTask accepts.
const MaxRedriveRate = 500

// Redrive moves the messages of q, a dead-letter queue, to the queue to, as a
// StartMessageMoveTask does. With a nil to, each message goes back to the queue it was
// dead-lettered from. A moved message is a new message in its destination, as SQS documents:
// new message id, new enqueue time, receive count zero, same body and message attributes.
//
// maxPerSecond paces the move (zero moves as fast as possible). The move covers the messages
// visible when it starts; messages someone has received and not yet released stay behind, as
// do messages that arrive later. Cancelling ctx stops the move without undoing what it moved.
func (q *Queue) Redrive(ctx context.Context, to *Queue, maxPerSecond int) (moved int, err error) {
	switch {
	case maxPerSecond < 0 || maxPerSecond > MaxRedriveRate:
		return 0, fmt.Errorf("sqslocal: redrive %s: %w: %d messages per second is outside 1 to %d", q.cfg.Name, ErrInvalidParameterValue, maxPerSecond, MaxRedriveRate)
	case to == q:
		return 0, fmt.Errorf("sqslocal: redrive %s: %w: source and destination are the same queue", q.cfg.Name, ErrInvalidParameterValue)
	}
	ids, err := q.redriveCandidates(to == nil)
	if err != nil {
		return 0, err
	}

	windowStart := q.clock.Now()
	inWindow := 0
	for _, id := range ids {
		if maxPerSecond > 0 && inWindow == maxPerSecond {
			if wait := windowStart.Add(time.Second).Sub(q.clock.Now()); wait > 0 {
				select {
				case <-ctx.Done():
					return moved, ctx.Err()
				case <-q.clock.After(wait):
				}
			}
			windowStart, inWindow = q.clock.Now(), 0
		}
		if err := ctx.Err(); err != nil {
			return moved, err
		}
		m := q.takeVisible(id)
		if m == nil {
			continue
		}
		dest := to
		if dest == nil {
			dest = m.deadLetterSource
		}
		dest.Send(m.body, m.attrs)
		moved++
		inWindow++
	}
	return moved, nil
}

// redriveCandidates lists the visible messages a move task starting now covers. Without a
// destination every one of them must know the queue it came from; otherwise the task fails
// before moving anything.
func (q *Queue) redriveCandidates(toSource bool) ([]string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	q.expireLocked(now)
	var ids []string
	for _, m := range q.order {
		if m.visibleAt.After(now) {
			continue
		}
		if toSource && m.deadLetterSource == nil {
			return nil, fmt.Errorf("sqslocal: redrive %s: %w: message %s was not dead-lettered from a queue; name a destination", q.cfg.Name, ErrInvalidParameterValue, m.id)
		}
		ids = append(ids, m.id)
	}
	return ids, nil
}

// takeVisible removes message id if it is still in the queue and visible.
func (q *Queue) takeVisible(id string) *message {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.byID[id]
	if m == nil || m.visibleAt.After(q.clock.Now()) {
		return nil
	}
	q.removeLocked(m)
	q.compactLocked()
	q.notifyLocked()
	return m
}
