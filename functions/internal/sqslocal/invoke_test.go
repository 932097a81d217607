package sqslocal_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
)

func TestMappingSettlesBatch(t *testing.T) {
	// fail reports the messages with the given bodies as failed.
	fail := func(bodies ...string) func(events.SQSEvent) events.SQSEventResponse {
		return func(ev events.SQSEvent) events.SQSEventResponse {
			resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
			for _, r := range ev.Records {
				if slices.Contains(bodies, r.Body) {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				}
			}
			return resp
		}
	}
	respond := func(f func(events.SQSEvent) events.SQSEventResponse) sqslocal.Handler {
		return func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) { return f(ev), nil }
	}
	identifiers := func(ids ...string) sqslocal.Handler {
		return respond(func(ev events.SQSEvent) events.SQSEventResponse {
			resp := fail("b")(ev)
			for _, id := range ids {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
			}
			return resp
		})
	}
	all := []string{"a", "b", "c"}

	tests := []struct {
		name    string
		report  bool
		handler sqslocal.Handler
		// advance is how far the clock must move for the invocation to end.
		advance  time.Duration
		wantLeft []string
		want     sqslocal.MappingStats
	}{
		{
			name: "no response deletes the batch", report: true, handler: succeed,
			want: sqslocal.MappingStats{Deleted: 3},
		},
		{
			name: "an empty failure list deletes the batch", report: true, handler: respond(fail()),
			want: sqslocal.MappingStats{Deleted: 3},
		},
		{
			name: "reported failures stay, the rest is deleted", report: true, handler: respond(fail("b")),
			wantLeft: []string{"b"},
			want:     sqslocal.MappingStats{Deleted: 2, Failed: 1},
		},
		{
			name: "reported failures are ignored unless the mapping asks for them", handler: respond(fail("b")),
			want: sqslocal.MappingStats{Deleted: 3},
		},
		{
			name: "an error keeps the batch", report: true,
			handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{}, errors.New("boom")
			},
			wantLeft: all,
			want:     sqslocal.MappingStats{HandlerErrors: 1},
		},
		{
			name: "a panic keeps the batch", report: true,
			handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				panic("boom")
			},
			wantLeft: all,
			want:     sqslocal.MappingStats{HandlerErrors: 1},
		},
		{
			name: "a timeout keeps the batch", report: true, advance: sqslocal.DefaultFunctionTimeout,
			handler: func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
				<-ctx.Done()
				return events.SQSEventResponse{}, ctx.Err()
			},
			wantLeft: all,
			want:     sqslocal.MappingStats{HandlerErrors: 1, Timeouts: 1},
		},
		{
			name: "an itemIdentifier outside the batch keeps the batch", report: true, handler: identifiers("00000000-0000-4000-8000-000000000000"),
			wantLeft: all,
			want:     sqslocal.MappingStats{InvalidResponses: 1},
		},
		{
			name: "an empty itemIdentifier keeps the batch", report: true, handler: identifiers(""),
			wantLeft: all,
			want:     sqslocal.MappingStats{InvalidResponses: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clock := sqslocal.NewFakeClock(epoch)
				q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
				for _, body := range all {
					q.Send(body, nil)
				}
				m := sqslocal.NewMapping(q, tt.handler, sqslocal.MappingConfig{ReportBatchItemFailures: tt.report}, clock)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- m.Run(ctx) }()

				synctest.Wait()
				if tt.advance > 0 {
					clock.Advance(tt.advance)
					synctest.Wait()
				}

				var left []string
				for _, msg := range q.Messages() {
					left = append(left, msg.Body)
				}
				assert.ElementsMatch(t, tt.wantLeft, left)
				visible, _ := q.Depth()
				assert.Zero(t, visible, "messages left behind stay hidden until their visibility timeout ends")
				want := tt.want
				want.Invocations, want.Delivered, want.PeakConcurrency = 1, 3, 1
				assert.Equal(t, want, m.Stats())

				cancel()
				require.NoError(t, <-done)
			})
		})
	}
}

func TestMappingRedeliversOnlyReportedFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := sqslocal.NewFakeClock(epoch)
		q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
		for _, body := range []string{"a", "b", "c"} {
			q.Send(body, nil)
		}
		rec := &recorder{clock: clock}
		m := sqslocal.NewMapping(q, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			rec.record(ev)
			var resp events.SQSEventResponse
			for _, r := range ev.Records {
				if r.Body == "b" && r.Attributes["ApproximateReceiveCount"] == "1" {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				}
			}
			return resp, nil
		}, sqslocal.MappingConfig{ReportBatchItemFailures: true}, clock)

		require.NoError(t, drain(t, m, clock))

		assert.Equal(t, []invocation{
			{at: 0, bodies: []string{"a", "b", "c"}, counts: []string{"1", "1", "1"}},
			{at: 30 * time.Second, bodies: []string{"b"}, counts: []string{"2"}},
		}, rec.invocations())
		assert.Equal(t, sqslocal.MappingStats{Invocations: 2, Delivered: 4, Deleted: 3, Failed: 1, PeakConcurrency: 1}, m.Stats())
	})
}

func TestMappingHandlerContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := sqslocal.NewFakeClock(epoch)
		q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
		q.Send("{}", nil)
		type seen struct {
			deadline time.Time
			lc       *lambdacontext.LambdaContext
			err      error
		}
		got := make(chan seen, 1)
		m := sqslocal.NewMapping(q, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			deadline, _ := ctx.Deadline()
			lc, _ := lambdacontext.FromContext(ctx)
			<-ctx.Done()
			got <- seen{deadline: deadline, lc: lc, err: ctx.Err()}
			return events.SQSEventResponse{}, ctx.Err()
		}, sqslocal.MappingConfig{FunctionTimeout: 10 * time.Second, FunctionName: "validator"}, clock)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()

		synctest.Wait()
		clock.Advance(10 * time.Second)
		s := <-got
		assert.Equal(t, epoch.Add(10*time.Second), s.deadline)
		assert.ErrorIs(t, s.err, context.DeadlineExceeded)
		require.NotNil(t, s.lc)
		assert.Equal(t, "arn:aws:lambda:us-east-1:000000000000:function:validator", s.lc.InvokedFunctionArn)
		assert.NotEmpty(t, s.lc.AwsRequestID)

		cancel()
		require.NoError(t, <-done)
	})
}
