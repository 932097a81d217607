package sfemu

import (
	"context"
	"testing"
	"time"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fileLoadsDDL = `CREATE OR REPLACE TABLE LOADER_DB.RAW.FILE_LOADS (
  S3_BUCKET VARCHAR, S3_KEY VARCHAR, S3_VERSION_ID VARCHAR, S3_ETAG VARCHAR, S3_SEQUENCER VARCHAR,
  S3_SIZE NUMBER, ROWS_LOADED NUMBER, LOAD_ID VARCHAR, LOADED_AT TIMESTAMP_TZ, LOADED_BY_USER VARCHAR, LOADED_BY_ROLE VARCHAR)`

// TestLoadFlow runs the statements a loader sends for one batch: a staging table filled
// by array binds, then set-based statements in one transaction.
func TestLoadFlow(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, rawDataDDL+";"+fileLoadsDDL, nil))
	db := connect(t, s)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()

	load := func(version, sequencer string, records []string) {
		t.Helper()
		_, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMPORARY TABLE STAGE_RECORDS (
  LINE VARCHAR, RECORD_NUMBER NUMBER, S3_BUCKET VARCHAR, S3_KEY VARCHAR, S3_VERSION_ID VARCHAR, S3_SEQUENCER VARCHAR, S3_EVENT_TIME TIMESTAMP_TZ)`)
		require.NoError(t, err)
		n := len(records)
		nums := make([]int64, n)
		buckets, keys, versions, seqs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		times := make([]time.Time, n)
		for i := range records {
			nums[i], buckets[i], keys[i], versions[i], seqs[i] = int64(i+1), "bucket", "incoming/a.json", version, sequencer
			times[i] = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
		}
		_, err = conn.ExecContext(ctx, "INSERT INTO STAGE_RECORDS VALUES (?, ?, ?, ?, ?, ?, ?)",
			gosnowflake.Array(&records), gosnowflake.Array(&nums), gosnowflake.Array(&buckets), gosnowflake.Array(&keys),
			gosnowflake.Array(&versions), gosnowflake.Array(&seqs), gosnowflake.Array(&times, gosnowflake.TimestampTZType))
		require.NoError(t, err)

		tx, err := conn.BeginTx(ctx, nil)
		require.NoError(t, err)
		// Files whose loaded version is newer are left out; older or equal ones are replaced.
		_, err = tx.ExecContext(ctx, `DELETE FROM STAGE_RECORDS s USING FILE_LOADS f
WHERE f.S3_BUCKET = s.S3_BUCKET AND f.S3_KEY = s.S3_KEY
  AND LPAD(f.S3_SEQUENCER, 32, '0') > LPAD(s.S3_SEQUENCER, 32, '0')`)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, `DELETE FROM RAW_DATA r USING (SELECT DISTINCT S3_BUCKET, S3_KEY FROM STAGE_RECORDS) s
WHERE r.S3_BUCKET = s.S3_BUCKET AND r.S3_KEY = s.S3_KEY`)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, `INSERT INTO RAW_DATA (PAYLOAD, RECORD_NUMBER, S3_BUCKET, S3_KEY, S3_VERSION_ID, S3_SEQUENCER, S3_EVENT_TIME, LOAD_ID, LOADED_AT)
SELECT PARSE_JSON(LINE), RECORD_NUMBER, S3_BUCKET, S3_KEY, S3_VERSION_ID, S3_SEQUENCER, S3_EVENT_TIME, ?, CURRENT_TIMESTAMP() FROM STAGE_RECORDS`, "load-1")
		require.NoError(t, err)
		res, err := tx.ExecContext(ctx, `MERGE INTO FILE_LOADS f
USING (SELECT S3_BUCKET, S3_KEY, ANY_VALUE(S3_VERSION_ID) AS V, ANY_VALUE(S3_SEQUENCER) AS SEQ, COUNT(*) AS N
       FROM STAGE_RECORDS GROUP BY S3_BUCKET, S3_KEY) s
ON f.S3_BUCKET = s.S3_BUCKET AND f.S3_KEY = s.S3_KEY
WHEN MATCHED THEN UPDATE SET S3_VERSION_ID = s.V, S3_SEQUENCER = s.SEQ, ROWS_LOADED = s.N,
  LOADED_AT = CURRENT_TIMESTAMP(), LOADED_BY_USER = CURRENT_USER(), LOADED_BY_ROLE = CURRENT_ROLE()
WHEN NOT MATCHED THEN INSERT (S3_BUCKET, S3_KEY, S3_VERSION_ID, S3_SEQUENCER, ROWS_LOADED, LOADED_AT, LOADED_BY_USER, LOADED_BY_ROLE)
  VALUES (s.S3_BUCKET, s.S3_KEY, s.V, s.SEQ, s.N, CURRENT_TIMESTAMP(), CURRENT_USER(), CURRENT_ROLE())`)
		require.NoError(t, err)
		n64, err := res.RowsAffected()
		require.NoError(t, err)
		assert.LessOrEqual(t, n64, int64(1))
		require.NoError(t, tx.Commit())
	}

	load("v1", "0A", []string{`{"action":"view"}`, `{"action":"click"}`})
	load("v1", "0A", []string{`{"action":"view"}`, `{"action":"click"}`}) // the same version again
	assert.Equal(t, int64(2), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"))
	load("v2", "0B", []string{`{"action":"purchase"}`}) // a newer version replaces the old rows
	load("v0", "09", []string{`{"action":"stale"}`})    // an older one changes nothing
	_, rows, err := s.Query(ctx, "SELECT PAYLOAD:action::STRING, S3_VERSION_ID FROM LOADER_DB.RAW.RAW_DATA")
	require.NoError(t, err)
	assert.Equal(t, [][]any{{"purchase", "v2"}}, rows)
	_, rows, err = s.Query(ctx, "SELECT S3_VERSION_ID, ROWS_LOADED, LOADED_BY_USER, LOADED_BY_ROLE FROM LOADER_DB.RAW.FILE_LOADS")
	require.NoError(t, err)
	assert.Equal(t, [][]any{{"v2", int64(1), "LAMBDA_LOADER_BOT", "LOADER_ROLE"}}, rows)

	_, tables, err := s.Query(ctx, "SHOW TABLES IN SCHEMA LOADER_DB.RAW")
	require.NoError(t, err)
	var names []any
	for _, r := range tables {
		names = append(names, r[1])
	}
	assert.Equal(t, []any{"FILE_LOADS", "RAW_DATA"}, names, "the session's temporary table is not the admin's")
	cols, desc, err := s.Query(ctx, "DESCRIBE TABLE LOADER_DB.RAW.RAW_DATA")
	require.NoError(t, err)
	require.Len(t, desc, 13)
	assert.Equal(t, []any{"PAYLOAD", "VARIANT"}, desc[0][:2])
	assert.Equal(t, "TIMESTAMP_TZ(9)", desc[8][indexOf(cols, "type")])
}
