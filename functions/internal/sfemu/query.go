package sfemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

type queryRequest struct {
	SQLText      string          `json:"sqlText"`
	SequenceID   uint64          `json:"sequenceId"`
	DescribeOnly bool            `json:"describeOnly"`
	Parameters   map[string]any  `json:"parameters"`
	Bindings     map[string]bind `json:"-"`
	BindStage    string          `json:"bindStage"`
}

// maxAnswers bounds the answers kept for retried requests; an answer larger than
// maxAnsweredBytes (a big SELECT) is not kept, since running a query again is harmless.
const (
	maxAnswers       = 512
	maxAnsweredBytes = 4 << 20
)

func newQueryID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	sess, fail := s.lookup(r)
	if fail != nil {
		writeJSON(w, http.StatusOK, fail)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxRequestBytes()))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		// Refused before any statement runs, as a front end refuses an oversized body, with
		// 413 (see DefaultMaxRequestBytes for where the limit lies). The driver does not
		// retry it: isRetryableStatus in its retry.go retries 5xx, 408 and 429 only.
		s.log.Info("request refused: body too large", "session", sess.id, "limit", tooLarge.Limit)
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"message": fmt.Sprintf(
			"Request body larger than %d bytes; load bulk data through a stage (PUT, then COPY).", tooLarge.Limit)})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, failure("390400", "Query request body cannot be read: "+err.Error(), nil))
		return
	}
	req, err := parseQueryRequest(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, failure("390400", err.Error(), nil))
		return
	}
	requestID := r.URL.Query().Get("requestId")

	sess.mu.Lock()
	// A statement that runs on after this request is answered unlocks the session itself.
	handedOff := false
	defer func() {
		if !handedOff {
			sess.mu.Unlock()
		}
	}()
	if sess.severed.Load() {
		cut(w)
		return
	}
	if sess.closed {
		writeJSON(w, http.StatusOK, failure("390111", "Session no longer exists.  New login required to access the service.", nil))
		return
	}
	st, parseErr := snowsql.Parse(req.SQLText)
	kind := "OTHER"
	if parseErr == nil {
		kind = st.Kind()
	}
	if fk := fileKind(req.SQLText); fk != "" {
		kind = fk
	}
	fault := s.takeFault(kind)
	if fault != nil && fault.HTTPStatus == 0 && !fault.Sever {
		s.count(kind)
		s.log.Info("statement failed by injected fault", "session", sess.id, "kind", kind, "code", fault.Code)
		writeRaw(w, http.StatusOK, errorAnswer(newQueryID(), &sfError{Code: fault.Code, SQLState: fault.SQLState, Message: fault.Message}))
		return
	}
	answer := s.answered(requestID)
	if answer == nil {
		s.count(kind)
		ctx, done := s.running(r, requestID)
		qid := newQueryID()
		run := func() []byte {
			a := s.answer(ctx, qid, sess, req, st, parseErr)
			done()
			s.remember(requestID, a)
			return a
		}
		if fault == nil {
			// The statement runs on its own, holding the session, and this request waits for
			// it at most inProgressAfter (inprogress.go).
			q := s.startQuery(qid, sess)
			handedOff = true
			go func() {
				defer sess.mu.Unlock()
				s.finish(qid, q, run())
			}()
			s.awaitAnswer(w, r, qid, q)
			return
		}
		// An injected fault acts on the answer, so the request waits for it whatever it takes.
		answer = run()
	}
	if fault != nil && fault.Sever {
		s.log.Info("session cut off by injected fault", "session", sess.id, "kind", kind)
		sess.severed.Store(true)
		cut(w)
		return
	}
	if fault != nil {
		// The statement ran but its answer is lost on the way, as behind a failing gateway:
		// the driver retries with the same requestId and must get this answer, not a rerun.
		s.log.Info("answer replaced by injected HTTP status", "session", sess.id, "kind", kind, "status", fault.HTTPStatus)
		writeJSON(w, fault.HTTPStatus, map[string]any{"message": http.StatusText(fault.HTTPStatus)})
		return
	}
	writeRaw(w, http.StatusOK, answer)
}

func (s *Server) answered(requestID string) []byte {
	if requestID == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answers[requestID]
}

func (s *Server) remember(requestID string, answer []byte) {
	if requestID == "" || len(answer) > maxAnsweredBytes {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.answers[requestID]; ok {
		return
	}
	s.answers[requestID] = answer
	s.answerQ = append(s.answerQ, requestID)
	if len(s.answerQ) > maxAnswers {
		delete(s.answers, s.answerQ[0])
		s.answerQ = s.answerQ[1:]
	}
}

// answer runs the request's statement and encodes Snowflake's answer.
func (s *Server) answer(ctx context.Context, qid string, sess *session, req *queryRequest, st *snowsql.Stmt, parseErr error) []byte {
	started := time.Now()
	kind := ""
	if st != nil {
		kind = st.Kind()
	}
	res, err := s.statement(withQueryID(ctx, qid), sess, kind, func(ctx context.Context) (*result, error) {
		return s.execute(ctx, sess, req, st, parseErr)
	})
	if err != nil {
		sf := fromDuck(err)
		s.log.Info("statement failed", "session", sess.id, "query_id", qid, "code", sf.Code, "error", sf.Message, "sql", req.SQLText)
		return errorAnswer(qid, sf)
	}
	s.log.Debug("statement", "session", sess.id, "query_id", qid, "rows", len(res.rows), "took", time.Since(started), "sql", req.SQLText)
	if res.transfer != nil {
		return transferAnswer(qid, res.transfer)
	}
	return successAnswer(qid, sess, res, len(req.Bindings))
}

func (s *Server) execute(ctx context.Context, sess *session, req *queryRequest, st *snowsql.Stmt, parseErr error) (*result, error) {
	if reCreateStage.MatchString(req.SQLText) {
		return nil, compileError("CREATE STAGE is not supported by the Snowflake emulator, which has only the user stage @~. " +
			"The driver creates a temporary stage by itself for an array bind of CLIENT_STAGE_ARRAY_BINDING_THRESHOLD (65,280) values or more; " +
			"load bulk data with PUT to @~ and COPY instead.")
	}
	if fileKind(req.SQLText) != "" {
		// File commands have their own grammar (unquoted local paths, stage names).
		cmd, err := parseFileCommand(req.SQLText)
		if err != nil {
			return nil, err
		}
		return s.fileCommand(ctx, sess, cmd)
	}
	n, err := snowsql.CountStatements(req.SQLText)
	switch {
	case err != nil:
		return nil, err
	case n > 1 && req.Parameters["MULTI_STATEMENT_COUNT"] == nil:
		return nil, newError("000008", "0A000", "Actual statement count %d did not match the desired statement count 1.", n)
	case n > 1:
		return nil, compileError("Multi-statement requests (MULTI_STATEMENT_COUNT) are not supported by the Snowflake emulator.")
	case parseErr != nil:
		return nil, parseErr
	case req.BindStage != "":
		return nil, compileError("Binds uploaded to a stage (%s) are not supported by the Snowflake emulator: array binds of more than CLIENT_STAGE_ARRAY_BINDING_THRESHOLD values go through a temporary stage, which needs CREATE STAGE; load bulk data with PUT and COPY instead.", req.BindStage)
	}
	binds, err := decodeBindings(req.Bindings)
	if err != nil {
		return nil, err
	}
	return s.run(ctx, sess, st, binds)
}

// reCreateStage matches CREATE STAGE in any of its forms.
var reCreateStage = regexp.MustCompile(`(?is)^\s*CREATE\s+(OR\s+REPLACE\s+)?(TEMP(ORARY)?\s+)?STAGE\b`)

// transferAnswer is the answer to a PUT or GET: success, with the transfer's data.
func transferAnswer(queryID string, data map[string]any) []byte {
	d := map[string]any{"queryId": queryID}
	for k, v := range data {
		d[k] = v
	}
	b, _ := json.Marshal(map[string]any{"data": d, "code": nil, "message": nil, "success": true})
	return b
}

func (s *Server) maxRequestBytes() int64 {
	if s.cfg.MaxRequestBytes > 0 {
		return s.cfg.MaxRequestBytes
	}
	return DefaultMaxRequestBytes
}

func errorAnswer(queryID string, e *sfError) []byte {
	b, _ := json.Marshal(map[string]any{
		"data": map[string]any{
			"internalError": false, "errorCode": e.Code, "age": 0, "sqlState": e.SQLState,
			"queryId": queryID, "line": -1, "pos": -1, "type": "COMPILATION",
		},
		"code": e.Code, "message": e.Message, "success": false, "headers": nil,
	})
	return b
}

// successAnswer encodes a result. The rowset is written by hand: a loader's SELECTs and
// the 100,000-row answers of tests make encoding/json's reflection the slow part.
func successAnswer(queryID string, sess *session, res *result, binds int) []byte {
	meta := map[string]any{
		"parameters":         []map[string]any{{"name": "TIMEZONE", "value": "UTC"}},
		"rowtype":            res.columns,
		"total":              len(res.rows),
		"returned":           len(res.rows),
		"queryId":            queryID,
		"databaseProvider":   nil,
		"finalDatabaseName":  nullable(sess.database),
		"finalSchemaName":    nullable(sess.schema),
		"finalWarehouseName": nullable(sess.warehouse),
		"finalRoleName":      sess.role,
		"numberOfBinds":      binds,
		"arrayBindSupported": true,
		"statementTypeId":    res.typeID,
		"version":            1,
		"sendResultTime":     time.Now().UnixMilli(),
		"queryResultFormat":  "json",
	}
	head, _ := json.Marshal(meta)
	size := len(head) + 64
	for _, row := range res.rows {
		for _, c := range row {
			size += 3
			if c != nil {
				size += len(*c) + 2
			}
		}
	}
	b := make([]byte, 0, size)
	b = append(b, `{"data":`...)
	b = append(b, head[:len(head)-1]...)
	b = append(b, `,"rowset":[`...)
	for i, row := range res.rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, c := range row {
			if j > 0 {
				b = append(b, ',')
			}
			if c == nil {
				b = append(b, "null"...)
			} else {
				b = appendJSONString(b, *c)
			}
		}
		b = append(b, ']')
	}
	b = append(b, `]},"code":null,"message":null,"success":true}`...)
	return b
}

// Stats counts what clients did: logins, renewals, heartbeats, closed sessions, and
// statements by kind (SELECT INSERT UPDATE DELETE MERGE CREATE DROP ALTER GRANT USE BEGIN
// COMMIT ROLLBACK SHOW OTHER; REVOKE counts as GRANT, DESCRIBE as SHOW). A statement the
// driver retries after a lost answer counts once. ExecScript and Query are not counted.
type Stats struct {
	Logins, FailedLogins, Renewals, Heartbeats, Closes int64
	Statements                                         map[string]int64
	TotalStatements                                    int64
	// InProgress counts the "in progress" answers to requests for a running statement.
	InProgress int64
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.Statements = map[string]int64{}
	for k, v := range s.stats.Statements {
		out.Statements[k] = v
	}
	return out
}

// ResetStats sets every counter to zero.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{}
}

func (s *Server) count(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stats.Statements == nil {
		s.stats.Statements = map[string]int64{}
	}
	s.stats.Statements[kind]++
	s.stats.TotalStatements++
}

// Fault makes statements fail on purpose.
type Fault struct {
	// Kind is the statement kind to match (as in Stats); "" matches any statement. Logins
	// are never matched.
	Kind string
	// Count is how many matching statements fail.
	Count int
	// HTTPStatus, when set (e.g. 503), replaces the answer with that status. The statement
	// still runs, and the driver retries silently with the same requestId, so the retry
	// gets the stored answer: this is how a lost answer looks to a client.
	HTTPStatus int
	// Code, SQLState and Message make a Snowflake error answer (HTTP 200, success false)
	// when HTTPStatus is 0. The statement does not run.
	Code, SQLState, Message string
	// Sever cuts the session's client off once the statement has run: its answer never
	// arrives (the connection is closed), nor does any later answer to that session, so its
	// transaction stays open with its locks, as when a loader dies mid-transaction.
	Sever bool
}

// InjectFault makes the next Count statements matching f.Kind fail as f says.
func (s *Server) InjectFault(f Fault) {
	if f.Count <= 0 {
		return
	}
	if f.HTTPStatus == 0 && f.Code == "" && !f.Sever {
		f.Code, f.SQLState, f.Message = "000603", "XX000", "SQL execution internal error: Processing aborted due to error 300010:391167117; incident 1."
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

func (s *Server) takeFault(kind string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		f := &s.faults[i]
		if f.Count > 0 && (f.Kind == "" || f.Kind == kind) {
			f.Count--
			out := *f
			if f.Count == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return &out
		}
	}
	return nil
}

// ErrClosed is returned by the administrator calls after Close.
var ErrClosed = errors.New("sfemu: server closed")

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
