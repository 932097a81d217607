package sfemu

import (
	"context"
	"time"
)

// lockWait bounds how long a statement waits for another session's transaction, as
// Snowflake's LOCK_TIMEOUT does (there 12 hours by default).
const lockWait = 2 * time.Minute

func (s *Server) lockWrites(ctx context.Context, sess *session) error {
	if sess.locked {
		return nil
	}
	t := time.NewTimer(lockWait)
	defer t.Stop()
	select {
	case s.writeLock <- struct{}{}:
		sess.locked = true
		return nil
	case <-ctx.Done():
		return newError("000604", "57014", "SQL execution canceled while waiting for a lock held by another transaction")
	case <-t.C:
		return newError("000625", "57014", "Statement reached its lock timeout of %s: another session holds an open transaction", lockWait)
	}
}

func (s *Server) unlockWrites(sess *session) {
	if sess.locked {
		sess.locked = false
		<-s.writeLock
	}
}

// joinTx makes the session's open transaction real in DuckDB: Snowflake's BEGIN takes no
// snapshot, so the DuckDB transaction starts at the transaction's first statement, once
// the session holds the write lock.
func (s *Server) joinTx(ctx context.Context, sess *session) error {
	if sess.duckTx {
		return nil
	}
	if err := s.lockWrites(ctx, sess); err != nil {
		return err
	}
	if _, err := sess.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		s.unlockWrites(sess)
		return err
	}
	sess.duckTx = true
	return nil
}

// endTx commits or rolls back the session's transaction, if any, and frees the lock.
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
	sess.inTx = false
	s.unlockWrites(sess)
	return err
}

// atomically runs fn so that it takes effect completely or not at all: inside the
// session's transaction when there is one, else in a transaction of its own.
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

// inTx runs fn where the session's statements belong: in its transaction when the client
// opened one, else on its own, holding the write lock when it writes. With AUTOCOMMIT off,
// a query or DML statement outside a transaction opens one, as Snowflake does.
func (s *Server) inTx(ctx context.Context, sess *session, write bool, fn func() (*result, error)) (*result, error) {
	if sess.manualCommit {
		sess.inTx = true
	}
	if sess.inTx {
		if err := s.joinTx(ctx, sess); err != nil {
			return nil, err
		}
		return fn()
	}
	if write {
		if err := s.lockWrites(ctx, sess); err != nil {
			return nil, err
		}
		defer s.unlockWrites(sess)
	}
	return fn()
}
