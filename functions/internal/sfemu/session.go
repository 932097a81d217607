package sfemu

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

const (
	sessionValidity = 3600  // seconds, as Snowflake reports a session token's life
	masterValidity  = 14400 // seconds, a master token's
)

// session is one Snowflake session: its tokens, its context (user, role, database,
// schema, warehouse) and its own DuckDB connection, so that temporary tables and
// transactions belong to it alone.
type session struct {
	id                    int64
	token, master         string
	tokenExpired, revoked bool
	user, role, account   string
	database, schema      string
	warehouse             string
	admin                 bool

	// mu serialises the session's statements, as Snowflake runs one at a time per session.
	mu     sync.Mutex
	conn   *sql.Conn
	temps  map[string]bool // temporary tables, by DB.SCHEMA.TABLE
	vars   map[string]snowsql.Var
	inTx   bool // the client sent BEGIN, or a statement opened a transaction with AUTOCOMMIT off
	duckTx bool // a DuckDB transaction is open
	closed bool
	// severed is set when the session's client is cut off mid-transaction (Fault.Sever).
	severed atomic.Bool
	txState // its transaction, locks and timeouts (transactions.go)

	// manualCommit is AUTOCOMMIT = FALSE: a statement run outside a transaction opens one,
	// which lasts until COMMIT, ROLLBACK or a statement that commits by itself (DDL).
	manualCommit bool
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tempKey(db, schema, table string) string { return db + "." + schema + "." + table }

func (sess *session) env() *snowsql.Env {
	return &snowsql.Env{
		Database: sess.database, Schema: sess.schema, Warehouse: sess.warehouse,
		User: sess.user, Role: sess.role, Account: sess.account, Region: "AWS_US_EAST_1",
		SessionID: sess.id,
		IsTemp: func(db, schema, table string) bool {
			return sess.temps[tempKey(db, schema, table)]
		},
	}
}

// openSession makes a session with its own DuckDB connection.
func (s *Server) openSession(ctx context.Context, sess *session) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	sess.conn = conn
	sess.temps = map[string]bool{}
	sess.vars = map[string]snowsql.Var{}
	sess.token, sess.master = newToken(), newToken()
	s.mu.Lock()
	s.nextID++
	sess.id = s.nextID
	if !sess.admin {
		s.sessions[sess.token] = sess
		s.masters[sess.master] = sess
	}
	s.mu.Unlock()
	return nil
}

// endSession rolls back what the session left open and gives back its connection.
func (s *Server) endSession(sess *session) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.closed {
		return
	}
	sess.closed = true
	_ = s.endTx(context.Background(), sess, false)
	_ = sess.conn.Close()
}

// lookup finds the session of a request's token. A token that was renewed away or never
// issued gives Snowflake's "session no longer exists"; an expired one gives 390112, which
// makes the driver renew it with the master token.
func (s *Server) lookup(r *http.Request) (*session, map[string]any) {
	tok := sessionToken(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[tok]
	switch {
	case sess == nil:
		return nil, failure("390111", "Session no longer exists.  New login required to access the service.", nil)
	case sess.tokenExpired:
		return nil, failure("390112", "Your session has expired. Please login again.", nil)
	}
	return sess, nil
}

// liveSession finds the request's session as lookup does and answers the request itself
// when there is none or its client was cut off (Fault.Sever); it then returns nil.
func (s *Server) liveSession(w http.ResponseWriter, r *http.Request) *session {
	sess, fail := s.lookup(r)
	if fail != nil {
		writeJSON(w, http.StatusOK, fail)
		return nil
	}
	if s.isSevered(sess) {
		cut(w)
		return nil
	}
	return sess
}

func (s *Server) handleRenew(w http.ResponseWriter, r *http.Request) {
	var body struct {
		OldSessionToken string `json:"oldSessionToken"`
		RequestType     string `json:"requestType"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body)
	master := sessionToken(r)
	s.mu.Lock()
	sess := s.masters[master]
	if sess == nil || sess.revoked || !strings.EqualFold(body.RequestType, "RENEW") {
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, failure("390114", "Authentication token has expired.  The user must authenticate again.", nil))
		return
	}
	delete(s.sessions, sess.token)
	delete(s.masters, sess.master)
	sess.token, sess.master, sess.tokenExpired = newToken(), newToken(), false
	s.sessions[sess.token] = sess
	s.masters[sess.master] = sess
	s.stats.Renewals++
	data := map[string]any{
		"sessionToken": sess.token, "validityInSecondsST": sessionValidity,
		"masterToken": sess.master, "validityInSecondsMT": masterValidity, "sessionId": sess.id,
	}
	s.mu.Unlock()
	s.log.Info("session renewed", "session", sess.id, "user", sess.user)
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "code": nil, "message": nil, "success": true})
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if s.liveSession(w, r) == nil {
		return
	}
	s.mu.Lock()
	s.stats.Heartbeats++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": nil, "code": nil, "message": nil, "success": true})
}

// handleSession serves POST /session?delete=true, the driver's logout.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if r.URL.Query().Get("delete") != "true" {
		writeJSON(w, http.StatusOK, failure("390400", "Unsupported session request.", nil))
		return
	}
	tok := sessionToken(r)
	s.mu.Lock()
	sess := s.sessions[tok]
	severed := sess != nil && s.isSevered(sess)
	if sess != nil && !severed {
		delete(s.sessions, sess.token)
		delete(s.masters, sess.master)
		s.stats.Closes++
	}
	s.mu.Unlock()
	if severed {
		cut(w)
		return
	}
	if sess == nil {
		writeJSON(w, http.StatusOK, failure("390111", "Session no longer exists.  New login required to access the service.", nil))
		return
	}
	s.endSession(sess)
	s.log.Info("session closed", "session", sess.id, "user", sess.user)
	writeJSON(w, http.StatusOK, map[string]any{"data": nil, "code": nil, "message": nil, "success": true})
}

// ExpireSessions makes the next request of every current session fail with 390112, as
// when a session token outlives its hour; the driver then renews it with the master token.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		sess.tokenExpired = true
	}
}

// ExpireMasterTokens expires every current session and its master token: the next request
// gets 390112, the driver's renewal gets 390114, and the session is gone for good. The
// driver does not log in again by itself; the client must drop its connection pool.
func (s *Server) ExpireMasterTokens() {
	s.mu.Lock()
	var dead []*session
	for _, sess := range s.sessions {
		sess.tokenExpired, sess.revoked = true, true
		dead = append(dead, sess)
	}
	s.mu.Unlock()
	// The sessions can never run a statement again: their transactions end now, as a
	// Snowflake session's do when it times out.
	for _, sess := range dead {
		s.endSession(sess)
	}
}
