package sqslocal_test

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// deadLetterPair returns a source queue that dead-letters into dlq after maxReceiveCount
// receives.
func deadLetterPair(clock sqslocal.Clock, maxReceiveCount int) (src, dlq *sqslocal.Queue) {
	dlq = sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest-dlq"}, clock)
	src = sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest", MaxReceiveCount: maxReceiveCount, DeadLetter: dlq}, clock)
	return src, dlq
}

func TestQueueConfigValidate(t *testing.T) {
	dlq := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "dlq"}, nil)
	tests := []struct {
		name  string
		cfg   sqslocal.QueueConfig
		valid bool
	}{
		{name: "defaults", cfg: sqslocal.QueueConfig{Name: "ingest"}, valid: true},
		{name: "redrive policy", cfg: sqslocal.QueueConfig{Name: "ingest", MaxReceiveCount: 5, DeadLetter: dlq}, valid: true},
		{name: "empty name", cfg: sqslocal.QueueConfig{}},
		{name: "name with a dot", cfg: sqslocal.QueueConfig{Name: "ingest.fifo"}},
		{name: "visibility timeout above 12h", cfg: sqslocal.QueueConfig{Name: "q", VisibilityTimeout: 13 * time.Hour}},
		{name: "retention below a minute", cfg: sqslocal.QueueConfig{Name: "q", Retention: time.Second}},
		{name: "retention above 14 days", cfg: sqslocal.QueueConfig{Name: "q", Retention: 15 * 24 * time.Hour}},
		{name: "maxReceiveCount without dead-letter queue", cfg: sqslocal.QueueConfig{Name: "q", MaxReceiveCount: 3}},
		{name: "dead-letter queue without maxReceiveCount", cfg: sqslocal.QueueConfig{Name: "q", DeadLetter: dlq}},
		{name: "maxReceiveCount above 1000", cfg: sqslocal.QueueConfig{Name: "q", MaxReceiveCount: 1001, DeadLetter: dlq}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.valid {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, sqslocal.ErrInvalidParameterValue)
			assert.Panics(t, func() { sqslocal.NewQueue(tt.cfg, nil) })
		})
	}
}

func TestQueueIdentity(t *testing.T) {
	q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, nil)
	assert.Equal(t, "http://sqs.local/000000000000/ingest", q.URL())
	assert.Equal(t, "arn:aws:sqs:us-east-1:000000000000:ingest", q.ARN())
}

func TestReceiveHidesMessageForVisibilityTimeout(t *testing.T) {
	clock := sqslocal.NewFakeClock(epoch)
	q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
	id := q.Send("hello", map[string]string{"origin": "test"})

	first := q.Receive(10, 0)
	require.Len(t, first, 1)
	assert.Equal(t, id, first[0].ID)
	assert.Equal(t, "hello", first[0].Body)
	assert.Equal(t, map[string]string{"origin": "test"}, first[0].MessageAttributes)
	assert.Equal(t, map[string]string{
		"ApproximateReceiveCount":          "1",
		"SentTimestamp":                    millis(epoch),
		"SenderId":                         sqslocal.SenderID,
		"ApproximateFirstReceiveTimestamp": millis(epoch),
	}, first[0].Attributes)

	assert.Empty(t, q.Receive(10, 0), "a received message is hidden")
	visible, inFlight := q.Depth()
	assert.Equal(t, [2]int{0, 1}, [2]int{visible, inFlight})

	clock.Advance(sqslocal.DefaultVisibilityTimeout - time.Second)
	assert.Empty(t, q.Receive(10, 0), "still hidden one second before the timeout ends")

	clock.Advance(time.Second)
	second := q.Receive(10, 0)
	require.Len(t, second, 1)
	assert.Equal(t, id, second[0].ID)
	assert.Equal(t, "2", second[0].Attributes["ApproximateReceiveCount"])
	assert.Equal(t, millis(epoch), second[0].Attributes["ApproximateFirstReceiveTimestamp"])
	assert.NotEqual(t, first[0].ReceiptHandle, second[0].ReceiptHandle)

	require.NoError(t, q.Delete(first[0].ReceiptHandle), "a stale receipt handle is accepted")
	visible, inFlight = q.Depth()
	assert.Equal(t, [2]int{0, 1}, [2]int{visible, inFlight}, "but deletes nothing")

	require.NoError(t, q.Delete(second[0].ReceiptHandle))
	visible, inFlight = q.Depth()
	assert.Equal(t, [2]int{0, 0}, [2]int{visible, inFlight})
	assert.NoError(t, q.Delete(second[0].ReceiptHandle), "deleting twice succeeds")
}

func TestReceiveReturnsAtMostTenMessages(t *testing.T) {
	q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, sqslocal.NewFakeClock(epoch))
	for i := range 15 {
		q.Send(strconv.Itoa(i), nil)
	}
	assert.Len(t, q.Receive(50, 0), 10)
	assert.Len(t, q.Receive(0, 0), 1, "fewer than one asks for one")
	assert.Len(t, q.Receive(10, 0), 4)
}

func TestReceiveLongPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := sqslocal.NewFakeClock(epoch)
		q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
		poll := func() <-chan []sqslocal.Message {
			out := make(chan []sqslocal.Message, 1)
			go func() { out <- q.Receive(10, 20*time.Second) }()
			synctest.Wait()
			return out
		}

		// A message sent during the poll ends it at once.
		got := poll()
		require.Empty(t, got, "the poll waits for a message")
		id := q.Send("late", nil)
		synctest.Wait()
		msgs := <-got
		require.Len(t, msgs, 1)
		assert.Equal(t, id, msgs[0].ID)

		// A message whose visibility timeout ends during the poll ends it then.
		require.NoError(t, q.ChangeVisibility(msgs[0].ReceiptHandle, 10*time.Second))
		got = poll()
		clock.Advance(10 * time.Second)
		synctest.Wait()
		require.Len(t, got, 1)
		assert.Equal(t, "2", (<-got)[0].Attributes["ApproximateReceiveCount"])

		// An empty queue ends the poll after the wait time, empty.
		got = poll()
		clock.Advance(20 * time.Second)
		synctest.Wait()
		require.Len(t, got, 1)
		assert.Empty(t, <-got)
	})
}

func TestChangeVisibility(t *testing.T) {
	other := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "other"}, nil)
	other.Send("x", nil)
	foreign := other.Receive(1, 0)[0].ReceiptHandle

	tests := []struct {
		name string
		// receipt picks the handle to use from the first and the second receive.
		receipt func(first, second string) string
		d       time.Duration
		want    error
		// visibleAfter is the message's depth right after the call.
		visibleAfter int
	}{
		{name: "zero makes the message visible", receipt: func(_, s string) string { return s }, d: 0, visibleAfter: 1},
		{name: "longer hides it", receipt: func(_, s string) string { return s }, d: time.Hour},
		{name: "above 12 hours", receipt: func(_, s string) string { return s }, d: 13 * time.Hour, want: sqslocal.ErrInvalidParameterValue},
		{name: "negative", receipt: func(_, s string) string { return s }, d: -time.Second, want: sqslocal.ErrInvalidParameterValue},
		{name: "stale receipt handle", receipt: func(f, _ string) string { return f }, d: 0, want: sqslocal.ErrMessageNotInflight},
		{name: "not a receipt handle", receipt: func(string, string) string { return "nonsense" }, d: 0, want: sqslocal.ErrReceiptHandleIsInvalid},
		{name: "receipt handle of another queue", receipt: func(string, string) string { return foreign }, d: 0, want: sqslocal.ErrReceiptHandleIsInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := sqslocal.NewFakeClock(epoch)
			q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
			q.Send("x", nil)
			first := q.Receive(1, 0)[0].ReceiptHandle
			clock.Advance(sqslocal.DefaultVisibilityTimeout)
			second := q.Receive(1, 0)[0].ReceiptHandle

			err := q.ChangeVisibility(tt.receipt(first, second), tt.d)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			} else {
				assert.NoError(t, err)
			}
			visible, _ := q.Depth()
			assert.Equal(t, tt.visibleAfter, visible)
		})
	}
}

func TestChangeVisibilityOfMessageVisibleAgain(t *testing.T) {
	clock := sqslocal.NewFakeClock(epoch)
	q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
	q.Send("x", nil)
	receipt := q.Receive(1, 0)[0].ReceiptHandle
	clock.Advance(sqslocal.DefaultVisibilityTimeout)
	assert.ErrorIs(t, q.ChangeVisibility(receipt, time.Minute), sqslocal.ErrMessageNotInflight)
}

func TestMessageMovesToDeadLetterQueueAfterMaxReceiveCount(t *testing.T) {
	clock := sqslocal.NewFakeClock(epoch)
	src, dlq := deadLetterPair(clock, 2)
	id := src.Send("poison", map[string]string{"kind": "bad"})

	for receive := 1; receive <= 2; receive++ {
		msgs := src.Receive(10, 0)
		require.Len(t, msgs, 1, "receive %d", receive)
		assert.Equal(t, strconv.Itoa(receive), msgs[0].Attributes["ApproximateReceiveCount"])
		clock.Advance(sqslocal.DefaultVisibilityTimeout)
	}
	assert.Empty(t, src.Receive(10, 0), "the third receive moves the message instead of returning it")
	visible, inFlight := src.Depth()
	assert.Equal(t, [2]int{0, 0}, [2]int{visible, inFlight})

	dead := dlq.Messages()
	require.Len(t, dead, 1)
	assert.Equal(t, id, dead[0].ID)
	assert.Equal(t, "poison", dead[0].Body)
	assert.Equal(t, map[string]string{"kind": "bad"}, dead[0].MessageAttributes)
	assert.Equal(t, src.ARN(), dead[0].Attributes["DeadLetterQueueSourceArn"])
	assert.Equal(t, millis(epoch), dead[0].Attributes["SentTimestamp"], "a standard queue keeps the enqueue time")
	assert.Equal(t, "2", dead[0].Attributes["ApproximateReceiveCount"])
}

func TestRedriveSendsMessagesBackAsNewMessages(t *testing.T) {
	tests := []struct {
		name string
		// to picks the destination; nil sends each message back where it came from.
		to func(src *sqslocal.Queue) *sqslocal.Queue
	}{
		{name: "back to the source queue", to: func(*sqslocal.Queue) *sqslocal.Queue { return nil }},
		{name: "to a named queue", to: func(src *sqslocal.Queue) *sqslocal.Queue { return src }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := sqslocal.NewFakeClock(epoch)
			src, dlq := deadLetterPair(clock, 1)
			id := src.Send("poison", map[string]string{"kind": "bad"})
			require.Len(t, src.Receive(10, 0), 1)
			clock.Advance(sqslocal.DefaultVisibilityTimeout)
			require.Empty(t, src.Receive(10, 0))
			require.Len(t, dlq.Messages(), 1)
			clock.Advance(time.Hour)

			moved, err := dlq.Redrive(context.Background(), tt.to(src), 0)
			require.NoError(t, err)
			assert.Equal(t, 1, moved)
			assert.Empty(t, dlq.Messages())

			back := src.Messages()
			require.Len(t, back, 1)
			assert.NotEqual(t, id, back[0].ID, "a redriven message gets a new id")
			assert.Equal(t, "poison", back[0].Body)
			assert.Equal(t, map[string]string{"kind": "bad"}, back[0].MessageAttributes)
			assert.Equal(t, "0", back[0].Attributes["ApproximateReceiveCount"])
			assert.Equal(t, millis(epoch.Add(time.Hour+sqslocal.DefaultVisibilityTimeout)), back[0].Attributes["SentTimestamp"])
			assert.NotContains(t, back[0].Attributes, "DeadLetterQueueSourceArn")
		})
	}
}

func TestRedriveKeepsToItsRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := sqslocal.NewFakeClock(epoch)
		src, dlq := deadLetterPair(clock, 1)
		for i := range 5 {
			dlq.Send(strconv.Itoa(i), nil)
		}
		result := make(chan int, 1)
		go func() {
			moved, err := dlq.Redrive(context.Background(), src, 2)
			assert.NoError(t, err)
			result <- moved
		}()

		for _, want := range []int{2, 4} {
			synctest.Wait()
			visible, _ := src.Depth()
			assert.Equal(t, want, visible)
			clock.Advance(time.Second)
		}
		assert.Equal(t, 5, <-result)
	})
}

func TestRedriveRefuses(t *testing.T) {
	src, dlq := deadLetterPair(nil, 1)
	dlq.Send("sent straight to the dead-letter queue", nil)
	tests := []struct {
		name string
		q    *sqslocal.Queue
		to   *sqslocal.Queue
		rate int
	}{
		{name: "rate above 500", q: dlq, to: src, rate: 501},
		{name: "negative rate", q: dlq, to: src, rate: -1},
		{name: "same queue", q: dlq, to: dlq},
		{name: "message without a source queue", q: dlq, to: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			moved, err := tt.q.Redrive(context.Background(), tt.to, tt.rate)
			assert.ErrorIs(t, err, sqslocal.ErrInvalidParameterValue)
			assert.Zero(t, moved)
			assert.Len(t, dlq.Messages(), 1)
		})
	}
}

func TestMessagesExpireAfterRetention(t *testing.T) {
	clock := sqslocal.NewFakeClock(epoch)
	q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest", Retention: time.Minute}, clock)
	q.Send("x", nil)
	clock.Advance(time.Minute - time.Second)
	visible, _ := q.Depth()
	assert.Equal(t, 1, visible)
	clock.Advance(time.Second)
	visible, _ = q.Depth()
	assert.Equal(t, 0, visible)
}
