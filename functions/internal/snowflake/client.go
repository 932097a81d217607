package snowflake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/snowflakedb/gosnowflake"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
)

// Pool size. A container runs one invocation at a time and a batch needs one session. The
// pool opens connections on demand, so the second one, for a statement that overlaps a
// running batch, costs a login only if it is ever used.
const (
	maxOpenConns = 2
	maxIdleConns = 2
)

// Client is the container's link to Snowflake. It opens its pool on first use and keeps it
// across invocations, so a warm container logs in once; it replaces the pool when the
// session behind it has died. Safe for concurrent use.
type Client struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	db *sql.DB

	logins atomic.Int64
}

// quietDriver turns the driver's own logger off, once per process. The driver writes plain
// text to stderr, which breaks a Lambda's JSON logs, and every error it would log is also
// returned to the loader, which logs it once, with the batch and the file, as JSON.
var quietDriver sync.Once

func silenceDriver() {
	quietDriver.Do(func() {
		l := gosnowflake.GetLogger()
		_ = l.SetLogLevel("OFF")
		// Entries made through WithContext skip the level switch; they go nowhere instead.
		l.SetOutput(io.Discard)
	})
}

// New checks cfg and returns a client that has not connected yet.
func New(cfg Config, log *slog.Logger) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	silenceDriver()
	if log == nil {
		log = slog.Default()
	}
	return &Client{cfg: cfg, log: log}, nil
}

// Logins counts the sessions this client opened: one per new driver connection.
func (c *Client) Logins() int64 { return c.logins.Load() }

// Close ends the sessions of the pool, if one is open.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db == nil {
		return nil
	}
	err := c.db.Close()
	c.db = nil
	return err
}

// Ping logs in if needed and runs a trivial statement. With AUTOCOMMIT off that statement
// opens a transaction, which the ROLLBACK ends: a session goes back to the pool with none.
func (c *Client) Ping(ctx context.Context) error {
	return c.withConn(ctx, "ping", func(conn *sql.Conn) error {
		if err := conn.PingContext(ctx); err != nil {
			return err
		}
		_, err := conn.ExecContext(ctx, "ROLLBACK")
		return err
	})
}

// pool returns the open pool, opening it on first use.
func (c *Client) pool() *sql.DB {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db == nil {
		// NewConnector never fails: the configuration is checked, and the login happens
		// only when the pool first asks for a connection.
		inner := gosnowflake.NewConnector(gosnowflake.SnowflakeDriver{}, *c.cfg.driverConfig())
		c.db = sql.OpenDB(countingConnector{Connector: inner, client: c})
		c.db.SetMaxOpenConns(maxOpenConns)
		c.db.SetMaxIdleConns(maxIdleConns)
	}
	return c.db
}

// drop closes db and forgets it, unless another goroutine already replaced it.
func (c *Client) drop(db *sql.DB) {
	c.mu.Lock()
	if c.db == db {
		c.db = nil
	}
	c.mu.Unlock()
	// Closing sends a logout for each idle session; for a dead session the server refuses
	// it and the driver only logs that.
	_ = db.Close()
}

// withConn runs fn on one connection, so that all its statements share a session (temporary
// tables and transactions are per session). When the session turns out to be dead, it drops
// the pool, logs in afresh and runs fn once more: fn must be safe to repeat, which a batch is
// because nothing of it commits before its last statement.
func (c *Client) withConn(ctx context.Context, op string, fn func(*sql.Conn) error) error {
	err := c.try(ctx, fn)
	if err != nil && deadSession(err) && ctx.Err() == nil {
		c.log.WarnContext(ctx, "snowflake session expired; logging in again",
			"account", c.cfg.Account, "user", c.cfg.User, "error", err.Error())
		err = c.try(ctx, fn)
	}
	if err == nil {
		return nil
	}
	e := &Error{Name: Classify(err), Op: op, Err: err}
	if e.Name == NameAuth {
		e.Hint = newAuthHint(c.cfg, err)
	}
	return e
}

// try runs fn once on a connection of the current pool and drops the pool if the session died.
func (c *Client) try(ctx context.Context, fn func(*sql.Conn) error) error {
	db := c.pool()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	err = fn(conn)
	if err != nil && deadSession(err) {
		// Returning ErrBadConn from Raw makes database/sql discard this connection instead
		// of pooling it again; the rest of the pool is dropped below, since its sessions
		// were opened as long ago and have most likely expired as well.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
		c.drop(db)
		return err
	}
	_ = conn.Close()
	return err
}

// countingConnector counts and logs each new driver connection: with WIF every connection is
// a login, so the count is the number of sessions this container opened. It also prepares
// each new session for batches (sessionSetup), so that a session opened again after its
// predecessor died is prepared like the first.
type countingConnector struct {
	driver.Connector
	client *Client
}

func (cc countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var conn driver.Conn
	err := obs.Trace(ctx, "snowflake login", func(ctx context.Context) error {
		var err error
		conn, err = cc.login(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	c := cc.client
	n := c.logins.Add(1)
	c.log.InfoContext(ctx, "snowflake login",
		"account", c.cfg.Account, "user", c.cfg.User, "role", c.cfg.Role, "logins", n)
	if err := setUp(ctx, conn, c.cfg); err != nil {
		// Closing logs the half-prepared session out; the pool never sees it.
		_ = conn.Close()
		return nil, err
	}
	c.sweepOrphans(ctx, conn)
	return conn, nil
}

// login opens a session within the configured login timeout. The driver passes ctx to every
// request of its login (the WIF attestation, the login request and its retries) and keeps
// it afterwards only to log with (gosnowflake v1.19.1: connection.go, buildSnowflakeConn
// stores it as sc.ctx, which auth.go's authenticateWithConfig uses for the login and
// connection.go's Close and cleanup only for logging), so a deadline on it bounds the whole
// login and nothing after it. Without it, an endpoint that accepts connections and never answers holds a
// login for MaxRetries+1 full request timeouts (see the Timeouts comment in config.go).
func (cc countingConnector) login(ctx context.Context) (driver.Conn, error) {
	timeout := cc.client.cfg.loginTimeout()
	loginCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := cc.Connector.Connect(loginCtx)
	if err != nil && ctx.Err() == nil && errors.Is(loginCtx.Err(), context.DeadlineExceeded) {
		host := cc.client.cfg.Host
		if host == "" {
			host = cc.client.cfg.Account + ".snowflakecomputing.com"
		}
		// The deadline is the cause, whatever error the driver made of it: the driver's text
		// is kept for the log, but only the deadline is wrapped, so the error is Transient.
		return nil, fmt.Errorf("login to %s did not complete within the login timeout of %s (the endpoint did not answer): %w (driver: %v)",
			host, timeout, context.DeadlineExceeded, err)
	}
	return conn, err
}

// setUp runs sessionSetup on a new driver connection.
func setUp(ctx context.Context, conn driver.Conn, cfg Config) error {
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		return fmt.Errorf("snowflake driver connection %T cannot execute statements directly", conn)
	}
	for _, q := range sessionSetup(cfg) {
		if _, err := ex.ExecContext(ctx, q, nil); err != nil {
			return fmt.Errorf("set up session (%s): %w", q, err)
		}
	}
	return nil
}
