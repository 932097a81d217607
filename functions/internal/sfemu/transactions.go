package sfemu

// Sessions and transactions: how the emulator presents Snowflake's transaction semantics on
// top of DuckDB. This file holds the model and a transaction's life; locks.go holds the lock
// table, txadmin.go the statements that show and end transactions.
//
// What Snowflake documents (https://docs.snowflake.com/en/sql-reference/transactions):
//   - READ COMMITTED is the only isolation level for standard tables: "a statement only
//     sees data that was committed before the statement began", plus the changes of earlier
//     statements of its own transaction.
//   - UPDATE, DELETE and MERGE take locks that keep them from running in parallel with other
//     UPDATE, DELETE and MERGE statements on the same table, held until COMMIT or ROLLBACK
//     ("Resource locking"). A statement waiting for a lock waits up to LOCK_TIMEOUT seconds
//     (43200 by default; 0 means it must get the lock at once) and is then aborted.
//   - A session whose client went away mid-transaction leaves its transaction detached, locks
//     included; a transaction that blocks another one's lock and has been idle for 5 minutes
//     is aborted and rolled back ("Aborting transactions"). SYSTEM$ABORT_TRANSACTION ends a
//     transaction of one's own user; SHOW TRANSACTIONS lists them.
//   - A session that ends rolls its open transaction back; DDL commits it first.
//   - Not modelled: the abort of a transaction older than 4 hours that blocks nobody.
//
// How the emulator gets there over DuckDB, whose transactions are snapshot-isolated from
// their start and fail one of two writers of a row with a conflict instead of making it wait:
//   - Every DML statement on a standard table (INSERT, UPDATE, DELETE, MERGE, TRUNCATE)
//     takes that table's lock, queued in arrival order behind the holder; a statement that
//     would queue behind Config.MaxLockWaiters others is refused at once with 000625, as
//     Snowflake refuses one past its (undocumented) limit of waiters. INSERT locks too,
//     although Snowflake often lets INSERTs run side by side: a client must not rely on an
//     INSERT waiting, and the loader does not.
//   - The session's DuckDB transaction begins only once its first table lock is held. Until
//     then each query runs on its own in DuckDB and so sees everything committed before it
//     began, which is READ COMMITTED exactly. Once the DuckDB transaction runs, its snapshot
//     is that of the moment of the first lock: every later commit to the tables it has
//     locked is impossible (they are locked), so for those tables the snapshot is what READ
//     COMMITTED shows. A later lock on a table that another transaction changed after that
//     moment cannot be shown correctly; the statement then fails with an error that says so,
//     instead of reading stale rows. Transactions that take their locks in one order (as a
//     loader that locks its lock row first does) never meet it. A query of such a transaction
//     reads the tables it has not locked as of that moment too, so it can miss a commit made
//     since (an older view than READ COMMITTED); the emulator does not detect that, and a
//     client must not rely on such a read, which Snowflake would not keep stable either.
//   - Writes to the session's temporary tables before the first lock run in DuckDB at once,
//     after a copy of the table is kept: ROLLBACK puts the copy back, COMMIT drops it. So a
//     temporary table behaves transactionally without its write opening the DuckDB
//     transaction, and the snapshot stays unpinned until the first lock.
//   - A transaction is idle while its session runs no statement. A statement waiting for a
//     lock whose holder has been idle for Config.AbortIdleAfter (5 minutes by default, as in
//     Snowflake) aborts the holder, rolls it back and takes the lock.
//   - The next statement of a session whose transaction was aborted (by that rule or by
//     SYSTEM$ABORT_TRANSACTION) fails with 000604 "SQL execution canceled", so that a COMMIT
//     never reports the commit of work already rolled back; a ROLLBACK acknowledges it. The
//     statements after that one run as usual.
//     Snowflake does not document what that session sees; failing is the safe side.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

// Snowflake's defaults for the session parameters the emulator honours
// (https://docs.snowflake.com/en/sql-reference/parameters): LOCK_TIMEOUT 43200 seconds,
// STATEMENT_TIMEOUT_IN_SECONDS 172800 seconds.
const (
	defaultLockTimeout      = 43200 * time.Second
	defaultStatementTimeout = 172800 * time.Second
	defaultAbortIdleAfter   = 5 * time.Minute
)

// txn is one Snowflake transaction: an explicit one (BEGIN, or AUTOCOMMIT off), or the
// transaction of a single autocommitted statement. Its fields are guarded by the lock
// table's mutex, except where noted.
type txn struct {
	id      int64
	sess    *session
	started time.Time
	held    []string // locked tables, in the order taken
	waiting string   // the table whose lock it waits for, if any
	// snapshot is the commit count when the DuckDB transaction began (set under sess.mu).
	snapshot uint64
	// aborted is set when the system or SYSTEM$ABORT_TRANSACTION ends the transaction while
	// a statement of it runs; the statement then fails and rolls back.
	aborted error
	name    string
	// auto marks the transaction of one autocommitted statement.
	auto bool
}

// txState is a session's part of the model; it is embedded in session and used under its mu.
type txState struct {
	tx     *txn              // the open Snowflake transaction, nil if none
	undo   map[string]string // temporary table (DuckDB name) -> copy kept for ROLLBACK
	killed error             // the error its next statement gets after an abort

	lockTimeout, statementTimeout time.Duration
	lockTimeoutSet, statementSet  bool

	// lastActive is when the session last started or finished a statement (UnixNano); read
	// without the session's mutex by lock waiters deciding whether a holder is idle.
	lastActive atomic.Int64
}

func (st *txState) touch() { st.lastActive.Store(time.Now().UnixNano()) }

func (st *txState) lockWait() time.Duration {
	if st.lockTimeoutSet {
		return st.lockTimeout
	}
	return defaultLockTimeout
}

func (st *txState) statementWait() time.Duration {
	if st.statementSet && st.statementTimeout > 0 {
		return st.statementTimeout
	}
	return defaultStatementTimeout
}

// lockName is the name a table's lock goes by: its fully qualified Snowflake name.
func lockName(ref snowsql.TableRef) string { return ref.Snow() }

// beginTx opens the session's Snowflake transaction, if none is open. It takes no lock and
// no snapshot: BEGIN does neither in Snowflake.
func (s *Server) beginTx(sess *session) {
	sess.inTx = true
	if sess.tx == nil {
		sess.tx = s.locks.register(sess, false)
	}
}

// txStatement runs fn as a statement of the session's open transaction that writes target
// (nil for a query): it takes the table's lock and, with the first lock, begins the DuckDB
// transaction; before that, a write to a temporary table keeps a copy for ROLLBACK.
func (s *Server) txStatement(ctx context.Context, sess *session, target *snowsql.TableRef, fn func() (*result, error)) (*result, error) {
	switch {
	case target == nil:
	case target.Temp:
		if !sess.duckTx {
			if err := s.keepTemp(ctx, sess, *target); err != nil {
				return nil, err
			}
		}
	default:
		if err := s.lockTable(ctx, sess, lockName(*target)); err != nil {
			return nil, err
		}
	}
	return fn()
}

// lockTable takes the lock on a table for the session's transaction and makes sure the
// DuckDB transaction runs and can show the table as READ COMMITTED would.
func (s *Server) lockTable(ctx context.Context, sess *session, name string) error {
	if err := s.locks.acquire(ctx, s, sess.tx, name, sess.lockWait()); err != nil {
		return err
	}
	if !sess.duckTx {
		snap := s.locks.commits()
		if _, err := sess.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
			return err
		}
		sess.duckTx = true
		sess.tx.snapshot = snap
		return nil
	}
	if changed := s.locks.changedSince(name, sess.tx.snapshot); changed {
		return newError("000603", "XX000", "SQL execution internal error:\nThe Snowflake emulator cannot run this statement: table %s was changed by another transaction after this transaction took its first lock, and the emulator cannot show this transaction those changes (Snowflake would). Take the locks of a transaction in the same order everywhere.", name)
	}
	return nil
}

// keepTemp copies a temporary table before the transaction's first write to it, so that
// ROLLBACK can put it back.
func (s *Server) keepTemp(ctx context.Context, sess *session, ref snowsql.TableRef) error {
	if sess.undo == nil {
		sess.undo = map[string]string{}
	}
	if _, ok := sess.undo[ref.Duck()]; ok {
		return nil
	}
	copyName := "temp.main." + snowsql.QuoteIdent("_sfemu_undo_"+ref.Table)
	_, err := sess.conn.ExecContext(ctx, "CREATE OR REPLACE TEMPORARY TABLE "+copyName+" AS SELECT * FROM "+ref.Duck())
	if err != nil {
		return err
	}
	sess.undo[ref.Duck()] = copyName
	return nil
}

// settleTemps puts the kept copies back (rollback) or drops them (commit).
func (s *Server) settleTemps(ctx context.Context, sess *session, commit bool) error {
	var err error
	for table, copyName := range sess.undo {
		if !commit && err == nil {
			_, err = sess.conn.ExecContext(ctx, "DELETE FROM "+table)
			if err == nil {
				_, err = sess.conn.ExecContext(ctx, "INSERT INTO "+table+" SELECT * FROM "+copyName)
			}
		}
		_, _ = sess.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+copyName)
	}
	sess.undo = nil
	return err
}

// endTx commits or rolls back the session's transaction, if any, and frees its locks. The
// tables it wrote count as changed before the locks go, so the next holder's DuckDB
// transaction, begun after it gets the lock, sees the commit.
func (s *Server) endTx(ctx context.Context, sess *session, commit bool) error {
	var err error
	if sess.duckTx {
		verb := "ROLLBACK"
		if commit {
			verb = "COMMIT"
		}
		_, err = sess.conn.ExecContext(ctx, verb)
		if err != nil && commit {
			_, _ = sess.conn.ExecContext(ctx, "ROLLBACK")
		}
		sess.duckTx = false
	}
	if terr := s.settleTemps(ctx, sess, commit && err == nil); err == nil {
		err = terr
	}
	sess.inTx = false
	if sess.tx != nil {
		s.locks.finish(sess.tx, commit && err == nil)
		sess.tx = nil
	}
	return err
}

// abortTx ends the session's transaction from outside: the system's abort of an idle
// transaction that blocks another, or SYSTEM$ABORT_TRANSACTION. The caller holds sess.mu.
func (s *Server) abortTx(sess *session, why string) {
	t := sess.tx
	if t == nil {
		return
	}
	_ = s.endTx(context.Background(), sess, false)
	sess.killed = newError("000604", "57014", "SQL execution canceled: transaction %d was aborted (%s) and rolled back.", t.id, why)
	s.log.Info("transaction aborted", "session", sess.id, "user", sess.user, "transaction", t.id, "reason", why)
}

// statement wraps one client statement: it bounds it by STATEMENT_TIMEOUT_IN_SECONDS, keeps
// the session's idle time, and applies an abort that happened while it ran or before it.
func (s *Server) statement(ctx context.Context, sess *session, kind string, fn func(context.Context) (*result, error)) (*result, error) {
	sess.touch()
	defer sess.touch()
	if sess.killed != nil {
		err := sess.killed
		sess.killed = nil
		if kind == "ROLLBACK" {
			return statusResult(typeTCL, executed), nil
		}
		return nil, err
	}
	limit := sess.statementWait()
	sctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	res, err := fn(sctx)
	if err != nil && errors.Is(err, context.Canceled) {
		err = newError("000604", "57014", "SQL execution canceled")
	}
	if err != nil && sctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		err = newError("000630", "57014", "Statement reached its statement or warehouse timeout of %d second(s) and was canceled.", int64(limit/time.Second))
		res = nil
		if sess.inTx {
			// DuckDB ends a transaction whose statement was interrupted; so does the
			// emulator, rather than leave a half-open one behind.
			_ = s.endTx(context.Background(), sess, false)
		}
	}
	if t := sess.tx; t != nil {
		if aborted := s.locks.abortedErr(t); aborted != nil {
			s.abortTx(sess, "aborted while its statement ran")
			sess.killed = nil
			return nil, aborted
		}
	}
	return res, err
}

func (t *txn) String() string { return fmt.Sprintf("transaction %d", t.id) }
