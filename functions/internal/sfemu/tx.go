package sfemu

import (
	"context"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

// accountLock is the lock statements that change the account's objects (databases, roles,
// users, grants, DDL) take for their own duration, so that two of them never race in
// DuckDB's catalog.
const accountLock = "<account objects>"

// lockWrites takes, for one statement that changes the account's objects, the account lock
// and, when table is set, that table's lock; unlockWrites releases them. Snowflake runs DDL
// as a transaction of its own, which waits for the locks of open transactions on the table.
func (s *Server) lockWrites(ctx context.Context, sess *session, tables ...string) (*txn, error) {
	t := s.locks.register(sess, true)
	// The tables first: a statement waiting for an open transaction's table lock must not
	// hold the account lock, which every login's CREATE TEMPORARY TABLE needs, meanwhile.
	for _, name := range append(tables, accountLock) {
		if err := s.locks.acquire(ctx, s, t, name, sess.lockWait()); err != nil {
			s.locks.finish(t, false)
			return nil, err
		}
	}
	return t, nil
}

func (s *Server) unlockWrites(t *txn, committed bool) { s.locks.finish(t, committed) }

// atomically runs fn so that it takes effect completely or not at all: inside the
// session's DuckDB transaction when there is one, else in a DuckDB transaction of its own.
func (s *Server) atomically(ctx context.Context, sess *session, fn func() error) error {
	if sess.duckTx {
		return fn()
	}
	if _, err := sess.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	if err := fn(); err != nil {
		_, _ = sess.conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	_, err := sess.conn.ExecContext(ctx, "COMMIT")
	return err
}

// inTx runs fn where the session's statements belong, fn writing target (nil for a query).
// In the session's open transaction (BEGIN, or AUTOCOMMIT off, where a query or DML
// statement outside a transaction opens one, as Snowflake does), it takes target's lock and
// keeps it. Otherwise the statement is a transaction of its own: a query runs on its own in
// DuckDB (a fresh READ COMMITTED view), and a write of a standard table takes its lock,
// commits and releases it.
func (s *Server) inTx(ctx context.Context, sess *session, target *snowsql.TableRef, fn func() (*result, error)) (*result, error) {
	if sess.manualCommit {
		s.beginTx(sess)
	}
	if sess.inTx {
		if sess.tx == nil {
			s.beginTx(sess)
		}
		return s.txStatement(ctx, sess, target, fn)
	}
	if target == nil || target.Temp {
		return fn()
	}
	sess.inTx, sess.tx = true, s.locks.register(sess, true)
	res, err := s.txStatement(ctx, sess, target, fn)
	if err != nil {
		_ = s.endTx(ctx, sess, false)
		return nil, err
	}
	if err := s.endTx(ctx, sess, true); err != nil {
		return nil, err
	}
	return res, nil
}
