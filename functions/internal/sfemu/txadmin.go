package sfemu

// Sessions and transactions: the session parameters of the model, SHOW TRANSACTIONS,
// SYSTEM$ABORT_TRANSACTION, and the cut-off client of Fault.Sever.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

// setParameters applies LOCK_TIMEOUT and STATEMENT_TIMEOUT_IN_SECONDS from an ALTER SESSION
// SET or UNSET. Both are whole seconds; LOCK_TIMEOUT 0 means a statement must get its lock at
// once, STATEMENT_TIMEOUT_IN_SECONDS 0 means Snowflake's maximum
// (https://docs.snowflake.com/en/sql-reference/parameters).
func (st *txState) setParameters(cmd *snowsql.Command) error {
	for _, p := range []struct {
		name string
		val  *time.Duration
		set  *bool
	}{
		{"LOCK_TIMEOUT", &st.lockTimeout, &st.lockTimeoutSet},
		{"STATEMENT_TIMEOUT_IN_SECONDS", &st.statementTimeout, &st.statementSet},
	} {
		if v, ok := cmd.Props[p.name]; ok {
			n, err := strconv.ParseInt(strings.Trim(v, "'"), 10, 64)
			if err != nil || n < 0 || n > 604800 {
				return compileError("invalid value [%s] for parameter '%s'", v, p.name)
			}
			*p.val, *p.set = time.Duration(n)*time.Second, true
		}
		for _, name := range cmd.Unset {
			if name == p.name {
				*p.val, *p.set = 0, false
			}
		}
	}
	return nil
}

// showTransactions answers SHOW TRANSACTIONS [IN ACCOUNT]: the running transactions of the
// session's user, or of every user for ACCOUNTADMIN with IN ACCOUNT
// (https://docs.snowflake.com/en/sql-reference/sql/show-transactions). started_on is a
// timestamp, so a client can tell how long each has been open.
func (s *Server) showTransactions(sess *session, cmd *snowsql.Command) *result {
	all := cmd.InKind == "ACCOUNT" && (sess.admin || sess.role == "ACCOUNTADMIN")
	list := s.locks.transactions(sess.user, all)
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	res := &result{typeID: typeShow}
	for _, c := range []string{"id", "user", "session", "name", "started_on", "state", "scope"} {
		res.columns = append(res.columns, textColumn(c))
	}
	res.columns[0] = fixedColumn("id", 19, 0)
	res.columns[2] = fixedColumn("session", 19, 0)
	res.columns[4] = column{Name: "started_on", Type: "timestamp_ltz", Nullable: true, Scale: i64(9)}
	for _, t := range list {
		state := "running"
		if t.blocked {
			state = "blocked"
		}
		res.rows = append(res.rows, []*string{
			ptr(strconv.FormatInt(t.id, 10)), ptr(t.user), ptr(strconv.FormatInt(t.session, 10)),
			ptr(t.name), ptr(epochText(t.started)), ptr(state), ptr("0"),
		})
	}
	return res
}

// abortCall runs SELECT SYSTEM$ABORT_TRANSACTION(id), with the id written out or bound. A
// user may abort their own transactions, ACCOUNTADMIN any
// (https://docs.snowflake.com/en/sql-reference/functions/system_abort_transaction).
func (s *Server) abortCall(sess *session, st *snowsql.Stmt, b *bindSet) (*result, bool, error) {
	m := abortCallText.FindStringSubmatch(st.Text)
	if m == nil {
		return nil, false, nil
	}
	arg := m[1]
	if arg == "?" {
		args, err := b.scalarArgs(1)
		if err != nil {
			return nil, true, err
		}
		if args[0] == nil {
			return nil, true, bindNotSet(1)
		}
		arg = fmt.Sprint(args[0])
	}
	id, err := strconv.ParseInt(strings.Trim(arg, "'"), 10, 64)
	if err != nil {
		return nil, true, compileError("SYSTEM$ABORT_TRANSACTION needs a transaction id, got %s", arg)
	}
	if err := s.abortByID(id, sess.user, sess.admin || sess.role == "ACCOUNTADMIN"); err != nil {
		return nil, true, err
	}
	v := fmt.Sprintf("Transaction %d aborted.", id)
	return &result{typeID: typeSelect, columns: []column{textColumn(fmt.Sprintf("SYSTEM$ABORT_TRANSACTION(%s)", m[1]))}, rows: [][]*string{{&v}}}, true, nil
}

var abortCallText = regexp.MustCompile(`(?is)^\s*SELECT\s+SYSTEM\$ABORT_TRANSACTION\s*\(\s*('?\d+'?|\?)\s*\)\s*;?\s*$`)

// isSevered reports whether the session's client was cut off (Fault.Sever).
func (s *Server) isSevered(sess *session) bool { return sess.severed.Load() }

// cut closes the request's connection without an answer, as a network cut looks to a
// client: the driver sees the connection drop.
func cut(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// running gives a statement its context. Snowflake keeps running a statement whose client
// stopped waiting for the answer (the driver then asks again with the same requestId, or
// polls); only an abort-request cancels it. So the statement's context does not end with the
// HTTP request, and is registered under its requestId for handleAbort.
func (s *Server) running(r *http.Request, requestID string) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	if requestID == "" {
		return ctx, cancel
	}
	s.mu.Lock()
	s.inFlight[requestID] = cancel
	s.mu.Unlock()
	return ctx, func() {
		s.mu.Lock()
		delete(s.inFlight, requestID)
		s.mu.Unlock()
		cancel()
	}
}

// handleAbort serves the driver's abort-request ({"requestId": ...}; abortRequestPath in
// gosnowflake's restful.go), sent when the caller's context ends while a statement runs: it
// cancels that statement, which then fails with 000604. A statement that is not running
// gets 000605, which the driver takes as done.
func (s *Server) handleAbort(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RequestID string `json:"requestId"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body)
	if s.liveSession(w, r) == nil {
		return
	}
	s.mu.Lock()
	cancel := s.inFlight[body.RequestID]
	s.mu.Unlock()
	if cancel == nil {
		writeJSON(w, http.StatusOK, failure("000605", "Identified SQL statement is not currently executing.", nil))
		return
	}
	cancel()
	writeJSON(w, http.StatusOK, map[string]any{"data": nil, "code": nil, "message": nil, "success": true})
}
