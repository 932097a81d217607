package obs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-xray-sdk-go/xray"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const traceHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

// recordingEmitter keeps what X-Ray would have sent to the daemon.
type recordingEmitter struct {
	mu   sync.Mutex
	segs []*xray.Segment
}

func (e *recordingEmitter) Emit(seg *xray.Segment) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.segs = append(e.segs, seg)
}

func (e *recordingEmitter) RefreshEmitterWithAddress(*net.UDPAddr) {}

func (e *recordingEmitter) emitted() []*xray.Segment {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*xray.Segment(nil), e.segs...)
}

// lambdaTrace returns a context shaped like a Lambda invocation with active tracing, whose
// segments go to the returned emitter instead of the daemon.
func lambdaTrace(t *testing.T) (context.Context, *recordingEmitter) {
	t.Helper()
	em := &recordingEmitter{}
	ctx, err := xray.ContextWithConfig(context.Background(), xray.Config{Emitter: em})
	require.NoError(t, err)
	return context.WithValue(ctx, xray.LambdaTraceHeaderKey, traceHeader), em
}

// captureDefaultLog points slog's default logger, where X-Ray's own lines go, at a buffer.
func captureDefaultLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(NewLogger(&buf, slog.LevelDebug-4))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

func TestTraceWithoutSegmentRunsDirectly(t *testing.T) {
	logs := captureDefaultLog(t)
	boom := errors.New("boom")
	ctx := context.WithValue(context.Background(), attrsKey{}, []slog.Attr{})
	var seen context.Context
	err := Trace(ctx, "load", func(ctx context.Context) error {
		seen = ctx
		return boom
	})
	assert.Same(t, boom, err)
	assert.Equal(t, ctx, seen, "fn gets the caller's context")
	assert.Nil(t, xray.GetSegment(seen))
	assert.Empty(t, logs.String(), "no X-Ray noise without a segment")
}

func TestTraceInLambdaTraceRecordsSubsegment(t *testing.T) {
	ctx, em := lambdaTrace(t)
	boom := errors.New("boom")
	err := Trace(ctx, "load", func(ctx context.Context) error {
		require.NotNil(t, xray.GetSegment(ctx), "fn runs inside the subsegment")
		Annotate(ctx, "execution", "exec-1")
		return boom
	})
	assert.ErrorIs(t, err, boom)

	segs := em.emitted()
	require.Len(t, segs, 1)
	assert.Equal(t, "load", segs[0].Name)
	assert.Equal(t, "1-5759e988-bd862e3fe1be46a994272793", segs[0].TraceID)
	assert.True(t, segs[0].Fault, "the error is recorded")
	assert.Equal(t, "exec-1", segs[0].Annotations["execution"])
}

func TestInstrumentAWS(t *testing.T) {
	var mu sync.Mutex
	var traceHeaders []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		traceHeaders = append(traceHeaders, r.Header.Get(xray.TraceIDHeaderKey))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"QueueUrl":"http://example/q"}`))
	}))
	t.Cleanup(srv.Close)

	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	InstrumentAWS(&cfg)
	client := sqs.NewFromConfig(cfg)

	t.Run("outside a trace the call is silent and untraced", func(t *testing.T) {
		logs := captureDefaultLog(t)
		_, err := client.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String("q")})
		require.NoError(t, err)
		mu.Lock()
		assert.Equal(t, "", traceHeaders[len(traceHeaders)-1])
		mu.Unlock()
		assert.Empty(t, logs.String(), "no context-missing line")
	})

	t.Run("inside a trace the call is a subsegment and passes the header on", func(t *testing.T) {
		ctx, em := lambdaTrace(t)
		_, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("q")})
		require.NoError(t, err)
		mu.Lock()
		assert.Contains(t, traceHeaders[len(traceHeaders)-1], "Root=1-5759e988-bd862e3fe1be46a994272793")
		mu.Unlock()
		segs := em.emitted()
		require.Len(t, segs, 1)
		assert.Equal(t, "SQS", segs[0].Name)
		assert.Equal(t, "aws", segs[0].Namespace)
		assert.Equal(t, "GetQueueUrl", segs[0].GetAWS()["operation"])
	})
}

func BenchmarkTrace(b *testing.B) {
	fn := func(context.Context) error { return nil }
	b.Run("no segment", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			_ = Trace(ctx, "load", fn)
		}
	})
	b.Run("lambda trace", func(b *testing.B) {
		ctx, err := xray.ContextWithConfig(context.Background(), xray.Config{Emitter: discardEmitter{}})
		require.NoError(b, err)
		ctx = context.WithValue(ctx, xray.LambdaTraceHeaderKey, traceHeader)
		b.ReportAllocs()
		for b.Loop() {
			_ = Trace(ctx, "load", fn)
		}
	})
}

// discardEmitter drops segments so a long benchmark does not keep them all.
type discardEmitter struct{}

func (discardEmitter) Emit(*xray.Segment)                     {}
func (discardEmitter) RefreshEmitterWithAddress(*net.UDPAddr) {}

func BenchmarkLogWithFile(b *testing.B) {
	logger := NewLogger(io.Discard, slog.LevelInfo)
	ctx := WithFile(context.Background(), "bucket", "incoming/file.json", "v1")
	b.ReportAllocs()
	for b.Loop() {
		logger.InfoContext(ctx, "file accepted", Rows(100))
	}
}

func BenchmarkMetricsAdd(b *testing.B) {
	m := NewMetrics("loader", "dev")
	b.ReportAllocs()
	for b.Loop() {
		m.Add(RowsLoaded, 1)
	}
}
