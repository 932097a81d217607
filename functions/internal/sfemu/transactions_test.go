package sfemu

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startServerIdle starts an emulator like startServer whose idle blocking transactions are
// aborted after abortIdle.
func startServerIdle(t *testing.T, abortIdle time.Duration) *Server {
	t.Helper()
	return startServerWith(t, Config{AbortIdleAfter: abortIdle})
}

// startServerWith starts an emulator with cfg's transaction settings and the EVENTS table.
func startServerWith(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Account = testAccount
	cfg.Identities = []Identity{{AccessKeyID: testKeyID, SecretAccessKey: testSecret, ARN: testARN}}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.ExecScript(context.Background(), testSetupTmpl, map[string]string{"role_arn": testRoleARN}))
	require.NoError(t, s.ExecScript(context.Background(), eventsDDL, nil))
	return s
}

// sessions opens n sessions (one login each) of the trusted identity.
func sessions(t *testing.T, s *Server, n int) []*sql.Conn {
	t.Helper()
	db := connect(t, s)
	out := make([]*sql.Conn, n)
	for i := range out {
		c, err := db.Conn(context.Background())
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		out[i] = c
	}
	return out
}

func exec(t *testing.T, c *sql.Conn, q string, args ...any) {
	t.Helper()
	_, err := c.ExecContext(context.Background(), q, args...)
	require.NoError(t, err, q)
}

func count(t *testing.T, c *sql.Conn, q string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, c.QueryRowContext(context.Background(), q).Scan(&n), q)
	return n
}

// snowflakeError asserts that err is a Snowflake error with the given number and SQL state.
func snowflakeError(t *testing.T, err error, number int, state string) {
	t.Helper()
	var sf *gosnowflake.SnowflakeError
	require.True(t, errors.As(err, &sf), "error %v is not a Snowflake error", err)
	assert.Equal(t, number, sf.Number, sf.Message)
	assert.Equal(t, state, sf.SQLState)
}

// transactionStates lists SHOW TRANSACTIONS IN ACCOUNT as id -> state.
func transactionStates(t *testing.T, s *Server) map[int64]string {
	t.Helper()
	_, rows, err := s.Query(context.Background(), "SHOW TRANSACTIONS IN ACCOUNT")
	require.NoError(t, err)
	out := map[int64]string{}
	for _, r := range rows {
		out[r[0].(int64)] = r[5].(string)
	}
	return out
}

// waitBlocked waits until some transaction is blocked on a lock.
func waitBlocked(t *testing.T, s *Server) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, state := range transactionStates(t, s) {
			if state == "blocked" {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no statement started waiting for a lock")
}

func TestWriterWaitsForTheLockUntilCommit(t *testing.T) {
	tests := []struct {
		name string
		end  string
		want int64 // rows with ID 1 after both
	}{
		{"commit", "COMMIT", 2},
		{"rollback", "ROLLBACK", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServerIdle(t, time.Hour)
			c := sessions(t, s, 2)
			exec(t, c[0], "BEGIN")
			exec(t, c[0], "INSERT INTO EVENTS (ID, NAME) VALUES (1, 'first')")

			done := make(chan error, 1)
			go func() {
				_, err := c[1].ExecContext(context.Background(), "INSERT INTO EVENTS (ID, NAME) VALUES (1, 'second')")
				done <- err
			}()
			waitBlocked(t, s)
			assert.Zero(t, queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"), "nothing is committed while the first transaction is open")

			exec(t, c[0], tt.end)
			require.NoError(t, <-done)
			assert.Equal(t, tt.want, queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS WHERE ID = 1"))
		})
	}
}

func TestLockTimeout(t *testing.T) {
	tests := []struct {
		name, seconds string
	}{
		{"waits one second", "1"},
		{"zero does not wait", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServerIdle(t, time.Hour)
			c := sessions(t, s, 2)
			exec(t, c[0], "BEGIN")
			exec(t, c[0], "DELETE FROM EVENTS")
			exec(t, c[1], "ALTER SESSION SET LOCK_TIMEOUT = "+tt.seconds)

			_, err := c[1].ExecContext(context.Background(), "UPDATE EVENTS SET NAME = 'x'")
			snowflakeError(t, err, 625, "57014")
			assert.Contains(t, err.Error(), "has locked table 'LOADER_DB.RAW.EVENTS'")

			// The holder is unaffected; once it commits, the lock is free again.
			exec(t, c[0], "COMMIT")
			exec(t, c[1], "UPDATE EVENTS SET NAME = 'x'")
		})
	}
}

func TestStatementTimeoutEndsALockWait(t *testing.T) {
	s := startServerIdle(t, time.Hour)
	c := sessions(t, s, 2)
	exec(t, c[0], "BEGIN")
	exec(t, c[0], "DELETE FROM EVENTS")
	exec(t, c[1], "ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 1")

	_, err := c[1].ExecContext(context.Background(), "DELETE FROM EVENTS")
	snowflakeError(t, err, 630, "57014")
	exec(t, c[0], "ROLLBACK")
}

func TestSessionParametersAreChecked(t *testing.T) {
	s := startServerIdle(t, time.Hour)
	c := sessions(t, s, 1)
	_, err := c[0].ExecContext(context.Background(), "ALTER SESSION SET LOCK_TIMEOUT = -1")
	snowflakeError(t, err, 1003, "42000")
	exec(t, c[0], "ALTER SESSION SET LOCK_TIMEOUT = 5")
	exec(t, c[0], "ALTER SESSION UNSET LOCK_TIMEOUT")
}

func TestEachStatementSeesWhatWasCommittedBeforeIt(t *testing.T) {
	s := startServerIdle(t, time.Hour)
	c := sessions(t, s, 2)
	ctx := context.Background()

	exec(t, c[0], "BEGIN")
	assert.Zero(t, count(t, c[0], "SELECT COUNT(*) FROM EVENTS"))
	exec(t, c[1], "INSERT INTO EVENTS (ID) VALUES (1)")
	assert.Equal(t, int64(1), count(t, c[0], "SELECT COUNT(*) FROM EVENTS"),
		"a later statement of an open transaction sees a commit made since its previous statement")

	// A statement that waits for a lock sees what the holder committed while it waited.
	exec(t, c[1], "BEGIN")
	exec(t, c[1], "INSERT INTO EVENTS (ID) VALUES (2)")
	assert.Equal(t, int64(1), count(t, c[0], "SELECT COUNT(*) FROM EVENTS"), "uncommitted rows are not seen")
	done := make(chan int64, 1)
	go func() {
		res, err := c[0].ExecContext(ctx, "UPDATE EVENTS SET NAME = 'seen' WHERE ID = 2")
		assert.NoError(t, err)
		n, _ := res.RowsAffected()
		done <- n
	}()
	waitBlocked(t, s)
	exec(t, c[1], "COMMIT")
	assert.Equal(t, int64(1), <-done, "the UPDATE that waited changed the row committed while it waited")

	// Once it holds its lock, the transaction's own changes are its alone until COMMIT.
	assert.Equal(t, int64(1), count(t, c[0], "SELECT COUNT(*) FROM EVENTS WHERE NAME = 'seen'"))
	assert.Zero(t, queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS WHERE NAME = 'seen'"))
	exec(t, c[0], "COMMIT")
	assert.Equal(t, int64(1), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS WHERE NAME = 'seen'"))
}

func TestShowTransactions(t *testing.T) {
	s := startServerIdle(t, time.Hour)
	c := sessions(t, s, 2)
	ctx := context.Background()
	exec(t, c[0], "BEGIN")
	exec(t, c[0], "DELETE FROM EVENTS")

	rows, err := c[1].QueryContext(ctx, "SHOW TRANSACTIONS")
	require.NoError(t, err)
	var ids []int64
	for rows.Next() {
		var id, session int64
		var user, state, scope string
		var name sql.NullString
		var started time.Time
		require.NoError(t, rows.Scan(&id, &user, &session, &name, &started, &state, &scope))
		assert.Equal(t, "LAMBDA_LOADER_BOT", user)
		assert.Equal(t, "running", state)
		assert.WithinDuration(t, time.Now(), started, time.Minute)
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	assert.Len(t, ids, 1, "one open transaction")

	exec(t, c[0], "COMMIT")
	assert.Empty(t, transactionStates(t, s), "a committed transaction is no longer listed")
}

func TestAbortTransaction(t *testing.T) {
	s := startServerIdle(t, time.Hour)
	c := sessions(t, s, 2)
	exec(t, c[0], "BEGIN")
	exec(t, c[0], "INSERT INTO EVENTS (ID) VALUES (1)")
	states := transactionStates(t, s)
	require.Len(t, states, 1)
	var id int64
	for id = range states {
	}

	_, err := c[1].ExecContext(context.Background(), "SELECT SYSTEM$ABORT_TRANSACTION(?)", id)
	require.NoError(t, err)
	assert.Empty(t, transactionStates(t, s))
	exec(t, c[1], "INSERT INTO EVENTS (ID) VALUES (2)")

	_, err = c[0].ExecContext(context.Background(), "COMMIT")
	snowflakeError(t, err, 604, "57014")
	assert.Equal(t, int64(1), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"), "only the second session's row is there")

	_, err = c[1].ExecContext(context.Background(), "SELECT SYSTEM$ABORT_TRANSACTION(?)", id)
	assert.NoError(t, err, "a transaction that has ended is not altered")
}

func TestIdleTransactionBlockingALockIsAborted(t *testing.T) {
	s := startServerIdle(t, 300*time.Millisecond)
	c := sessions(t, s, 2)
	exec(t, c[0], "BEGIN")
	exec(t, c[0], "INSERT INTO EVENTS (ID) VALUES (1)")

	// The first session now stays idle, as a loader that died mid-transaction does.
	exec(t, c[1], "INSERT INTO EVENTS (ID) VALUES (2)")
	assert.Equal(t, int64(1), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"))
	assert.Zero(t, queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS WHERE ID = 1"), "the aborted transaction is rolled back")

	_, err := c[0].ExecContext(context.Background(), "INSERT INTO EVENTS (ID) VALUES (3)")
	snowflakeError(t, err, 604, "57014")
	exec(t, c[0], "ROLLBACK")
	exec(t, c[0], "INSERT INTO EVENTS (ID) VALUES (3)")
}

func TestIdleTransactionNotBlockingStaysOpen(t *testing.T) {
	s := startServerIdle(t, 50*time.Millisecond)
	c := sessions(t, s, 1)
	exec(t, c[0], "BEGIN")
	exec(t, c[0], "INSERT INTO EVENTS (ID) VALUES (1)")
	time.Sleep(200 * time.Millisecond) // idle, but blocking nobody
	exec(t, c[0], "COMMIT")
	assert.Equal(t, int64(1), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"))
}

func TestSeveredSessionKeepsItsLocks(t *testing.T) {
	s := startServerIdle(t, time.Hour)
	c := sessions(t, s, 1)
	// The client that is cut off gives up quickly.
	cfg := driverConfig(s)
	cfg.RequestTimeout, cfg.MaxRetryCount = time.Second, 1
	cut, err := open(t, cfg).Conn(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = cut.Close() })
	c = append([]*sql.Conn{cut}, c...)
	exec(t, c[0], "ALTER SESSION SET AUTOCOMMIT = FALSE")
	s.InjectFault(Fault{Kind: "MERGE", Count: 1, Sever: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = c[0].ExecContext(ctx, "MERGE INTO EVENTS e USING (SELECT 1 AS ID) s ON e.ID = s.ID WHEN NOT MATCHED THEN INSERT (ID) VALUES (s.ID)")
	require.Error(t, err, "the client never gets the answer")

	require.Len(t, transactionStates(t, s), 1, "the transaction stays open, detached")
	exec(t, c[1], "ALTER SESSION SET LOCK_TIMEOUT = 1")
	_, err = c[1].ExecContext(context.Background(), "DELETE FROM EVENTS")
	snowflakeError(t, err, 625, "57014")
}

func TestDeadlockFailsTheNewestStatement(t *testing.T) {
	s := startServerIdle(t, time.Hour)
	require.NoError(t, s.ExecScript(context.Background(), "CREATE TABLE LOADER_DB.RAW.OTHER (ID NUMBER)", nil))
	c := sessions(t, s, 2)
	exec(t, c[0], "BEGIN")
	exec(t, c[0], "DELETE FROM EVENTS")
	exec(t, c[1], "BEGIN")
	exec(t, c[1], "DELETE FROM OTHER")
	done := make(chan error, 1)
	go func() {
		_, err := c[0].ExecContext(context.Background(), "DELETE FROM OTHER")
		done <- err
	}()
	waitBlocked(t, s)
	_, err := c[1].ExecContext(context.Background(), "DELETE FROM EVENTS")
	snowflakeError(t, err, 625, "57014")
	assert.Contains(t, err.Error(), "deadlock")
	exec(t, c[1], "ROLLBACK")
	require.NoError(t, <-done)
	exec(t, c[0], "COMMIT")
}

func TestCanceledStatementStopsWaitingForItsLock(t *testing.T) {
	s := startServerIdle(t, time.Hour)
	c := sessions(t, s, 2)
	exec(t, c[0], "BEGIN")
	exec(t, c[0], "DELETE FROM EVENTS")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c[1].ExecContext(ctx, "DELETE FROM EVENTS")
		done <- err
	}()
	waitBlocked(t, s)
	cancel() // the driver sends an abort-request for the running statement
	require.Error(t, <-done)
	require.Eventually(t, func() bool {
		for _, state := range transactionStates(t, s) {
			if state == "blocked" {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "the canceled statement left the lock's queue")

	exec(t, c[0], "COMMIT")
	exec(t, c[1], "INSERT INTO EVENTS (ID) VALUES (1)")
	assert.Equal(t, int64(1), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"))
}

// TestLateLockOnAChangedTableIsRefused documents the one place the emulator cannot show READ
// COMMITTED: its DuckDB snapshot is fixed at a transaction's first lock, so a later lock on a
// table another transaction changed since then fails loudly instead of reading stale rows.
func TestLateLockOnAChangedTableIsRefused(t *testing.T) {
	s := startServerIdle(t, time.Hour)
	require.NoError(t, s.ExecScript(context.Background(), "CREATE TABLE LOADER_DB.RAW.OTHER (ID NUMBER)", nil))
	c := sessions(t, s, 2)
	exec(t, c[0], "BEGIN")
	exec(t, c[0], "INSERT INTO EVENTS (ID) VALUES (1)")
	exec(t, c[1], "INSERT INTO OTHER (ID) VALUES (1)")

	_, err := c[0].ExecContext(context.Background(), "DELETE FROM OTHER")
	snowflakeError(t, err, 603, "XX000")
	assert.Contains(t, err.Error(), "LOADER_DB.RAW.OTHER was changed by another transaction")
	exec(t, c[0], "ROLLBACK")
	exec(t, c[0], "DELETE FROM OTHER")
}

func TestTooManyWaitersForOneLock(t *testing.T) {
	s := startServerWith(t, Config{AbortIdleAfter: time.Hour, MaxLockWaiters: 1})
	c := sessions(t, s, 3)
	exec(t, c[0], "BEGIN")
	exec(t, c[0], "DELETE FROM EVENTS")
	done := make(chan error, 1)
	go func() {
		_, err := c[1].ExecContext(context.Background(), "DELETE FROM EVENTS")
		done <- err
	}()
	waitBlocked(t, s)

	_, err := c[2].ExecContext(context.Background(), "DELETE FROM EVENTS")
	snowflakeError(t, err, 625, "57014")
	assert.Contains(t, err.Error(), "the number of waiters for this lock exceeds the 1 statements limit")
	exec(t, c[0], "COMMIT")
	require.NoError(t, <-done, "the statement that was queued gets the lock")
}
