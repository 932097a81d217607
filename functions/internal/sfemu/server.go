// Package sfemu emulates Snowflake's REST protocol on loopback over an embedded DuckDB, for tests and local runs; Lambda builds never link it.
package sfemu

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// Identity is a set of local AWS credentials whose SigV4 signatures the emulator verifies,
// and the caller identity STS would report for them.
type Identity struct {
	AccessKeyID, SecretAccessKey string
	// ARN the credentials stand for, e.g.
	// arn:aws:sts::123456789012:assumed-role/loader-role/loader-session.
	ARN string
}

// Env returns the AWS variables under which the Snowflake driver signs its attestation with
// these credentials, and nothing else: no session token, no profile or shared files, no
// instance metadata lookup.
func (id Identity) Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":           id.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       id.SecretAccessKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
		"AWS_PROFILE":                 "",
	}
}

// Config says where the data lives and whom the emulator lets in.
type Config struct {
	// Path is the DuckDB file; "" keeps everything in memory. The file persists between runs.
	Path string
	// Account is the expected ACCOUNT_NAME (compared case-insensitively); "" accepts any.
	Account string
	// Identities are the credentials whose signed STS requests the emulator accepts.
	Identities []Identity
	// Logger receives one record per login and statement; nil discards them.
	Logger *slog.Logger
	// Clock is the time signatures are checked against; nil is time.Now.
	Clock func() time.Time
	// MemoryLimit caps DuckDB's buffer memory (for example "256MB"); beyond it DuckDB spills
	// to disk, so a growing database does not grow the process. "" keeps DuckDB's default
	// (most of the machine's memory).
	MemoryLimit string
	// AbortIdleAfter is how long a transaction may stay idle while it blocks another one's
	// lock before it is aborted; 0 is Snowflake's 5 minutes. Tests shorten it.
	AbortIdleAfter time.Duration
	// MaxLockWaiters is how many statements may wait for one table lock before the next is
	// refused with 000625; 0 is 20, the limit Snowflake's clients report.
	MaxLockWaiters int
	// StageDir keeps the files of stages (PUT, COPY). "" is a directory beside Path, or a
	// temporary directory removed by Close when Path is "" too.
	StageDir string
	// StageLocation is where PUT tells the driver to upload: "S3" (this server's S3
	// endpoint over TLS, trusted through SSL_CERT_FILE = StageCertFile(), so the driver's
	// S3 upload and encryption run) or "LOCAL_FS" (a folder the driver writes into). "" is
	// LOCAL_FS.
	StageLocation string
	// MaxRequestBytes caps the body of a request, as Snowflake's front end does; 0 is
	// DefaultMaxRequestBytes. A larger body is refused with HTTP 413.
	MaxRequestBytes int64
	// InProgressAfter is how long a query request waits for its statement before it is
	// answered "in progress" with a URL the driver then asks, each time waiting as long
	// again (inprogress.go); 0 is DefaultInProgressAfter. Tests shorten it.
	InProgressAfter time.Duration
}

// DefaultMaxRequestBytes is the request body cap when Config.MaxRequestBytes is 0. Snowflake
// recommends keeping a statement, binds included, to 1 MB, and sends larger data through
// files (https://docs.snowflake.com/en/user-guide/query-size-limits). Snowflake itself still
// runs a larger statement, but truncates its text when it records it, so such a query cannot
// be retried or rerun; its own hard limit on a request is not documented. The emulator makes
// the recommendation a hard limit on purpose, stricter than Snowflake, so that a test proves
// no request of the loader depends on a size Snowflake only tolerates.
const DefaultMaxRequestBytes = 1 << 20

// Server is a Snowflake account on a loopback port.
//
// It serves the REST calls gosnowflake makes (login, query, token renewal, heartbeat,
// logout, telemetry) and accepts only WORKLOAD_IDENTITY logins with an AWS attestation it
// can verify. Statements are translated to DuckDB (package snowsql). The account maps onto
// one DuckDB database: Snowflake schema DB.SCHEMA is DuckDB schema "DB__SCHEMA", dynamic
// tables are views (always fresh), and users, roles, grants and warehouses are rows in
// schema _sfemu. Each session has its own DuckDB connection.
//
// Where Snowflake and DuckDB differ, the emulator takes Snowflake's side where it can: DDL
// commits an open transaction; PRIMARY KEY and UNIQUE are not enforced; a string stored
// into a VARIANT stays a string; writers of a table wait for each other's table lock instead
// of failing with a conflict, each statement reads what was committed before it began, and an
// idle transaction that blocks another is aborted (transactions.go describes the model).
// Known differences: TIMESTAMP_TZ values keep their instant but not their offset (they come
// back in UTC); a failed statement inside a transaction aborts the transaction (Snowflake
// keeps it open); INSERT takes its table's lock (Snowflake often lets INSERTs run side by
// side); a transaction that locks a table another one changed after its own first lock fails
// (Snowflake would show it the change); privileges granted on objects are recorded, not
// enforced.
type Server struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	db   *sql.DB
	ln   net.Listener
	http *http.Server
	host string
	port int

	stageRoot    string // Config.StageDir, resolved
	stageTempDir bool   // stageRoot is a temporary directory of this server
	s3           *s3Stage

	// locks are the table locks of open transactions. Snowflake makes a second writer of a
	// table wait for the first one's lock; DuckDB would instead fail one of them with a
	// conflict, so the emulator keeps Snowflake's locks itself.
	locks *lockTable

	mu       sync.Mutex
	sessions map[string]*session // by session token
	masters  map[string]*session // by master token
	nextID   int64
	faults   []Fault
	stats    Stats
	answers  map[string][]byte // query answers by requestId, for retried requests
	answerQ  []string
	inFlight map[string]context.CancelFunc // statements running, by requestId, for abort-request
	// runningQueries are statements whose answer may still be fetched, by query id
	// (inprogress.go).
	runningQueries map[string]*runningQuery
	closed         bool
}

// Start opens the database and serves Snowflake's REST API on 127.0.0.1 over plain http.
// ctx bounds start-up only; Close stops the server. A start that fails leaves nothing
// behind: no open database, listener or temporary folder.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      cfg.Clock,
		locks:    newLockTable(cfg.AbortIdleAfter, cfg.MaxLockWaiters),
		sessions: map[string]*session{},
		masters:  map[string]*session{},
		nextID:   time.Now().UnixNano() / 1e6 % 1e9 * 1000,
		answers:  map[string][]byte{},
		inFlight: map[string]context.CancelFunc{},

		runningQueries: map[string]*runningQuery{},
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	defer func() {
		if err != nil {
			s.abandon()
		}
	}()
	if err := s.openStages(); err != nil {
		return nil, err
	}
	switch cfg.StageLocation {
	case "", "LOCAL_FS":
	case "S3":
		if err := s.startS3Stage(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("sfemu: stage location %q is not S3 or LOCAL_FS", cfg.StageLocation)
	}
	connector, err := duckdb.NewConnector(cfg.Path, func(execer driver.ExecerContext) error {
		// Snowflake sessions here run in UTC (the TIMEZONE login parameter says so), and
		// DuckDB converts TIMESTAMPTZ to dates in its session time zone.
		if _, err := execer.ExecContext(context.Background(), "SET TimeZone = 'UTC'", nil); err != nil {
			return err
		}
		if cfg.MemoryLimit == "" {
			return nil
		}
		// Under a memory limit a batch's statements must fit it: DuckDB keeps a
		// transaction's new rows in memory until the COMMIT, and a parallel INSERT ... SELECT
		// holds a buffer per thread besides. One thread, and no insertion order to keep
		// (Snowflake keeps none either), let a 100,000-row batch load within 64 MB; with two
		// threads it did not.
		for _, q := range []string{
			"SET memory_limit = '" + strings.ReplaceAll(cfg.MemoryLimit, "'", "") + "'",
			"SET preserve_insertion_order = false",
			"SET threads = 1",
		} {
			if _, err := execer.ExecContext(context.Background(), q, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sfemu: open DuckDB %q: %w", cfg.Path, err)
	}
	s.db = sql.OpenDB(connector)
	if err := registerFunctions(ctx, s.db); err != nil {
		return nil, err
	}
	if err := s.initCatalog(ctx); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sfemu: listen on loopback: %w", err)
	}
	s.ln = ln
	addr := ln.Addr().(*net.TCPAddr)
	s.host, s.port = "127.0.0.1", addr.Port
	mux := http.NewServeMux()
	mux.HandleFunc("POST /session/v1/login-request", s.handleLogin)
	mux.HandleFunc("POST /session/token-request", s.handleRenew)
	mux.HandleFunc("POST /session/heartbeat", s.handleHeartbeat)
	mux.HandleFunc("POST /session", s.handleSession)
	mux.HandleFunc("POST /queries/v1/query-request", s.handleQuery)
	mux.HandleFunc("POST /queries/v1/abort-request", s.handleAbort)
	mux.HandleFunc("GET /queries/{id}/result", s.handleResult)
	mux.HandleFunc("POST /telemetry/send", s.handleTelemetry)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"success": false, "code": "390400", "message": "Unknown endpoint " + r.Method + " " + r.URL.Path, "data": nil})
	})
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	s.log.Info("snowflake emulator listening", "url", s.URL(), "path", cfg.Path)
	return s, nil
}

// Host is the address clients connect to.
func (s *Server) Host() string { return s.host }

// Port is the port clients connect to.
func (s *Server) Port() int { return s.port }

// URL is the base URL of the REST API.
func (s *Server) URL() string { return "http://" + net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Close stops serving, ends every session (rolling back open transactions) and closes the
// database, so the same Path can be opened again.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var all []*session
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.sessions, s.masters = map[string]*session{}, map[string]*session{}
	s.mu.Unlock()

	s.locks.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	for _, sess := range all {
		s.endSession(sess)
	}
	err = errors.Join(err, s.db.Close())
	if s.s3 != nil {
		s.s3.close()
	}
	if s.stageTempDir {
		for _, d := range s.stageDirs() {
			err = errors.Join(err, os.RemoveAll(d))
		}
	}
	return err
}

// abandon undoes what a failed Start had done.
func (s *Server) abandon() {
	if s.db != nil {
		_ = s.db.Close()
	}
	if s.s3 != nil {
		s.s3.close()
	}
	if s.stageTempDir {
		for _, d := range s.stageDirs() {
			_ = os.RemoveAll(d)
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// failure is Snowflake's answer to a refused request: HTTP 200 with success false.
func failure(code, message string, data any) map[string]any {
	return map[string]any{"data": data, "code": code, "message": message, "success": false, "headers": nil}
}

// sessionToken reads the token of an Authorization: Snowflake Token="..." header.
func sessionToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = `Snowflake Token="`
	if !strings.HasPrefix(h, prefix) || !strings.HasSuffix(h, `"`) {
		return ""
	}
	return h[len(prefix) : len(h)-1]
}

func (s *Server) handleTelemetry(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	writeJSON(w, http.StatusOK, map[string]any{"code": nil, "data": "Log Received", "message": nil, "success": true})
}
