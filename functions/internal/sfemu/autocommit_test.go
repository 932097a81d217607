package sfemu

import (
	"context"
	"database/sql"
	"testing"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// manualSession returns one session of s with AUTOCOMMIT off and the EVENTS table created.
func manualSession(t *testing.T, s *Server) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, eventsDDL, nil))
	conn, err := connect(t, s).Conn(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = conn.ExecContext(ctx, "ALTER SESSION SET AUTOCOMMIT = FALSE")
	require.NoError(t, err)
	return conn
}

func TestAutocommitOff(t *testing.T) {
	tests := []struct {
		name string
		end  string // the statement that ends the implicit transaction
		want int64  // rows of EVENTS afterwards
	}{
		{"commit keeps", "COMMIT", 2},
		{"rollback discards", "ROLLBACK", 0},
		{"DDL commits first", "CREATE TABLE LOADER_DB.RAW.OTHER (X NUMBER)", 2},
		{"autocommit back on commits", "ALTER SESSION SET AUTOCOMMIT = TRUE", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, "")
			conn := manualSession(t, s)
			ctx := context.Background()

			// No BEGIN: the first statement opens the transaction.
			_, err := conn.ExecContext(ctx, "INSERT INTO EVENTS (ID) VALUES (1)")
			require.NoError(t, err)
			_, err = conn.ExecContext(ctx, "INSERT INTO EVENTS (ID) VALUES (2)")
			require.NoError(t, err)
			var inside int64
			require.NoError(t, conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM EVENTS").Scan(&inside))
			assert.Equal(t, int64(2), inside, "the transaction sees its own inserts")
			assert.Equal(t, int64(0), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"), "others do not see them yet")

			_, err = conn.ExecContext(ctx, tt.end)
			require.NoError(t, err)
			assert.Equal(t, tt.want, queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"))
			assert.Zero(t, s.Stats().Statements["BEGIN"])
		})
	}
}

func TestAutocommitOffOpensATransactionAfterEachEnd(t *testing.T) {
	s := startServer(t, "")
	conn := manualSession(t, s)
	ctx := context.Background()

	_, err := conn.ExecContext(ctx, "INSERT INTO EVENTS (ID) VALUES (1)")
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "COMMIT")
	require.NoError(t, err)
	// A query opens the next transaction as well; the insert after it belongs to it.
	var n int64
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM EVENTS").Scan(&n))
	assert.Equal(t, int64(1), n)
	_, err = conn.ExecContext(ctx, "INSERT INTO EVENTS (ID) VALUES (2)")
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	assert.Equal(t, int64(1), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"))
}

func TestInsertOverwriteArrayBinds(t *testing.T) {
	s := startServer(t, "")
	conn := manualSession(t, s)
	ctx := context.Background()
	_, err := conn.ExecContext(ctx, "CREATE TEMPORARY TABLE IF NOT EXISTS STAGE (N NUMBER, LINE VARCHAR)")
	require.NoError(t, err)
	overwrite := func(from, rows int) {
		t.Helper()
		nums := make([]int64, rows)
		lines := make([]string, rows)
		for i := range nums {
			nums[i] = int64(from + i)
			lines[i] = "line"
		}
		res, err := conn.ExecContext(ctx, "INSERT OVERWRITE INTO STAGE (N, LINE) VALUES (?, ?)",
			gosnowflake.Array(&nums), gosnowflake.Array(&lines))
		require.NoError(t, err)
		n, err := res.RowsAffected()
		require.NoError(t, err)
		assert.Equal(t, int64(rows), n)
	}
	stage := func() (rows, lowest int64) {
		t.Helper()
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MIN(N), -1) FROM STAGE").Scan(&rows, &lowest))
		return rows, lowest
	}

	overwrite(0, 1000)
	_, err = conn.ExecContext(ctx, "COMMIT")
	require.NoError(t, err)
	overwrite(5000, 10)
	rows, lowest := stage()
	assert.Equal(t, int64(10), rows, "the earlier rows are replaced")
	assert.Equal(t, int64(5000), lowest)

	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	rows, lowest = stage()
	assert.Equal(t, int64(1000), rows, "a rollback brings the replaced rows back")
	assert.Equal(t, int64(0), lowest)
	assert.Equal(t, int64(2), s.Stats().Statements["INSERT"])
}
