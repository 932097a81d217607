package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logLine logs one line through a fresh logger and returns it decoded.
func logLine(t *testing.T, ctx context.Context, level slog.Level, msg string, args ...any) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	NewLogger(&buf, slog.LevelDebug).Log(ctx, level, msg, args...)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 1, "one JSON line per record")
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
	return got
}

func TestLoggerAddsContextAttributes(t *testing.T) {
	lambdaCtx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	tests := []struct {
		name    string
		ctx     context.Context
		args    []any
		want    map[string]any
		missing []string
	}{
		{
			name:    "plain context has no request id",
			ctx:     context.Background(),
			want:    map[string]any{"message": "hello", "level": "INFO"},
			missing: []string{KeyRequestID, KeyBucket},
		},
		{
			name: "lambda request id",
			ctx:  lambdaCtx,
			want: map[string]any{KeyRequestID: "req-1"},
		},
		{
			name: "file, message and execution",
			ctx:  WithExecution(WithMessage(WithFile(lambdaCtx, "b", "incoming/a.json", "v1"), "m-1"), "exec-1"),
			args: []any{Rows(42), Outcome(OutcomeAccepted)},
			want: map[string]any{
				KeyRequestID: "req-1", KeyBucket: "b", KeyS3Key: "incoming/a.json", KeyVersionID: "v1",
				KeyMessageID: "m-1", KeyExecution: "exec-1", KeyRows: float64(42), KeyOutcome: "accepted",
			},
		},
		{
			name:    "inner file replaces outer file and its version",
			ctx:     WithFile(WithFile(context.Background(), "b", "incoming/old.json", "v1"), "b", "incoming/new.json", ""),
			want:    map[string]any{KeyS3Key: "incoming/new.json"},
			missing: []string{KeyVersionID},
		},
		{
			name: "error name",
			ctx:  context.Background(),
			args: []any{ErrorName("Snowflake.Auth")},
			want: map[string]any{KeyErrorName: "Snowflake.Auth"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := logLine(t, tt.ctx, slog.LevelInfo, "hello", tt.args...)
			for k, v := range tt.want {
				assert.Equal(t, v, got[k], "key %s", k)
			}
			for _, k := range tt.missing {
				assert.NotContains(t, got, k)
			}
			assert.Contains(t, got, "timestamp", "Lambda's JSON key names")
		})
	}
}

func TestWithFileLeavesParentUntouched(t *testing.T) {
	parent := WithFile(context.Background(), "b", "incoming/a.json", "v1")
	_ = WithFile(parent, "b", "incoming/b.json", "v2")
	got := logLine(t, parent, slog.LevelInfo, "x")
	assert.Equal(t, "incoming/a.json", got[KeyS3Key])
	assert.Equal(t, "v1", got[KeyVersionID])
}

func TestLoggerLevel(t *testing.T) {
	var buf bytes.Buffer
	logger := NewLogger(&buf, slog.LevelWarn)
	logger.InfoContext(context.Background(), "dropped")
	logger.WarnContext(context.Background(), "kept")
	assert.NotContains(t, buf.String(), "dropped")
	assert.Contains(t, buf.String(), "kept")
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    slog.Level
		wantErr bool
	}{
		{name: "empty is info", in: "", want: slog.LevelInfo},
		{name: "lower case", in: "debug", want: slog.LevelDebug},
		{name: "lambda trace", in: "TRACE", want: slog.LevelDebug - 4},
		{name: "warn", in: "WARN", want: slog.LevelWarn},
		{name: "warning", in: "warning", want: slog.LevelWarn},
		{name: "error with spaces", in: " ERROR ", want: slog.LevelError},
		{name: "lambda fatal", in: "FATAL", want: slog.LevelError + 4},
		{name: "unknown", in: "LOUD", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), `"LOUD"`)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
