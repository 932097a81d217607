package snowflake

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sfErr(number int, sqlState, message string) error {
	return &gosnowflake.SnowflakeError{Number: number, SQLState: sqlState, Message: message}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		// Authentication: who the Lambda is, or what it may be.
		{"no user trusts the role (the demo's error)", sfErr(250001, "08001",
			"Failed to connect to DB. Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN 'arn:aws:sts::123456789012:assumed-role/r/s'"), NameAuth},
		{"HTTP 401 or 403 on login", sfErr(gosnowflake.ErrCodeFailedToConnect, "08004", "failed to connect to db"), NameAuth},
		{"login refused for an unknown reason", sfErr(gosnowflake.ErrFailedToAuth, "08004", "failed to auth for unknown reason"), NameAuth},
		{"incorrect user or password", sfErr(390100, "08004", "Incorrect username or password was specified."), NameAuth},
		{"invalid account", sfErr(390144, "08004", "JWT token is invalid."), NameAuth},
		{"role not granted", sfErr(390189, "08004", "Role 'LOADER_ROLE' specified in the connect string is not granted to this user."), NameAuth},
		{"role not granted, other number", sfErr(251005, "", "Role 'X' specified in the connect string is not granted to this user."), NameAuth},
		{"any other refused login", sfErr(123456, "08004", "refused"), NameAuth},

		// Transient: retry later.
		{"session expired beyond renewal", sfErr(390114, "", "Authentication token has expired."), NameTransient},
		{"session expired", sfErr(390112, "", "Your session has expired."), NameTransient},
		{"statement timeout", sfErr(630, "57014", "Statement reached its statement or warehouse timeout of 120 second(s) and was canceled."), NameTransient},
		{"statement canceled", sfErr(604, "57014", "SQL execution canceled"), NameTransient},
		{"warehouse suspended", sfErr(608, "57P03", "Warehouse 'LOADER_WH' cannot be resumed"), NameTransient},
		{"lock waiters", sfErr(625, "57014", "Statement was aborted because the number of waiters for this lock exceeds the 20 statements limit."), NameTransient},
		{"warehouse busy", sfErr(90073, "", "warehouse is resuming"), NameTransient},
		{"session closed by the server", sfErr(390111, "08003", "Session no longer exists.  New login required to access the service."), NameTransient},
		{"internal error", sfErr(603, "XX000", "SQL execution internal error: Processing aborted due to error 300002:1326138335; incident 8013093."), NameTransient},
		{"failed POST without a status", sfErr(gosnowflake.ErrFailedToPostQuery, "08006", "failed to POST. HTTP: %v, URL: %v"), NameTransient},
		{"renewal over HTTP failed", sfErr(gosnowflake.ErrFailedToRenewSession, "08006", "failed to renew session"), NameTransient},
		{"5xx retries exhausted", errors.New("timeout after 5s and 3 attempts. HTTP Status: 503. Hanging?"), NameTransient},
		{"connection refused", &url.Error{Op: "Post", URL: "https://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}, NameTransient},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), NameTransient},
		{"deadline", fmt.Errorf("exec: %w", context.DeadlineExceeded), NameTransient},
		{"dead connection", driver.ErrBadConn, NameTransient},
		{"concurrent load of a key", fmt.Errorf("merge: %w", errConcurrentLoad), NameTransient},

		// Permanent refusals of a request by its HTTP status (the driver retries 5xx, 408, 429).
		{"HTTP 400", httpErr(400), NameBadRequest},
		{"HTTP 401", httpErr(401), NameAuth},
		{"HTTP 403", httpErr(403), NameForbidden},
		{"HTTP 404", httpErr(404), NameBadRequest},
		{"HTTP 413", httpErr(413), NameRequestTooLarge},

		// Quota: no retry helps until a person acts.
		{"resource monitor quota, as 90073", sfErr(90073, "57P03", "Warehouse 'LOADER_WH' cannot be resumed because resource monitor 'LOADER_RM' has exceeded its quota."), NameQuotaExceeded},
		{"resource monitor quota, as 608", sfErr(608, "57P03", "Warehouse 'LOADER_WH' cannot be resumed because resource monitor 'LOADER_RM' has exceeded its quota."), NameQuotaExceeded},
		{"trial ended", sfErr(90073, "57P03", "Your free trial has ended and all of your virtual warehouses have been suspended. Add billing information in the Snowflake web UI to continue using the full set of Snowflake features."), NameQuotaExceeded},

		// SQL: the schema or the grants are not what the loader needs.
		{"missing object", sfErr(2003, "42S02", "SQL compilation error:\nObject 'RAW_DATA' does not exist or not authorized."), NameSQL},
		{"invalid identifier", sfErr(904, "42000", "SQL compilation error: invalid identifier 'X'"), NameSQL},
		{"insufficient privileges", sfErr(3001, "42501", "Insufficient privileges to operate on table 'RAW_DATA'"), NameSQL},
		{"syntax error", sfErr(1003, "42000", "SQL compilation error:\nsyntax error line 1"), NameSQL},
		{"unknown plain error", errors.New("something else"), NameSQL},

		// Already classified errors keep their name through wrapping.
		{"wrapped classified error", fmt.Errorf("load: %w", &Error{Name: NameAuth, Op: "login", Err: errors.New("x")}), NameAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Classify(tt.err))
		})
	}
}

// httpErr is the driver's error for a statement request answered with status (restful.go).
func httpErr(status int) error {
	return &gosnowflake.SnowflakeError{Number: gosnowflake.ErrFailedToPostQuery, SQLState: "08006",
		Message: "failed to POST. HTTP: %v, URL: %v", MessageArgs: []any{status, "https://x/queries/v1/query-request"}}
}

func TestDeadSession(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"master token expired", sfErr(390114, "", "Authentication token has expired."), true},
		{"session expired and not renewed", sfErr(390112, "", "Your session has expired."), true},
		{"renewal failed", sfErr(gosnowflake.ErrFailedToRenewSession, "08006", "failed to renew"), true},
		{"session closed by the server", sfErr(390111, "08003", "Session no longer exists."), true},
		{"bad connection", fmt.Errorf("exec: %w", driver.ErrBadConn), true},
		{"SQL error", sfErr(2003, "42S02", "missing"), false},
		{"network error", syscall.ECONNRESET, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, deadSession(tt.err))
		})
	}
}

func TestAuthHint(t *testing.T) {
	cfg := Config{Account: "myorg-acct", User: "LAMBDA_LOADER_BOT", Role: "LOADER_ROLE"}
	tests := []struct {
		name      string
		message   string
		presented string
		roleARN   string
	}{
		{
			name:      "assumed role",
			message:   "Failed to connect to DB. Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN 'arn:aws:sts::123456789012:assumed-role/loader-role/loader-fn'",
			presented: "arn:aws:sts::123456789012:assumed-role/loader-role/loader-fn",
			roleARN:   "arn:aws:iam::123456789012:role/loader-role",
		},
		{
			name:      "other partition",
			message:   "with ARN 'arn:aws-cn:sts::123456789012:assumed-role/r/s'",
			presented: "arn:aws-cn:sts::123456789012:assumed-role/r/s",
			roleARN:   "arn:aws-cn:iam::123456789012:role/r",
		},
		{
			name:      "IAM user",
			message:   "with ARN 'arn:aws:iam::123456789012:user/ci'",
			presented: "arn:aws:iam::123456789012:user/ci",
			roleARN:   "arn:aws:iam::123456789012:user/ci",
		},
		{name: "no ARN in the message", message: "Incorrect username or password was specified."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newAuthHint(cfg, sfErr(250001, "08004", tt.message))
			assert.Equal(t, tt.presented, h.PresentedARN)
			assert.Equal(t, tt.roleARN, h.RoleARN)
			assert.Equal(t, "myorg-acct", h.Account)
			if tt.roleARN != "" {
				assert.Equal(t, "CREATE USER LAMBDA_LOADER_BOT TYPE = SERVICE WORKLOAD_IDENTITY = (TYPE = AWS ARN = '"+tt.roleARN+"') DEFAULT_ROLE = LOADER_ROLE;", h.CreateUser())
				assert.Equal(t, "ALTER USER LAMBDA_LOADER_BOT SET WORKLOAD_IDENTITY = (TYPE = AWS ARN = '"+tt.roleARN+"');", h.AlterUser())
			} else {
				assert.Contains(t, h.CreateUser(), "<IAM role ARN of the loader Lambda>")
			}
			assert.Equal(t, "GRANT ROLE LOADER_ROLE TO USER LAMBDA_LOADER_BOT;", h.GrantRole())
		})
	}
}

func TestErrorUnwraps(t *testing.T) {
	inner := sfErr(2003, "42S02", "missing")
	err := fmt.Errorf("handler: %w", &Error{Name: NameSQL, Op: "load batch", Err: inner})
	var sf *gosnowflake.SnowflakeError
	require.ErrorAs(t, err, &sf)
	assert.Equal(t, 2003, sf.Number)
}
