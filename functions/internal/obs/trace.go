package obs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-xray-sdk-go/instrumentation/awsv2"
	"github.com/aws/aws-xray-sdk-go/strategy/ctxmissing"
	"github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"
	"github.com/aws/smithy-go/middleware"
)

// Trace runs fn inside an X-Ray subsegment called name when the context belongs to a trace:
// in Lambda with active tracing the runtime puts the trace header in every invocation
// context. Without one (tests, local runs, the operator commands) fn runs directly: no
// segment is built, nothing is logged and no packet is sent, so the cost is two context
// look-ups.
func Trace(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if !traced(ctx) {
		return fn(ctx)
	}
	quietXRay()
	return xray.Capture(ctx, name, fn)
}

// Annotate adds an indexed annotation (searchable in the X-Ray console, e.g. the execution
// name) to the current subsegment. Without a segment it does nothing.
func Annotate(ctx context.Context, key, value string) {
	if xray.GetSegment(ctx) != nil {
		_ = xray.AddAnnotation(ctx, key, value)
	}
}

// InstrumentAWS makes every client built from cfg record its calls as X-Ray subsegments of
// the caller's trace and pass the trace header on. Calls made outside a trace go through
// untouched and silent.
func InstrumentAWS(cfg *aws.Config) {
	quietXRay()
	cfg.APIOptions = append(cfg.APIOptions, ignoreMissingSegment)
	awsv2.AWSV2Instrumentor(&cfg.APIOptions)
}

// traced reports whether ctx carries a segment or a Lambda trace header. The header key is
// the plain string the Lambda runtime stores it under.
func traced(ctx context.Context) bool {
	if xray.GetSegment(ctx) != nil {
		return true
	}
	h, _ := ctx.Value(xray.LambdaTraceHeaderKey).(string)
	return h != ""
}

// untraced is the recorder configuration given to AWS calls made outside a trace. X-Ray's
// middleware reports a missing segment through the context's strategy before the global
// one, and the global one follows AWS_XRAY_CONTEXT_MISSING, which Lambda sets to LOG_ERROR:
// without this every local AWS call would log an error line.
var untraced = &xray.Config{ContextMissingStrategy: ctxmissing.NewDefaultIgnoreErrorStrategy()}

func ignoreMissingSegment(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("ObsIgnoreMissingSegment",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if !traced(ctx) && xray.GetRecorder(ctx) == nil {
				ctx = context.WithValue(ctx, xray.RecorderContextKey{}, untraced)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

var quietOnce sync.Once

// quietXRay sends the X-Ray SDK's own log lines, plain text on stdout by default, to slog,
// so a Lambda's output stays one JSON object per line. The SDK's information lines (emitter
// address, segment begin/end) become debug lines; its warnings and errors become warnings,
// since a lost trace never fails a load.
func quietXRay() {
	quietOnce.Do(func() { xray.SetLogger(xrayLogger{}) })
}

type xrayLogger struct{}

func (xrayLogger) Log(level xraylog.LogLevel, msg fmt.Stringer) {
	l := slog.LevelDebug
	if level >= xraylog.LogLevelWarn {
		l = slog.LevelWarn
	}
	ctx := context.Background()
	if logger := slog.Default(); logger.Enabled(ctx, l) {
		logger.Log(ctx, l, msg.String(), "component", "xray")
	}
}
