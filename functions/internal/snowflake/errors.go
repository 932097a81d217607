package snowflake

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"

	"github.com/snowflakedb/gosnowflake"
)

// Error names the state machine matches. They are part of the project's contract (README,
// statemachine/loader.asl.json): Transient ones are retried with backoff, the others go to
// the dead-letter path.
const (
	NameTransient = "Snowflake.Transient"
	NameAuth      = "Snowflake.Auth"
	NameSQL       = "Snowflake.Sql"
	// NameQuotaExceeded: a resource monitor suspended the warehouse because its credit quota
	// is used up (or the account's trial ended). No retry helps until a person raises the
	// quota, moves the loader to another warehouse or waits for the monitor's next period.
	NameQuotaExceeded = "Snowflake.QuotaExceeded"
	// NameBadRequest: Snowflake refused a request as malformed (HTTP 400, or another 4xx
	// the driver does not retry). Sending it again sends the same bytes.
	NameBadRequest = "Snowflake.BadRequest"
	// NameForbidden: HTTP 403 on a request of an open session: a network policy, private
	// connectivity settings or a proxy in between refused the Lambda's traffic.
	NameForbidden = "Snowflake.Forbidden"
	// NameRequestTooLarge: HTTP 413: a request body larger than Snowflake accepts.
	NameRequestTooLarge = "Snowflake.RequestTooLarge"
)

// Names lists every name Classify can return, for the README and state machine checks.
var Names = []string{NameTransient, NameAuth, NameSQL, NameQuotaExceeded, NameBadRequest, NameForbidden, NameRequestTooLarge}

// Error is a failed Snowflake operation with its documented name.
type Error struct {
	Name string // NameTransient, NameAuth or NameSQL
	Op   string // what was being done: "login", "load batch", ...
	Err  error
	// Hint is set for NameAuth errors: what a person must change in Snowflake.
	Hint *AuthHint
}

func (e *Error) Error() string { return fmt.Sprintf("snowflake: %s: %v", e.Op, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Server and driver error numbers the classifier looks at. Snowflake documents few of them;
// the comments give the message each comes with. Driver numbers come from gosnowflake's
// errors.go (v1.19.1, in the module cache); server numbers from the messages Snowflake sends.
const (
	codeMissingObject       = 2003   // SQL compilation error: Object '...' does not exist or not authorized.
	codeInvalidIdentifier   = 904    // SQL compilation error: invalid identifier '...'
	codeInsufficientPrivs   = 3001   // Insufficient privileges to operate on ...
	codeInternalError       = 603    // SQL execution internal error: Processing aborted due to error ... (SQLSTATE XX000)
	codeCanceled            = 604    // SQL execution canceled (also on STATEMENT_TIMEOUT_IN_SECONDS)
	codeWarehouseSuspended  = 608    // Warehouse '...' cannot be resumed / was suspended
	codeLockWaiters         = 625    // Statement ... has locked table ...: aborted waiting for the lock (waiters limit, LOCK_TIMEOUT)
	codeStatementTimeout    = 630    // Statement reached its statement or warehouse timeout
	codeWarehouseBusy       = 90073  // warehouse suspended or resuming (also carries the resource-monitor refusal, matched by text first)
	codeFailedToConnect     = 250001 // Failed to connect to DB (the demo's WIF refusal)
	codeSessionExpired      = 390112 // Your session has expired. Please login again.
	codeMasterTokenExpired  = 390114 // Authentication token has expired. The user must authenticate again.
	codeOAuthInvalid        = 390303
	codeOAuthExpired        = 390318
	codeConnectionRejected  = "08004" // SQLSTATE the driver gives every refused login
	codeConnectionException = "08"    // SQLSTATE class of connection failures
)

// Classify returns the documented name for err. Only errors that can pass on a later try are
// Transient; an error the classifier does not recognise is Snowflake.Sql, so an unknown
// failure reaches a person through the dead-letter queue instead of being retried forever.
func Classify(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Name
	}
	if errors.Is(err, errConcurrentLoad) {
		return NameTransient
	}
	var sf *gosnowflake.SnowflakeError
	if errors.As(err, &sf) {
		return classifyNumber(sf)
	}
	if transientError(err) {
		return NameTransient
	}
	return NameSQL
}

func classifyNumber(sf *gosnowflake.SnowflakeError) string {
	n := sf.Number
	switch {
	case quotaExceeded(sf.Message):
		// Checked first: the refusal comes with numbers that otherwise mean a warehouse that
		// is merely resuming (90073 has been seen with it), and retrying cannot help.
		return NameQuotaExceeded
	case n == codeSessionExpired || n == codeMasterTokenExpired || n == gosnowflake.ErrSessionGone:
		// Reaching a caller, an expired or closed session is one the recovery could not
		// replace within this invocation; the next attempt logs in afresh.
		return NameTransient
	case n == codeCanceled, n == codeWarehouseSuspended, n == codeLockWaiters,
		n == codeStatementTimeout, n == codeWarehouseBusy, n == codeInternalError:
		// 603 is Snowflake's own internal error (SQLSTATE XX000, a server fault, not a fault
		// of the statement); the transaction was rolled back, so running the batch again is safe.
		return NameTransient
	case n == gosnowflake.ErrFailedToPostQuery:
		return classifyHTTPStatus(sf)
	case n == gosnowflake.ErrCodeServiceUnavailable,
		n == gosnowflake.ErrFailedToRenewSession, n == gosnowflake.ErrFailedToCloseSession,
		n == gosnowflake.ErrFailedToGetChunk, n == gosnowflake.ErrFailedToHeartbeat,
		n == gosnowflake.ErrBindUpload, n == gosnowflake.ErrFailedToUploadToStage:
		return NameTransient
	case n == codeFailedToConnect, n == gosnowflake.ErrCodeFailedToConnect,
		n == gosnowflake.ErrFailedToAuth, n == codeOAuthInvalid, n == codeOAuthExpired,
		n >= 390100 && n < 390400:
		return NameAuth
	case strings.Contains(sf.Message, "is not granted to this user"):
		return NameAuth
	case sf.SQLState == codeConnectionRejected:
		// Any other refusal of a login is about who the caller is.
		return NameAuth
	case n == codeMissingObject, n == codeInvalidIdentifier, n == codeInsufficientPrivs:
		return NameSQL
	case strings.HasPrefix(sf.SQLState, codeConnectionException):
		return NameTransient
	}
	return NameSQL
}

// quotaExceeded recognises Snowflake's refusal to resume a warehouse whose resource monitor
// has used up its credit quota ("Warehouse 'X' cannot be resumed because resource monitor 'Y'
// has exceeded its quota."), and the same refusal once an account's trial has ended. See
// https://docs.snowflake.com/en/user-guide/resource-monitors: a monitor that reaches a
// SUSPEND or SUSPEND_IMMEDIATE trigger keeps its warehouses suspended until the next period,
// a higher quota, or the warehouse is removed from the monitor.
func quotaExceeded(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "resource monitor") && strings.Contains(m, "exceeded its quota") ||
		strings.Contains(m, "free trial has ended")
}

// classifyHTTPStatus names a request the driver gave up on at once because of its HTTP
// status (261000, "failed to POST. HTTP: <status>, URL: <url>"). The driver retries 5xx, 408
// and 429 by itself (retry.go, isRetryableStatus) and turns any other status of a statement
// request into this error (restful.go, postRestfulQueryHelper), so each of these would fail
// the same way again.
func classifyHTTPStatus(sf *gosnowflake.SnowflakeError) string {
	status := httpStatus(sf)
	switch {
	case status == http.StatusUnauthorized:
		return NameAuth
	case status == http.StatusForbidden:
		return NameForbidden
	case status == http.StatusRequestEntityTooLarge:
		return NameRequestTooLarge
	case status >= 400 && status < 500:
		return NameBadRequest
	}
	// No status, or one the driver should have retried: a later try may pass.
	return NameTransient
}

// httpStatus is the HTTP status a driver error carries as its first message argument, or 0.
func httpStatus(sf *gosnowflake.SnowflakeError) int {
	if len(sf.MessageArgs) > 0 {
		if status, ok := sf.MessageArgs[0].(int); ok {
			return status
		}
	}
	return 0
}

// transientError recognises failures below Snowflake's protocol: the network, timeouts, and
// the driver's plain "timeout after ... Hanging?" error once HTTP 5xx/429 retries run out.
func transientError(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE), errors.As(err, &netErr):
		return true
	}
	// The driver's text once its HTTP retries are spent, wrapped or not.
	msg := err.Error()
	return strings.Contains(msg, "timeout after ") && strings.Contains(msg, "Hanging?")
}

// deadSession reports whether err means the pooled connection's session cannot be used any
// more: the driver renews an expired session token by itself (390112), but when the master
// token has expired too (390114, a container idle for hours), or the server has closed the
// session (390111, gosnowflake.ErrSessionGone: "Session no longer exists. New login
// required to access the service."), it neither logs in again nor drops the connection, so
// every later statement on it fails the same way.
func deadSession(err error) bool {
	var sf *gosnowflake.SnowflakeError
	if errors.As(err, &sf) {
		return sf.Number == codeMasterTokenExpired || sf.Number == codeSessionExpired ||
			sf.Number == gosnowflake.ErrSessionGone || sf.Number == gosnowflake.ErrFailedToRenewSession
	}
	return errors.Is(err, driver.ErrBadConn)
}

// AuthHint is what a person needs to let the Lambda in: which identity Snowflake saw and the
// statements that make a user trust it.
type AuthHint struct {
	Account string
	User    string
	Role    string
	// PresentedARN is the caller identity Snowflake verified, as STS reports it
	// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION). Empty when the server did not say.
	PresentedARN string
	// RoleARN is the IAM role behind PresentedARN (arn:aws:iam::ACCOUNT:role/ROLE): the ARN a
	// Snowflake user's WORKLOAD_IDENTITY must name.
	RoleARN string
}

// presentedARN matches the ARN Snowflake quotes when no user trusts the caller:
// "...for the verified AWS Caller Identity with ARN 'arn:aws:sts::123456789012:assumed-role/ROLE/SESSION'".
var presentedARN = regexp.MustCompile(`ARN '(arn:(aws[a-z-]*):(?:sts|iam)::(\d{12}):(assumed-role|user|role)/([^/']+)[^']*)'`)

// newAuthHint fills a hint from the configuration and, when the server quoted it, the ARN the
// Lambda presented.
func newAuthHint(cfg Config, err error) *AuthHint {
	h := &AuthHint{Account: cfg.Account, User: cfg.User, Role: cfg.Role}
	m := presentedARN.FindStringSubmatch(err.Error())
	if m == nil {
		return h
	}
	h.PresentedARN = m[1]
	partition, account, kind, name := m[2], m[3], m[4], m[5]
	switch kind {
	case "assumed-role", "role":
		// STS drops the role's path from assumed-role ARNs; a role created under a path
		// (role/service-role/x) must be named with it, which only IAM can tell.
		h.RoleARN = fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, name)
	case "user":
		h.RoleARN = fmt.Sprintf("arn:%s:iam::%s:user/%s", partition, account, name)
	}
	return h
}

// trustedARN is the ARN the statements name: the derived role ARN, or a placeholder a person
// must fill in when the server did not quote the caller.
func (h AuthHint) trustedARN() string {
	if h.RoleARN != "" {
		return h.RoleARN
	}
	return "<IAM role ARN of the loader Lambda>"
}

// CreateUser is the statement that creates a service user trusting the Lambda's role.
func (h AuthHint) CreateUser() string {
	stmt := fmt.Sprintf("CREATE USER %s TYPE = SERVICE WORKLOAD_IDENTITY = (TYPE = AWS ARN = '%s')", h.User, h.trustedARN())
	if h.Role != "" {
		stmt += " DEFAULT_ROLE = " + h.Role
	}
	return stmt + ";"
}

// AlterUser is the statement that points an existing user at the Lambda's role.
func (h AuthHint) AlterUser() string {
	return fmt.Sprintf("ALTER USER %s SET WORKLOAD_IDENTITY = (TYPE = AWS ARN = '%s');", h.User, h.trustedARN())
}

// GrantRole is the statement that lets the user use the loader's role.
func (h AuthHint) GrantRole() string {
	if h.Role == "" {
		return ""
	}
	return fmt.Sprintf("GRANT ROLE %s TO USER %s;", h.Role, h.User)
}
