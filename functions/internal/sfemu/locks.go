package sfemu

// Sessions and transactions: the table locks. See transactions.go for the model.

import (
	"context"
	"sync"
	"time"
)

// lockTable holds every table lock, the transactions that hold or wait for them, and the
// commit count that tells a DuckDB snapshot whether it is still current for a table.
type lockTable struct {
	mu      sync.Mutex
	locks   map[string]*tableLock
	txns    map[int64]*txn
	lastID  int64
	count   uint64            // commits of transactions that wrote a table
	changed map[string]uint64 // table -> count at its last commit
	// abortIdle is how long a holder must be idle before a waiter aborts it.
	abortIdle time.Duration
	// maxWaiters is how many statements may queue for one lock; the next one is aborted.
	maxWaiters int
	closed     bool
}

// tableLock is one table's lock: its holder and the transactions queued for it, first come
// first served.
type tableLock struct {
	holder  *txn
	queryID string // the statement that took it, for the waiters' error message
	queue   []*txn
	// wake is closed (and replaced) whenever the holder or the queue changes.
	wake chan struct{}
}

// defaultMaxWaiters is the queue Snowflake allows behind one table lock. It is not
// documented; clients report "the number of waiters for this lock exceeds the 20 statements
// limit" (https://resultant.com/blog/technology/overcoming-concurrent-write-limits-in-snowflake/)
// and, more recently, a limit of 50. The emulator takes the lower one.
const defaultMaxWaiters = 20

func newLockTable(abortIdle time.Duration, maxWaiters int) *lockTable {
	if abortIdle <= 0 {
		abortIdle = defaultAbortIdleAfter
	}
	if maxWaiters <= 0 {
		maxWaiters = defaultMaxWaiters
	}
	return &lockTable{locks: map[string]*tableLock{}, txns: map[int64]*txn{}, changed: map[string]uint64{},
		abortIdle: abortIdle, maxWaiters: maxWaiters}
}

func (l *tableLock) signal() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// register records a new transaction of sess, auto for one autocommitted statement. Its id is its start time in nanoseconds, as
// Snowflake's transaction ids are, kept unique.
func (lt *lockTable) register(sess *session, auto bool) *txn {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	now := time.Now()
	id := now.UnixNano()
	if id <= lt.lastID {
		id = lt.lastID + 1
	}
	lt.lastID = id
	t := &txn{id: id, sess: sess, started: now, auto: auto}
	lt.txns[id] = t
	return t
}

func (lt *lockTable) commits() uint64 {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return lt.count
}

func (lt *lockTable) changedSince(name string, snapshot uint64) bool {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return lt.changed[name] > snapshot
}

func (lt *lockTable) abortedErr(t *txn) error {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return t.aborted
}

type queryIDKey struct{}

// withQueryID puts the id of the statement being run in its context, for lock errors.
func withQueryID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, queryIDKey{}, id)
}

func queryIDOf(ctx context.Context) string {
	id, _ := ctx.Value(queryIDKey{}).(string)
	return id
}

// lockTimeoutError is what a statement gets when it did not get a lock in time. The code,
// SQL state and first sentence are those of Snowflake's lock errors as its clients report
// them ("000625 (57014): Statement '...' has locked table '...' in transaction ... and this
// lock has not yet been released. Your statement '...' was aborted because ...", e.g.
// https://resultant.com/blog/technology/overcoming-concurrent-write-limits-in-snowflake/).
// Snowflake does not document the wording of the reason for a LOCK_TIMEOUT abort, so the
// second sentence is the emulator's own; clients must go by the code.
func lockTimeoutError(holderQuery, table string, holder int64, ownQuery string, wait time.Duration) *sfError {
	return newError("000625", "57014", "Statement '%s' has locked table '%s' in transaction %d and this lock has not yet been released.\nYour statement '%s' was aborted because it waited longer than the session's LOCK_TIMEOUT of %d second(s) for this lock.",
		holderQuery, table, holder, ownQuery, int64(wait/time.Second))
}

// tooManyWaitersError is Snowflake's answer to a statement that would queue behind too many
// others for one lock, in the words its clients report (see defaultMaxWaiters).
func tooManyWaitersError(holderQuery, table string, holder *txn, ownQuery string, limit int) *sfError {
	var id int64
	if holder != nil {
		id = holder.id
	}
	return newError("000625", "57014", "Statement '%s' has locked table '%s' in transaction %d and this lock has not yet been released.\nYour statement '%s' was aborted because the number of waiters for this lock exceeds the %d statements limit.",
		holderQuery, table, id, ownQuery, limit)
}

// deadlockError is what the newest statement of a cycle of waits gets. Snowflake: "Snowflake
// detects deadlocks and chooses the most recent statement which is part of the deadlock as
// the victim. The statement is rolled back, but the transaction itself is left active"
// (https://docs.snowflake.com/en/sql-reference/transactions, "Deadlocks").
func deadlockError(table string, holder int64, ownQuery string) *sfError {
	return newError("000625", "57014", "Your statement '%s' was aborted because of a deadlock: it waits for table '%s', locked by transaction %d, which waits for a lock this transaction holds.", ownQuery, table, holder)
}

// acquire takes the lock on table for t, waiting behind earlier waiters for at most wait.
// While it waits, a holder that has been idle for abortIdle is aborted.
func (lt *lockTable) acquire(ctx context.Context, s *Server, t *txn, table string, wait time.Duration) error {
	lt.mu.Lock()
	l := lt.locks[table]
	if l == nil {
		l = &tableLock{wake: make(chan struct{})}
		lt.locks[table] = l
	}
	if l.holder == t {
		lt.mu.Unlock()
		return nil
	}
	if l.holder == nil && len(l.queue) == 0 {
		lt.grant(l, t, table, queryIDOf(ctx))
		lt.mu.Unlock()
		return nil
	}
	if wait <= 0 {
		err := lockTimeoutError(l.queryID, table, l.holder.id, queryIDOf(ctx), 0)
		lt.mu.Unlock()
		return err
	}
	if len(l.queue) >= lt.maxWaiters {
		err := tooManyWaitersError(l.queryID, table, l.holder, queryIDOf(ctx), lt.maxWaiters)
		lt.mu.Unlock()
		return err
	}
	if lt.waitsFor(l.holder, t) {
		err := deadlockError(table, l.holder.id, queryIDOf(ctx))
		lt.mu.Unlock()
		return err
	}
	l.queue = append(l.queue, t)
	t.waiting = table
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	leave := func() {
		for i, q := range l.queue {
			if q == t {
				l.queue = append(l.queue[:i], l.queue[i+1:]...)
				break
			}
		}
		t.waiting = ""
		l.signal()
	}
	for {
		if t.aborted != nil {
			leave()
			lt.mu.Unlock()
			return t.aborted
		}
		if lt.closed {
			leave()
			lt.mu.Unlock()
			return ErrClosed
		}
		if l.holder == nil && l.queue[0] == t {
			l.queue = l.queue[1:]
			t.waiting = ""
			lt.grant(l, t, table, queryIDOf(ctx))
			l.signal()
			lt.mu.Unlock()
			return nil
		}
		holder, holderQuery, wake := l.holder, l.queryID, l.wake
		// The holder may be aborted once it has been idle long enough; while it runs a
		// statement, look again a little later.
		var idle <-chan time.Time
		var idleTimer *time.Timer
		if holder != nil {
			last := time.Unix(0, holder.sess.lastActive.Load())
			idleTimer = time.NewTimer(max(time.Until(last.Add(lt.abortIdle)), lt.abortIdle/8, time.Millisecond))
			idle = idleTimer.C
		}
		lt.mu.Unlock()
		select {
		case <-wake:
		case <-idle:
			s.abortIfIdle(holder, lt.abortIdle)
		case <-ctx.Done():
			stopTimer(idleTimer)
			lt.mu.Lock()
			leave()
			lt.mu.Unlock()
			return ctx.Err()
		case <-deadline.C:
			stopTimer(idleTimer)
			lt.mu.Lock()
			leave()
			var holderID int64
			if holder != nil {
				holderID = holder.id
			}
			lt.mu.Unlock()
			return lockTimeoutError(holderQuery, table, holderID, queryIDOf(ctx), wait)
		}
		stopTimer(idleTimer)
		lt.mu.Lock()
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

func (lt *lockTable) grant(l *tableLock, t *txn, table, queryID string) {
	l.holder, l.queryID = t, queryID
	t.held = append(t.held, table)
}

// waitsFor reports whether from waits, directly or through other transactions, for a lock
// that target holds.
func (lt *lockTable) waitsFor(from, target *txn) bool {
	for seen := 0; from != nil && seen < len(lt.txns)+1; seen++ {
		if from == target {
			return true
		}
		if from.waiting == "" {
			return false
		}
		from = lt.locks[from.waiting].holder
	}
	return false
}

// close ends every wait: the server is shutting down.
func (lt *lockTable) close() {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lt.closed = true
	for _, l := range lt.locks {
		l.signal()
	}
}

// finish releases t's locks; when it committed, the tables it locked count as changed.
func (lt *lockTable) finish(t *txn, committed bool) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if committed && len(t.held) > 0 {
		lt.count++
		for _, table := range t.held {
			lt.changed[table] = lt.count
		}
	}
	for _, table := range t.held {
		if l := lt.locks[table]; l != nil && l.holder == t {
			l.holder, l.queryID = nil, ""
			l.signal()
		}
	}
	t.held = nil
	delete(lt.txns, t.id)
}

// abortIfIdle aborts holder if its session runs no statement and has been idle for at least
// idleFor: Snowflake's rule for a transaction that blocks another one's lock.
func (s *Server) abortIfIdle(holder *txn, idleFor time.Duration) {
	sess := holder.sess
	if !sess.mu.TryLock() {
		return // a statement of it runs: it is not idle
	}
	defer sess.mu.Unlock()
	if sess.tx != holder || time.Since(time.Unix(0, sess.lastActive.Load())) < idleFor {
		return
	}
	s.abortTx(sess, "idle for "+idleFor.String()+" while it blocked another transaction's lock")
}

// abortByID ends transaction id, as SYSTEM$ABORT_TRANSACTION does
// (https://docs.snowflake.com/en/sql-reference/functions/system_abort_transaction): a
// transaction "can be aborted only by the user who started the transaction or an account
// administrator"; one already committed or rolled back "is not altered", and neither is an
// autocommitted statement's ("supported for explicit/multi-statement transactions only"). An
// idle transaction is rolled back at once; one whose statement runs is marked, and that
// statement fails and rolls it back.
func (s *Server) abortByID(id int64, user string, admin bool) error {
	s.locks.mu.Lock()
	t := s.locks.txns[id]
	if t != nil && !admin && t.sess.user != user {
		s.locks.mu.Unlock()
		return newError("002003", "02000", "SQL compilation error:\nTransaction '%d' does not exist or not authorized.", id)
	}
	s.locks.mu.Unlock()
	if t == nil || t.auto {
		return nil
	}
	sess := t.sess
	if sess.mu.TryLock() {
		defer sess.mu.Unlock()
		if sess.tx == t {
			s.abortTx(sess, "by SYSTEM$ABORT_TRANSACTION")
		}
		return nil
	}
	s.locks.mu.Lock()
	defer s.locks.mu.Unlock()
	if t.aborted == nil {
		t.aborted = newError("000604", "57014", "SQL execution canceled: transaction %d was aborted by SYSTEM$ABORT_TRANSACTION and rolled back.", t.id)
	}
	if t.waiting != "" {
		s.locks.locks[t.waiting].signal()
	}
	return nil
}

// txnInfo is one row of SHOW TRANSACTIONS.
type txnInfo struct {
	id               int64
	user, name       string
	session          int64
	started          time.Time
	blocked, ownSess bool
}

// transactions lists the running transactions, of user only unless all.
func (lt *lockTable) transactions(user string, all bool) []txnInfo {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var out []txnInfo
	for _, t := range lt.txns {
		if !all && t.sess.user != user {
			continue
		}
		out = append(out, txnInfo{id: t.id, user: t.sess.user, name: t.name, session: t.sess.id, started: t.started, blocked: t.waiting != ""})
	}
	return out
}
