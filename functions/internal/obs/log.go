// Package obs gives both Lambdas their JSON logs, X-Ray traces and CloudWatch metrics through one small API.
package obs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Stable log keys. Dashboards, Logs Insights queries and alarms select on these names, so
// they are part of the project's operating contract: change one only with its queries.
const (
	KeyRequestID = "request_id"
	KeyMessageID = "message_id"
	KeyExecution = "execution"
	KeyBucket    = "bucket"
	KeyS3Key     = "s3_key"
	KeyVersionID = "version_id"
	KeyOutcome   = "outcome"
	KeyRows      = "rows"
	KeyErrorName = "error_name"
)

// Outcomes of one file or message, the values of KeyOutcome.
const (
	OutcomeAccepted = "accepted"
	OutcomeRejected = "rejected"
	OutcomeSkipped  = "skipped"
	OutcomeLoaded   = "loaded"
	OutcomeFailed   = "failed"
)

// NewLogger returns a JSON logger writing to w. Its lines carry the Lambda request id and
// every attribute attached to the context with WithFile, WithMessage, WithExecution or
// WithAttrs. Keys follow Lambda's own JSON log format (timestamp, level, message), so
// Lambda's log-level filtering and CloudWatch Logs Insights read the lines as they are.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(ContextHandler(h))
}

// ParseLevel reads a level as LOG_LEVEL or AWS_LAMBDA_LOG_LEVEL spell it (TRACE, DEBUG,
// INFO, WARN, ERROR, FATAL, any case). Empty means INFO.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "INFO":
		return slog.LevelInfo, nil
	case "TRACE":
		return slog.LevelDebug - 4, nil
	case "DEBUG":
		return slog.LevelDebug, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	case "FATAL":
		return slog.LevelError + 4, nil
	}
	return 0, fmt.Errorf("log level %q is not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL", s)
}

// ContextHandler wraps h so that each record also carries the Lambda request id and the
// attributes attached to its context. Code that logs with slog.InfoContext(ctx, ...) thus
// names the file, message and execution it works on without repeating them at each call.
func ContextHandler(h slog.Handler) slog.Handler {
	return contextHandler{inner: h}
}

type contextHandler struct {
	inner slog.Handler
}

func (h contextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle adds the context's attributes to the record. The record is the handler's own copy
// (the logger made it for this call and keeps no other), so adding to it in place is safe.
func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String(KeyRequestID, lc.AwsRequestID))
	}
	if attrs, ok := ctx.Value(attrsKey{}).([]slog.Attr); ok {
		r.AddAttrs(attrs...)
	}
	return h.inner.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{inner: h.inner.WithAttrs(attrs)}
}

// WithGroup opens a group on the inner handler; context attributes of later records land
// inside it, as any attribute added at Handle time does in slog.
func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{inner: h.inner.WithGroup(name)}
}

type attrsKey struct{}

// WithAttrs returns a context whose log lines carry attrs. An attribute replaces one of the
// same key set by an outer context, so a line never names two files.
func WithAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	keys := make([]string, len(attrs))
	for i, a := range attrs {
		keys[i] = a.Key
	}
	return replace(ctx, keys, attrs)
}

// WithFile returns a context whose log lines name the S3 object they are about. An empty
// version (unversioned bucket) drops any version an outer context carried.
func WithFile(ctx context.Context, bucket, key, version string) context.Context {
	attrs := []slog.Attr{slog.String(KeyBucket, bucket), slog.String(KeyS3Key, key)}
	if version != "" {
		attrs = append(attrs, slog.String(KeyVersionID, version))
	}
	return replace(ctx, []string{KeyBucket, KeyS3Key, KeyVersionID}, attrs)
}

// WithMessage returns a context whose log lines name the SQS message they are about.
func WithMessage(ctx context.Context, messageID string) context.Context {
	return WithAttrs(ctx, slog.String(KeyMessageID, messageID))
}

// WithExecution returns a context whose log lines name the Step Functions execution (the
// load id) they belong to.
func WithExecution(ctx context.Context, name string) context.Context {
	return WithAttrs(ctx, slog.String(KeyExecution, name))
}

// replace stores a new attribute list: the outer one without the given keys, then attrs.
// Lists are never modified once stored, because contexts derived from the same parent share
// them.
func replace(ctx context.Context, drop []string, attrs []slog.Attr) context.Context {
	outer, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	merged := make([]slog.Attr, 0, len(outer)+len(attrs))
	for _, a := range outer {
		if !slices.Contains(drop, a.Key) {
			merged = append(merged, a)
		}
	}
	merged = append(merged, attrs...)
	return context.WithValue(ctx, attrsKey{}, merged)
}

// Outcome is the attribute saying what became of a file or message (OutcomeAccepted, ...).
func Outcome(v string) slog.Attr { return slog.String(KeyOutcome, v) }

// Rows is the attribute counting records loaded or checked.
func Rows(n int64) slog.Attr { return slog.Int64(KeyRows, n) }

// ErrorName is the attribute holding a documented error name such as Snowflake.Transient.
func ErrorName(name string) slog.Attr { return slog.String(KeyErrorName, name) }
