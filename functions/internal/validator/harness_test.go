package validator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/route"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3local"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfnlocal"
)

const (
	bucket  = "landing"
	machine = "arn:aws:states:us-east-1:123456789012:stateMachine:loader"
	dlqURL  = "https://sqs.us-east-1.amazonaws.com/123456789012/loader-dlq"
)

// stack is the validator wired to S3 in process and a local Step Functions endpoint, through
// the real SDK clients.
type stack struct {
	t       *testing.T
	s3      *s3.Client
	sfn     *sfnlocal.Server
	dlq     *fakeDLQ
	faults  *faultyS3
	handler *Handler
	logs    *bytes.Buffer
	// result decides how each execution ends; by default it succeeds.
	mu     sync.Mutex
	result sfnlocal.Result
}

func newStack(t *testing.T, mutate ...func(*Config)) *stack {
	t.Helper()
	ctx := context.Background()
	s3srv, err := s3local.Start(ctx, s3local.Options{Buckets: []string{bucket}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s3srv.Close() })

	st := &stack{t: t, s3: s3srv.Client(), dlq: &fakeDLQ{}, logs: &bytes.Buffer{}, result: sfnlocal.Result{Status: sfnlocal.StatusSucceeded}}
	st.sfn, err = sfnlocal.Start(machine, func(context.Context, string, []byte) sfnlocal.Result {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.result
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.sfn.Close() })

	cfg := DefaultConfig()
	cfg.StateMachineARN = machine
	cfg.DeadLetterQueueURL = dlqURL
	for _, m := range mutate {
		m(&cfg)
	}
	require.NoError(t, cfg.Validate())
	g, err := gate.New(gate.DefaultConfig())
	require.NoError(t, err)
	router, err := route.Parse("", nil)
	require.NoError(t, err)
	st.faults = &faultyS3{ObjectStore: st.s3, fail: map[string]error{}}
	st.handler = &Handler{
		Config: cfg, S3: st.faults, SFN: st.sfn.Client(), DLQ: st.dlq, Gate: g, Router: router,
		Logger: slog.New(slog.NewJSONHandler(st.logs, nil)), Now: time.Now,
	}
	return st
}

func (st *stack) setResult(r sfnlocal.Result) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.result = r
}

// put uploads a file and returns the object as S3 would describe it in a notification.
func (st *stack) put(key string, body []byte) s3event.Object {
	st.t.Helper()
	out, err := st.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	require.NoError(st.t, err)
	return s3event.Object{
		Bucket: bucket, Key: key, Size: int64(len(body)), ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionId),
		Sequencer: fmt.Sprintf("%016X", time.Now().UnixNano()), EventName: "ObjectCreated:Put",
		EventTime: time.Date(2026, 11, 24, 1, 2, 3, 0, time.UTC), PrincipalID: "AWS:AROAEXAMPLE:uploader", SourceIP: "192.0.2.10",
	}
}

// putFile uploads a file from testdata under incoming/.
func (st *stack) putFile(rel string) s3event.Object {
	st.t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "data", rel))
	require.NoError(st.t, err)
	return st.put("incoming/"+filepath.Base(rel), body)
}

// notification is the SQS message S3 would send for these objects.
func notification(t *testing.T, id string, objs ...s3event.Object) events.SQSMessage {
	t.Helper()
	body, err := s3event.Encode(objs)
	require.NoError(t, err)
	return events.SQSMessage{MessageId: id, Body: string(body), EventSource: "aws:sqs"}
}

func (st *stack) handle(msgs ...events.SQSMessage) events.SQSEventResponse {
	st.t.Helper()
	resp, err := st.handler.Handle(context.Background(), events.SQSEvent{Records: msgs})
	require.NoError(st.t, err)
	st.sfn.Wait()
	return resp
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// inputs decodes the execution inputs the validator started.
func (st *stack) inputs() []batch.Input {
	var out []batch.Input
	for _, e := range st.sfn.Executions() {
		var in batch.Input
		require.NoError(st.t, json.Unmarshal(e.Input, &in))
		out = append(out, in)
	}
	return out
}

func (st *stack) object(key string) ([]byte, bool) {
	out, err := st.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, false
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(st.t, err)
	return b, true
}

// faultyS3 fails reads of chosen keys the way S3 does when it throttles.
type faultyS3 struct {
	ObjectStore
	mu   sync.Mutex
	fail map[string]error
}

func (f *faultyS3) failKey(key string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[key] = err
}

// errDefect makes a read panic, as a defect in the code that reads the object would.
var errDefect = errors.New("injected defect")

func (f *faultyS3) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	err := f.fail[aws.ToString(in.Key)]
	f.mu.Unlock()
	if errors.Is(err, errDefect) {
		panic(fmt.Sprintf("%v while reading %s", err, aws.ToString(in.Key)))
	}
	if err != nil {
		return nil, err
	}
	return f.ObjectStore.GetObject(ctx, in, opts...)
}

// fakeDLQ records what the validator dead-letters.
type fakeDLQ struct {
	mu   sync.Mutex
	sent []*sqs.SendMessageInput
	err  error
}

func (f *fakeDLQ) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.sent = append(f.sent, in)
	return &sqs.SendMessageOutput{MessageId: aws.String(fmt.Sprintf("dlq-%d", len(f.sent)))}, nil
}
