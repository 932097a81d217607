// Package validator is the validator Lambda: it gates the files that SQS notifications name,
// quarantines rejected ones, and starts one load execution per batch of accepted files.
package validator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/route"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
)

// ObjectStore is the part of S3 the validator uses.
type ObjectStore interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, opts ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Executions is the part of Step Functions the validator uses.
type Executions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// DeadLetters is where a message that can never succeed goes, so it is neither lost nor retried forever.
type DeadLetters interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Config holds the validator's settings; main fills it from the environment.
type Config struct {
	IncomingPrefix     string
	QuarantinePrefix   string
	StateMachineARN    string
	DeadLetterQueueURL string
	Caps               batch.Caps
	// Workers bounds how many files of one invocation are gated at once.
	Workers int
	// TimeMargin is how much of the invocation's remaining time is kept back: no new file is
	// started once less than this remains, and those messages are handed back to SQS.
	TimeMargin time.Duration
}

// DefaultConfig returns the documented defaults; StateMachineARN has none.
func DefaultConfig() Config {
	return Config{
		IncomingPrefix:   "incoming/",
		QuarantinePrefix: "quarantine/",
		Caps:             batch.DefaultCaps(),
		Workers:          8,
		TimeMargin:       10 * time.Second,
	}
}

// Validate checks the settings that would otherwise fail on the first message.
func (c Config) Validate() error {
	var problems []string
	if c.StateMachineARN == "" {
		problems = append(problems, "the state machine ARN is not set")
	}
	if c.QuarantinePrefix == "" {
		problems = append(problems, "the quarantine prefix is empty")
	}
	if strings.HasPrefix(c.QuarantinePrefix, c.IncomingPrefix) || (c.IncomingPrefix != "" && strings.HasPrefix(c.IncomingPrefix, c.QuarantinePrefix)) {
		problems = append(problems, fmt.Sprintf("the quarantine prefix %q and the incoming prefix %q overlap: quarantined files would be loaded again", c.QuarantinePrefix, c.IncomingPrefix))
	}
	if c.Workers < 1 {
		problems = append(problems, fmt.Sprintf("worker count %d must be at least 1", c.Workers))
	}
	if err := c.Caps.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Handler is the validator Lambda's handler.
type Handler struct {
	Config Config
	S3     ObjectStore
	SFN    Executions
	// DLQ receives messages that are not notifications at all; nil logs them only.
	DLQ    DeadLetters
	Gate   *gate.Gate
	Router *route.Router
	Logger *slog.Logger
	Now    func() time.Time
	// Metrics, when set, counts each invocation's outcomes; they are written to MetricsOut as
	// one CloudWatch embedded-metric line at the end of the invocation.
	Metrics    *obs.Metrics
	MetricsOut io.Writer
}

func (h *Handler) count(m obs.Metric, v float64) {
	if h.Metrics != nil {
		h.Metrics.Add(m, v)
	}
}

// message is the state of one SQS message through an invocation.
type message struct {
	record events.SQSMessage
	// failed marks a message to hand back to SQS for another delivery.
	failed bool
	files  []batch.File
	tables []string
}

// Handle gates every file the batch's notifications name and starts the load executions. It
// reports back only the messages worth delivering again (transient failures and unstarted
// work); a rejected file is an outcome, not a failure.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	msgs := make([]*message, len(ev.Records))
	var jobs []job
	for i, rec := range ev.Records {
		m := &message{record: rec}
		msgs[i] = m
		for _, obj := range h.parse(ctx, m) {
			jobs = append(jobs, job{msg: m, obj: obj})
		}
	}

	h.gateAll(ctx, jobs)
	h.startBatches(ctx, msgs)
	if h.Metrics != nil && h.MetricsOut != nil {
		if err := h.Metrics.Flush(h.MetricsOut); err != nil {
			h.Logger.WarnContext(ctx, "could not write metrics", "error", err.Error())
		}
	}

	var resp events.SQSEventResponse
	for _, m := range msgs {
		if m.failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.record.MessageId})
		}
	}
	return resp, nil
}

// parse reads one message. A body that is no notification at all can never succeed: it goes to
// the dead-letter queue with the reason (or, without one, to the log) and is acknowledged.
func (h *Handler) parse(ctx context.Context, m *message) []s3event.Object {
	log := h.Logger.With("message_id", m.record.MessageId)
	msg, err := s3event.Parse([]byte(m.record.Body))
	if err != nil {
		log.WarnContext(ctx, "message is not an S3 notification", "outcome", "dead_lettered", "error", err.Error())
		h.deadLetter(ctx, m, "Notification.Invalid", err.Error())
		return nil
	}
	if msg.Kind == s3event.KindTest {
		log.InfoContext(ctx, "S3 test event acknowledged", "outcome", "skipped")
		return nil
	}
	var objs []s3event.Object
	for _, obj := range msg.Objects {
		olog := log.With("bucket", obj.Bucket, "s3_key", obj.Key, "version_id", obj.VersionID)
		switch {
		case !obj.Created():
			olog.InfoContext(ctx, "event is not an object creation", "outcome", "skipped", "event", obj.EventName)
		case !strings.HasPrefix(obj.Key, h.Config.IncomingPrefix) || strings.HasPrefix(obj.Key, h.Config.QuarantinePrefix):
			olog.InfoContext(ctx, "object is outside the incoming prefix", "outcome", "skipped", "incoming_prefix", h.Config.IncomingPrefix)
		case strings.HasSuffix(obj.Key, "/"):
			olog.InfoContext(ctx, "object is a folder marker", "outcome", "skipped")
		default:
			objs = append(objs, obj)
		}
	}
	return objs
}

// deadLetter sends a message that can never succeed to the dead-letter queue and acknowledges
// it. If that send fails, the message goes back to SQS, whose redrive policy moves it there.
func (h *Handler) deadLetter(ctx context.Context, m *message, name, cause string) {
	if h.DLQ == nil || h.Config.DeadLetterQueueURL == "" {
		return
	}
	_, err := h.DLQ.SendMessage(ctx, deadLetterInput(h.Config.DeadLetterQueueURL, m.record, name, cause))
	if err != nil {
		h.Logger.ErrorContext(ctx, "could not send the message to the dead-letter queue; SQS will deliver it again",
			"message_id", m.record.MessageId, "error", err.Error())
		m.failed = true
	}
}

// job is one file to gate.
type job struct {
	msg *message
	obj s3event.Object
}

// gateAll gates the files with a bounded number of workers. It starts no file once the
// invocation's remaining time falls under the margin; those messages go back to SQS.
func (h *Handler) gateAll(ctx context.Context, jobs []job) {
	// Work in flight is cancelled shortly before the Lambda deadline, so the handler can still
	// answer with a partial batch response instead of timing out as a whole.
	workCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		workCtx, cancel = context.WithDeadline(ctx, deadline.Add(-h.Config.TimeMargin/2))
		defer cancel()
	}

	var mu sync.Mutex
	sem := make(chan struct{}, h.Config.Workers)
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		if !h.timeLeft(ctx) {
			<-sem
			mu.Lock()
			j.msg.failed = true
			mu.Unlock()
			h.Logger.WarnContext(ctx, "not started: the invocation is running out of time; SQS will deliver the message again",
				"message_id", j.msg.record.MessageId, "bucket", j.obj.Bucket, "s3_key", j.obj.Key, "outcome", "deferred")
			continue
		}
		wg.Add(1)
		go func(j job) {
			defer wg.Done()
			defer func() { <-sem }()
			defer h.recoverFile(ctx, j, &mu)
			var out outcome
			_ = obs.Trace(workCtx, "gate", func(ctx context.Context) error {
				obs.Annotate(ctx, obs.KeyS3Key, j.obj.Key)
				out = h.checkFile(ctx, j.msg.record.MessageId, j.obj)
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			switch out.kind {
			case outcomeRetry:
				j.msg.failed = true
			case outcomeAccepted:
				j.msg.files = append(j.msg.files, out.file)
				j.msg.tables = append(j.msg.tables, out.table)
			}
		}(j)
	}
	wg.Wait()
}

// recoverFile, deferred by the goroutine that checks one file, turns a panic into a retry of
// that file's message alone. Left alone, a panic in a goroutine ends the whole process, and
// every message of the batch comes back, again and again with the message that causes it,
// until all of them reach the dead-letter queue. The file's message comes back instead, and
// reaches the dead-letter queue by itself once SQS has delivered it maxReceiveCount times;
// the log line has the stack of the defect.
func (h *Handler) recoverFile(ctx context.Context, j job, mu *sync.Mutex) {
	v := recover()
	if v == nil {
		return
	}
	h.Logger.ErrorContext(ctx, "the validator failed on this file with an internal error (a defect, not a problem of the file); SQS will deliver its message again, and the dead-letter queue keeps it after the queue's maxReceiveCount",
		"message_id", j.msg.record.MessageId, "bucket", j.obj.Bucket, "s3_key", j.obj.Key, "outcome", "panic",
		"error", fmt.Sprint(v), "stack", string(debug.Stack()))
	mu.Lock()
	defer mu.Unlock()
	j.msg.failed = true
}

func (h *Handler) timeLeft(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > h.Config.TimeMargin
}
