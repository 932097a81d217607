package sfemu

import (
	"net/http"
	"time"
)

// A statement that runs longer than a query request waits is answered "in progress"
// (333333) with the URL of its result, and the driver then asks that URL until the answer
// is there, each request waiting as long again (the "ping pong" of postRestfulQueryHelper
// in gosnowflake's restful.go; the shape of the answer is that of the driver's wiremock
// mapping query/long_running_query.json). So a statement may run far longer than one HTTP
// request of the client, as on Snowflake, and no request of the driver waits for more than
// that long. How long Snowflake holds a driver's query request is not documented; its SQL
// API returns a statement's result "if the execution is completed in 45 seconds" and its
// handle otherwise (the async parameter of POST /api/v2/statements,
// https://docs.snowflake.com/en/developer-guide/sql-api/reference), and the emulator takes
// that figure. A client that relies on the exact figure is wrong either way:
// the loader's RequestTimeout (60 s) only has to exceed it.

// DefaultInProgressAfter is Config.InProgressAfter when 0.
const DefaultInProgressAfter = 45 * time.Second

// runningQuery is a statement whose answer a client may still fetch by its query id.
type runningQuery struct {
	sess   *session
	done   chan struct{}
	answer []byte // set before done is closed
}

// keepUnfetched is how long the answer of a finished statement that no client fetched stays
// available, since a client that gave up on a request may still ask for it.
const keepUnfetched = 10 * time.Minute

func (s *Server) inProgressAfter() time.Duration {
	if s.cfg.InProgressAfter > 0 {
		return s.cfg.InProgressAfter
	}
	return DefaultInProgressAfter
}

// startQuery registers a statement that is about to run, so that its answer can be fetched.
func (s *Server) startQuery(qid string, sess *session) *runningQuery {
	q := &runningQuery{sess: sess, done: make(chan struct{})}
	s.mu.Lock()
	s.runningQueries[qid] = q
	s.mu.Unlock()
	return q
}

// finish records the statement's answer and forgets it once it has been fetched or after
// keepUnfetched.
func (s *Server) finish(qid string, q *runningQuery, answer []byte) {
	q.answer = answer
	close(q.done)
	time.AfterFunc(keepUnfetched, func() { s.forgetQuery(qid) })
}

func (s *Server) forgetQuery(qid string) {
	s.mu.Lock()
	delete(s.runningQueries, qid)
	s.mu.Unlock()
}

// awaitAnswer answers a request for the statement qid with its answer, or with "in
// progress" if the statement is still running after inProgressAfter.
func (s *Server) awaitAnswer(w http.ResponseWriter, r *http.Request, qid string, q *runningQuery) {
	t := time.NewTimer(s.inProgressAfter())
	defer t.Stop()
	select {
	case <-q.done:
		s.forgetQuery(qid)
		writeRaw(w, http.StatusOK, q.answer)
	case <-t.C:
		s.mu.Lock()
		s.stats.InProgress++
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"code": "333333",
			"data": map[string]any{
				"getResultUrl": "/queries/" + qid + "/result", "progressDesc": nil,
				"queryAbortsAfterSecs": 300, "queryId": qid,
			},
			"message": "Query execution in progress.", "success": true,
		})
	case <-r.Context().Done():
		// The client went away; the statement runs on and its answer waits to be fetched.
	}
}

// handleResult serves the URL of an "in progress" answer.
func (s *Server) handleResult(w http.ResponseWriter, r *http.Request) {
	sess := s.liveSession(w, r)
	if sess == nil {
		return
	}
	qid := r.PathValue("id")
	s.mu.Lock()
	q := s.runningQueries[qid]
	s.mu.Unlock()
	if q == nil || q.sess != sess {
		// What Snowflake answers for a result URL it does not know is not documented; the
		// driver only asks for URLs it was given, so this answer is for a mistaken client.
		writeJSON(w, http.StatusOK, failure("000709", "Statement "+qid+" not found", nil))
		return
	}
	s.awaitAnswer(w, r, qid, q)
}
