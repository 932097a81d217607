package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/snowflake"
)

// Error names of the S3 and data side. With the Snowflake ones (snowflake.NameTransient,
// NameAuth, NameSQL, ...) they are the loader's whole error vocabulary; the state machine
// retries the Transient ones and sends the batch to the dead-letter queue on any other.
//
// There is no error for an object that changed or vanished after validation: such a file is
// skipped with status superseded and the rest of its batch loads (see supersededReason).
const (
	NameS3Transient = "S3.Transient"
	NameS3NotFound  = "S3.NotFound"
	NameDataInvalid = "Data.Invalid"
	// NamePanic is a defect of the loader itself: the same batch would fail the same way, so
	// it is not retried.
	NamePanic = "Loader.Panic"
)

// FileError is a failure tied to one file of the batch.
type FileError struct {
	Name      string
	Bucket    string
	Key       string
	VersionID string
	// Rule and Line locate a content problem (Data.Invalid); zero otherwise.
	Rule string
	Line int64
	Err  error
}

// Error names the object; a content error's own text gives the line, record and rule.
func (e *FileError) Error() string { return fmt.Sprintf("%s: %v", e.object(), e.Err) }

func (e *FileError) Unwrap() error { return e.Err }

func (e *FileError) object() string {
	s := fmt.Sprintf("s3://%s/%s", e.Bucket, e.Key)
	if e.VersionID != "" {
		s += " (version " + e.VersionID + ")"
	}
	return s
}

// advice tells the person reading the dead-letter queue or the logs what to do about each name.
var advice = map[string]string{
	NameS3Transient:         "S3 did not answer; the state machine retries the batch, and one that reaches the dead-letter queue this way loads when redriven once S3 answers.",
	NameS3NotFound:          "the loader's role may not read the object, or the bucket does not exist; grant s3:GetObject, s3:GetObjectVersion and s3:ListBucket (or fix the bucket name) and redrive the message. Every file of the batch is in the message: dropping it drops them all.",
	NameDataInvalid:         "the file or the execution input is not what the validator produced, or the batch is larger than the loader may hold; the message names every file of the batch, so once the cause is fixed (the file, or the validator's BATCH_MAX_BYTES) redrive it rather than drop it: the validator checks and batches its files again.",
	snowflake.NameTransient: "Snowflake was unavailable or busy; the state machine retries the batch for more than 5 minutes, and one that reaches the dead-letter queue this way loads when redriven once Snowflake answers.",
	snowflake.NameAuth:      "Snowflake refused the Lambda's identity; run the statements in the loader's log line (create_user, grant_role), then redrive the message.",
	snowflake.NameSQL:       "a Snowflake statement failed; check that sql/setup.sql ran and the loader's role has its grants, then redrive the message.",
	snowflake.NameQuotaExceeded: "a resource monitor has suspended the warehouse because its credit quota is used up, and retrying cannot resume it; " +
		"raise the monitor's quota (ALTER RESOURCE MONITOR <name> SET CREDIT_QUOTA = <credits>), take the warehouse off the monitor, or wait for the monitor's next period, then redrive the message.",
	snowflake.NameBadRequest: "Snowflake refused the request as malformed (the HTTP status and URL are above), and sending it again sends the same bytes; " +
		"check that nothing between the Lambda and Snowflake rewrites requests, then redrive the message.",
	snowflake.NameForbidden: "Snowflake, or a proxy or firewall in front of it, refused the Lambda's traffic (HTTP 403); " +
		"check the account's network policy (it must allow the Lambda's egress IP or VPC endpoint) and SNOWFLAKE_HOST (a PrivateLink host when public access is off), then redrive the message.",
	NamePanic: "this is a defect of the loader, not of the data or the configuration; the log line 'the loader panicked' has the stack. " +
		"Nothing of the batch was committed unless its COMMIT had completed, and loading it again never duplicates rows: report the defect, and redrive the message once a fixed loader is deployed.",
	snowflake.NameRequestTooLarge: "a request was larger than Snowflake accepts (HTTP 413); lower the validator's BATCH_MAX_BYTES, then redrive the message: the validator batches its files again.",
}

// Names lists every error name the loader returns; the README's error table and the state
// machine's Retry and Catch lists are checked against it.
func Names() []string {
	return append([]string{NameS3Transient, NameS3NotFound, NameDataInvalid, NamePanic}, snowflake.Names...)
}

// nameOf returns the documented name of err.
func nameOf(err error) string {
	var fe *FileError
	if errors.As(err, &fe) {
		return fe.Name
	}
	var in *inputError
	if errors.As(err, &in) {
		return NameDataInvalid
	}
	return snowflake.Classify(err)
}

// inputError is an execution input the loader cannot work with.
type inputError struct{ err error }

func (e *inputError) Error() string { return "execution input: " + e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// invokeError is what Lambda reports: Step Functions matches Type. It must be the value, not
// a pointer: the runtime recognises the type with a plain type assertion on the value and
// would otherwise report the Go type name "InvokeResponse_Error".
func invokeError(name string, err error) messages.InvokeResponse_Error {
	msg := err.Error()
	if a := advice[name]; a != "" {
		msg += " — " + a
	}
	return messages.InvokeResponse_Error{Type: name, Message: msg}
}

// panicked, deferred by Handle, turns a panic into Loader.Panic. Left alone, the Lambda Go
// runtime would report it under the Go type of the panic value ("boundsError", "string"),
// a name the state machine and the README know nothing of. It logs the stack and panics
// again with a messages.InvokeResponse_Error, which the runtime reports as it is, with
// ShouldExit so that it still ends this execution environment, whose state the panic may
// have left half-changed (lambdaPanicResponse and callBytesHandlerFunc in aws-lambda-go's
// lambda/errors.go and lambda/invoke_loop.go).
func (h *Handler) panicked(ctx context.Context, loadID string) {
	v := recover()
	if v == nil {
		return
	}
	if ive, ok := v.(messages.InvokeResponse_Error); ok {
		panic(ive)
	}
	err := fmt.Errorf("the loader panicked: %v", v)
	h.logger().ErrorContext(ctx, "the loader panicked",
		slog.String("load_id", loadID), slog.String("error_name", NamePanic),
		slog.String("error", err.Error()), slog.String("stack", string(debug.Stack())))
	ive := invokeError(NamePanic, err)
	ive.ShouldExit = true
	panic(ive)
}

// errorAttrs are the log attributes that locate err and, for an authentication failure, say
// how to fix it.
func errorAttrs(err error) []any {
	var attrs []any
	var fe *FileError
	if errors.As(err, &fe) {
		attrs = append(attrs, slog.String("bucket", fe.Bucket), slog.String("s3_key", fe.Key))
		if fe.VersionID != "" {
			attrs = append(attrs, slog.String("version_id", fe.VersionID))
		}
		if fe.Rule != "" {
			attrs = append(attrs, slog.String("rule", fe.Rule), slog.Int64("line", fe.Line))
		}
	}
	var se *snowflake.Error
	if errors.As(err, &se) && se.Hint != nil {
		h := se.Hint
		attrs = append(attrs,
			slog.String("account", h.Account),
			slog.String("user", h.User),
			slog.String("role", h.Role),
			slog.String("presented_arn", h.PresentedARN),
			slog.String("role_arn", h.RoleARN),
			slog.String("create_user", h.CreateUser()),
			slog.String("alter_user", h.AlterUser()),
			slog.String("grant_role", h.GrantRole()),
		)
	}
	return attrs
}
