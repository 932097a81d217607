// Package snowflake connects to Snowflake with Workload Identity Federation, keeps one session per container, loads batches and names its errors.
package snowflake

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/snowflakedb/gosnowflake"
)

// Defaults name the objects sql/setup.sql and sql/lambda_wid.sql create.
const (
	DefaultUser      = "LAMBDA_LOADER_BOT"
	DefaultRole      = "LOADER_ROLE"
	DefaultWarehouse = "LOADER_WH"
	DefaultDatabase  = "LOADER_DB"
	DefaultSchema    = "RAW"
)

// Timeouts sized for a Lambda whose whole invocation has minutes, not the driver's defaults
// (a 300 s login and seven retries spanning about 90 s of sleep per request): a login that
// has not answered in LoginTimeout, or a request still failing after MaxRetries, is better
// reported as Snowflake.Transient and retried by the state machine with its own backoff.
//
// The driver alone does not enforce them against an endpoint that accepts connections and
// never answers: its retry loop (retry.go, retryHTTP.execute) subtracts only its sleeps from
// the login or request timeout, never the time an attempt spent waiting, and gives up after
// MaxRetries+1 attempts of ClientTimeout each. With a 90 s ClientTimeout a login took about
// 372 s. So the client bounds the whole login by LoginTimeout itself (Client's connector), and
// each HTTP attempt by RequestTimeout. A statement that runs longer than one attempt is not
// cut off: Snowflake answers a request for a running statement "in progress", and the driver
// asks for its result again (postRestfulQueryHelper in the driver's restful.go). The SQL API
// does so after 45 s, below RequestTimeout; so does the emulator (sfemu/inprogress.go).
const (
	DefaultLoginTimeout   = 30 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	DefaultMaxRetries     = 3
)

// Config says which account to reach and as whom. There is deliberately no password, token
// or key field: the identity is the Lambda's IAM role, attested to Snowflake by a signed STS
// request the driver builds from the role's temporary credentials.
type Config struct {
	Account   string
	User      string
	Role      string
	Warehouse string
	Database  string
	Schema    string

	// Host, Port and Protocol override the endpoint derived from Account: a PrivateLink host,
	// or the emulator on loopback. Empty or zero means the driver's default.
	Host     string
	Port     int
	Protocol string

	// TmpDir is where the driver may write temporary files (compression and encryption of
	// array binds it uploads to a stage). Lambda can write only under /tmp.
	TmpDir string

	// Zero values take the defaults above. Tests lower them so that a dead endpoint fails fast.
	LoginTimeout   time.Duration
	RequestTimeout time.Duration
	MaxRetries     int

	// LockTimeout and StatementTimeout set the session's LOCK_TIMEOUT and
	// STATEMENT_TIMEOUT_IN_SECONDS (whole seconds); zero takes DefaultLockTimeout and
	// DefaultStatementTimeout (locking.go). Both must stay below the loader's own timeout.
	LockTimeout      time.Duration
	StatementTimeout time.Duration
	// OrphanAge is the age past which a transaction of this user is aborted before a batch
	// as a dead loader's (orphans.go); zero takes DefaultOrphanAge.
	OrphanAge time.Duration
}

// DefaultConfig returns the configuration for account with the object names of sql/setup.sql.
func DefaultConfig(account string) Config {
	return Config{
		Account:   account,
		User:      DefaultUser,
		Role:      DefaultRole,
		Warehouse: DefaultWarehouse,
		Database:  DefaultDatabase,
		Schema:    DefaultSchema,
	}
}

// identifier is Snowflake's unquoted identifier grammar. User and role names end up in the
// CREATE USER statement logged on an authentication failure, so they must not need quoting.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,254}$`)

// Validate reports every problem at once, so a misconfigured function is fixed in one deploy.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Account) == "" {
		errs = append(errs, errors.New("account is required"))
	}
	for _, f := range []struct{ name, value string }{
		{"user", c.User}, {"role", c.Role}, {"warehouse", c.Warehouse},
		{"database", c.Database}, {"schema", c.Schema},
	} {
		if f.value != "" && !identifier.MatchString(f.value) {
			errs = append(errs, fmt.Errorf("%s %q is not an unquoted Snowflake identifier (letters, digits, _ and $)", f.name, f.value))
		}
	}
	if c.User == "" {
		errs = append(errs, errors.New("user is required (the SERVICE user that trusts the Lambda's role)"))
	}
	switch c.Protocol {
	case "", "http", "https":
	default:
		errs = append(errs, fmt.Errorf("protocol %q is not http or https", c.Protocol))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is out of range", c.Port))
	}
	if c.LockTimeout < 0 || c.StatementTimeout < 0 || c.OrphanAge < 0 {
		errs = append(errs, errors.New("lock and statement timeouts must not be negative"))
	}
	if c.LoginTimeout < 0 || c.RequestTimeout < 0 || c.MaxRetries < 0 {
		errs = append(errs, errors.New("timeouts and retries must not be negative"))
	}
	return errors.Join(errs...)
}

// driverConfig translates c into the driver's configuration.
func (c Config) driverConfig() *gosnowflake.Config {
	keepAlive := "true"
	return &gosnowflake.Config{
		Account:   c.Account,
		User:      c.User,
		Role:      c.Role,
		Warehouse: c.Warehouse,
		Database:  c.Database,
		Schema:    c.Schema,
		Host:      c.Host,
		Port:      c.Port,
		Protocol:  c.Protocol,

		Authenticator:            gosnowflake.AuthTypeWorkloadIdentityFederation,
		WorkloadIdentityProvider: "AWS",

		LoginTimeout:   c.loginTimeout(),
		RequestTimeout: orDuration(c.RequestTimeout, DefaultRequestTimeout),
		// Bound each HTTP attempt by the request timeout too; the driver's default is 900 s.
		// Long statements are not cut by it: Snowflake answers a statement that is still
		// running with code 333333 and the driver asks again with a new request
		// (restful.go, postRestfulQueryHelper, queryInProgressCode), so no single request
		// needs to wait for a statement to finish.
		ClientTimeout: orDuration(c.RequestTimeout, DefaultRequestTimeout),
		MaxRetryCount: orInt(c.MaxRetries, DefaultMaxRetries),
		TmpDirPath:    c.TmpDir,

		Params: map[string]*string{
			// A warm container may sit between invocations for up to an hour at a time; the
			// heartbeat keeps its session from expiring while the process runs. A frozen
			// container sends none, which is what the 390114 recovery in Client is for.
			"client_session_keep_alive": &keepAlive,
		},
	}
}

// loginTimeout is the configured login timeout or its default.
func (c Config) loginTimeout() time.Duration { return orDuration(c.LoginTimeout, DefaultLoginTimeout) }

func orDuration(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
