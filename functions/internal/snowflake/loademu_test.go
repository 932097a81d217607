package snowflake

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
)

// rowsOf returns how many rows of key, per version id, RAW_DATA holds.
func rowsOf(t *testing.T, s *sfemu.Server, key string) map[string]int64 {
	t.Helper()
	rows := query(t, s, fmt.Sprintf(
		"SELECT S3_VERSION_ID, COUNT(*) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY = '%s' GROUP BY S3_VERSION_ID", key))
	got := map[string]int64{}
	for _, r := range rows {
		var n int64
		_, err := fmt.Sscan(fmt.Sprint(r[1]), &n)
		require.NoError(t, err)
		got[fmt.Sprint(r[0])] = n
	}
	return got
}

// loadedVersion returns the version FILE_LOADS holds for key.
func fileLoad(t *testing.T, s *sfemu.Server, key string) []any {
	t.Helper()
	rows := query(t, s, fmt.Sprintf(
		"SELECT S3_VERSION_ID, S3_SEQUENCER, ROWS_LOADED, LOAD_ID, LOADED_BY_USER, LOADED_BY_ROLE FROM LOADER_DB.RAW.FILE_LOADS WHERE S3_KEY = '%s'", key))
	require.Len(t, rows, 1, "one FILE_LOADS row per key")
	return rows[0]
}

func statuses(res *Result) []Status {
	var out []Status
	for _, f := range res.Files {
		out = append(out, f.Status)
	}
	return out
}

func TestLoadVersions(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	load := func(id string, files ...testFile) *Result {
		t.Helper()
		res, err := c.Load(ctx, newBatch(id, files...))
		require.NoError(t, err)
		return res
	}

	res := load("load-1", fileVersion("a.json", "v1", "0A", 3), fileVersion("b.json", "v1", "10", 2))
	assert.Equal(t, []Status{StatusLoaded, StatusLoaded}, statuses(res))
	assert.Equal(t, map[string]int64{"v1": 3}, rowsOf(t, s, "a.json"))

	// The same version again: exactly one copy.
	res = load("load-2", fileVersion("a.json", "v1", "0A", 3))
	assert.Equal(t, []Status{StatusReloaded}, statuses(res))
	assert.Equal(t, int64(3), res.Files[0].Rows)
	assert.Equal(t, map[string]int64{"v1": 3}, rowsOf(t, s, "a.json"))

	// A newer version (its sequencer is longer: padding decides, not text order) replaces it.
	res = load("load-3", fileVersion("a.json", "v2", "100", 4))
	assert.Equal(t, []Status{StatusReplaced}, statuses(res))
	assert.Equal(t, map[string]int64{"v2": 4}, rowsOf(t, s, "a.json"))

	// The older version arriving late changes nothing.
	res = load("load-4", fileVersion("a.json", "v1", "0A", 3), fileVersion("c.json", "v1", "1", 1))
	assert.Equal(t, []Status{StatusSkippedOlder, StatusLoaded}, statuses(res))
	assert.Equal(t, int64(0), res.Files[0].Rows)
	assert.Equal(t, map[string]int64{"v2": 4}, rowsOf(t, s, "a.json"))
	assert.Equal(t, map[string]int64{"v1": 1}, rowsOf(t, s, "c.json"))

	// FILE_LOADS holds the newest version, the load that wrote it, and who ran it.
	got := fileLoad(t, s, "a.json")
	assert.Equal(t, "v2", fmt.Sprint(got[0]))
	assert.Equal(t, "100", fmt.Sprint(got[1]))
	assert.Equal(t, "4", fmt.Sprint(got[2]))
	assert.Equal(t, "load-3", fmt.Sprint(got[3]))
	assert.Equal(t, DefaultUser, fmt.Sprint(got[4]))
	assert.Equal(t, DefaultRole, fmt.Sprint(got[5]))
}

func TestLoadEnrichesRows(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	_, err := c.Load(context.Background(), newBatch("load-1", fileVersion("a.json", "v1", "0A", 2)))
	require.NoError(t, err)

	rows := query(t, s, `SELECT RECORD_NUMBER, S3_BUCKET, S3_KEY, S3_VERSION_ID, S3_ETAG, S3_SIZE, S3_SEQUENCER,
		S3_EVENT_TIME, UPLOADER_PRINCIPAL, SOURCE_IP, LOAD_ID, LOADED_AT, PAYLOAD:n::NUMBER
		FROM LOADER_DB.RAW.RAW_DATA ORDER BY RECORD_NUMBER`)
	require.Len(t, rows, 2)
	got := make([]string, len(rows[0]))
	for i, v := range rows[0] {
		got[i] = fmt.Sprint(v)
	}
	assert.Equal(t, []string{"1", "landing", "a.json", "v1", "etag-v1", "200", "0A"}, got[:7])
	assert.Contains(t, got[7], "2026-11-02 10:00:00")
	assert.Equal(t, []string{"AWS:AIDAEXAMPLE", "203.0.113.7", "load-1"}, got[8:11])
	assert.Contains(t, got[11], "2026-11-03 12:00:00")
	assert.Equal(t, "1", got[12], "the payload is stored as a VARIANT, not as text")
}

func TestLoadUnversionedBucket(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	first := fileVersion("u.json", "", "0A", 2)
	first.ETag = "etag-1"
	second := fileVersion("u.json", "", "0B", 3)
	second.ETag = "etag-2"

	res, err := c.Load(ctx, newBatch("load-1", first))
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusLoaded}, statuses(res))
	res, err = c.Load(ctx, newBatch("load-2", first))
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusReloaded}, statuses(res))
	res, err = c.Load(ctx, newBatch("load-3", second))
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusReplaced}, statuses(res))
	res, err = c.Load(ctx, newBatch("load-4", first))
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusSkippedOlder}, statuses(res))

	assert.Equal(t, int64(3), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY = 'u.json' AND S3_VERSION_ID IS NULL AND S3_ETAG = 'etag-2'"))
	assert.Equal(t, int64(3), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY = 'u.json'"))
}

func TestLoadWithoutSequencersUsesEventTime(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	older := fileVersion("t.json", "v1", "", 2)
	newer := fileVersion("t.json", "v2", "", 3)
	newer.EventTime = older.EventTime.Add(1e9)

	res, err := c.Load(ctx, newBatch("load-1", newer))
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusLoaded}, statuses(res))
	res, err = c.Load(ctx, newBatch("load-2", older))
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusSkippedOlder}, statuses(res))
	assert.Equal(t, map[string]int64{"v2": 3}, rowsOf(t, s, "t.json"))
}

func TestTransientFaultLeavesNoPartialRows(t *testing.T) {
	tests := []struct {
		name  string
		fault sfemu.Fault
	}{
		{"Snowflake-shaped error", sfemu.Fault{Kind: "INSERT", Count: 1, Code: "000630", SQLState: "57014",
			Message: "Statement reached its statement or warehouse timeout of 60 second(s) and was canceled."}},
		// As many 503s as the driver makes attempts (MaxRetries 2, so 3): it gives up with
		// "timeout after ... Hanging?". The statement ran; only its answers were lost.
		{"503s beyond the driver's retries", sfemu.Fault{Kind: "INSERT", Count: 3, HTTPStatus: 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The fault hits the INSERT INTO RAW_DATA, after the MERGE and the DELETE of the
			// same transaction have run.
			hook := newFaultAfter("COPY INTO LOAD_STAGE", tt.fault)
			s := emulatorLogging(t, slog.New(hook))
			c := newClient(t, s, nil)
			ctx := context.Background()
			_, err := c.Load(ctx, newBatch("load-0", fileVersion("a.json", "v1", "0A", 2)))
			require.NoError(t, err)
			stats := s.Stats()

			hook.server = s
			_, err = c.Load(ctx, newBatch("load-1", fileVersion("a.json", "v2", "0B", 5), fileVersion("b.json", "v1", "01", 4)))
			require.Error(t, err)
			assert.Equal(t, NameTransient, Classify(err))
			assert.Contains(t, err.Error(), "insert into RAW_DATA")
			assert.Equal(t, stats.Statements["MERGE"]+1, s.Stats().Statements["MERGE"], "the MERGE ran before the fault")
			assert.Equal(t, stats.Statements["ROLLBACK"]+1, s.Stats().Statements["ROLLBACK"], "the batch's transaction was rolled back")

			// Nothing of the failed batch is visible: not its rows, not its FILE_LOADS rows,
			// and the rows it would have replaced are still there.
			assert.Equal(t, map[string]int64{"v1": 2}, rowsOf(t, s, "a.json"))
			assert.Empty(t, rowsOf(t, s, "b.json"))
			assert.Equal(t, "v1", fmt.Sprint(fileLoad(t, s, "a.json")[0]))
			assert.Equal(t, int64(1), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.FILE_LOADS"))

			// The retry the state machine makes loads the batch once.
			_, err = c.Load(ctx, newBatch("load-1", fileVersion("a.json", "v2", "0B", 5), fileVersion("b.json", "v1", "01", 4)))
			require.NoError(t, err)
			assert.Equal(t, map[string]int64{"v2": 5}, rowsOf(t, s, "a.json"))
			assert.Equal(t, map[string]int64{"v1": 4}, rowsOf(t, s, "b.json"))
			assert.Equal(t, int64(1), c.Logins())
		})
	}
}

// TestFailedRollbackDiscardsSession: when a failed batch cannot be rolled back, its session
// may still hold the batch's uncommitted MERGE and DELETE. The next batch must not run inside
// that transaction (its COMMIT would commit them), so the session is dropped for a new one.
func TestFailedRollbackDiscardsSession(t *testing.T) {
	hook := newFaultAfter("COPY INTO LOAD_STAGE", sfemu.Fault{Kind: "INSERT", Count: 1, Code: "000630", SQLState: "57014",
		Message: "Statement reached its statement or warehouse timeout of 60 second(s) and was canceled."})
	s := emulatorLogging(t, slog.New(hook))
	c := newClient(t, s, nil)
	ctx := context.Background()
	_, err := c.Load(ctx, newBatch("load-0", fileVersion("a.json", "v1", "0A", 2)))
	require.NoError(t, err)

	hook.server = s
	s.InjectFault(sfemu.Fault{Kind: "ROLLBACK", Count: 1})
	batch := func() *Batch {
		return newBatch("load-1", fileVersion("a.json", "v2", "0B", 5), fileVersion("b.json", "v1", "01", 4))
	}
	_, err = c.Load(ctx, batch())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "insert into RAW_DATA")

	res, err := c.Load(ctx, batch())
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusReplaced, StatusLoaded}, statuses(res), "decided against what was committed")
	assert.Equal(t, int64(2), c.Logins(), "the session left in doubt was replaced")
	assert.Equal(t, map[string]int64{"v2": 5}, rowsOf(t, s, "a.json"))
	assert.Equal(t, map[string]int64{"v1": 4}, rowsOf(t, s, "b.json"))
}

func TestLoadStatementsAreConstant(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx))
	var perBatch []int64
	var kinds []map[string]int64
	for i, shape := range []struct{ files, records int }{{1, 1}, {3, 50}, {20, 200}} {
		var files []testFile
		for f := range shape.files {
			files = append(files, fileVersion(fmt.Sprintf("s%d-%d.json", i, f), "v1", "0A", shape.records))
		}
		s.ResetStats()
		_, err := c.Load(ctx, newBatch(fmt.Sprintf("load-%d", i), files...))
		require.NoError(t, err)
		perBatch = append(perBatch, s.Stats().TotalStatements)
		kinds = append(kinds, s.Stats().Statements)
	}
	assert.Equal(t, []int64{9, 9, 9}, perBatch, "the same statements whatever the files and rows")
	for _, k := range kinds {
		assert.Equal(t, map[string]int64{"PUT": 1, "COPY": 1, "SELECT": 1, "MERGE": 1, "DELETE": 2, "INSERT": 1, "COMMIT": 1, "REMOVE": 1}, k)
	}
	st := s.Stats().Statements
	assert.Zero(t, st["BEGIN"], "AUTOCOMMIT is off: the first statement opens the transaction")
	assert.Zero(t, st["CREATE"]+st["ALTER"], "the session was set up once, at login")
}

func TestSessionIsSetUpOncePerLogin(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	for i := range 3 {
		_, err := c.Load(ctx, newBatch(fmt.Sprintf("load-%d", i), fileVersion(fmt.Sprintf("o%d.json", i), "v1", "0A", 2)))
		require.NoError(t, err)
	}
	s.ExpireMasterTokens()
	_, err := c.Load(ctx, newBatch("load-3", fileVersion("o3.json", "v1", "0A", 2)))
	require.NoError(t, err)

	st := s.Stats()
	assert.Equal(t, int64(2), st.Logins)
	assert.Equal(t, st.Logins, st.Statements["ALTER"], "one ALTER SESSION per session")
	assert.Equal(t, st.Logins, st.Statements["CREATE"], "one stage table per session")
	assert.Equal(t, int64(4), st.Statements["COMMIT"])
	// Each batch saw only its own rows in the stage, or a file would count twice.
	assert.Equal(t, int64(8), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"))
	assert.Equal(t, int64(4), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.FILE_LOADS"))
}

func TestMissingTableIsSQLError(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	b := newBatch("load-1", fileVersion("a.json", "v1", "0A", 1))
	b.Table = "NO_SUCH_TABLE"
	_, err := c.Load(context.Background(), b)
	require.Error(t, err)
	assert.Equal(t, NameSQL, Classify(err))
}

// TestStaleDecisionIsDetected plays the race Load guards against: its decision was made from
// a FILE_LOADS that another load has changed since. (The emulator serialises transactions
// from their first statement, so the race itself cannot happen there; the test hands apply
// the decision a stale read would have produced.)
func TestStaleDecisionIsDetected(t *testing.T) {
	tests := []struct {
		name string
		plan plan
		file testFile
	}{
		// Read as new, but a version of the key is loaded now.
		{"key loaded meanwhile", plan{fresh: []int{0}, rows: 2}, fileVersion("a.json", "v2", "0B", 2)},
		// Read as newer, but a newer version is loaded now.
		{"newer version loaded meanwhile", plan{replace: []int{0}, rows: 2}, fileVersion("a.json", "v0", "01", 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			c := newClient(t, s, nil)
			ctx := context.Background()
			_, err := c.Load(ctx, newBatch("load-1", fileVersion("a.json", "v1", "0A", 3)))
			require.NoError(t, err)

			b := newBatch("load-2", tt.file)
			defer b.Close()
			require.NoError(t, b.seal())
			folder, err := newStagePath()
			require.NoError(t, err)
			st := statements{table: b.Table, stage: folder}
			conn, err := c.pool().Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			// The batch's transaction as load opens it: the session runs with AUTOCOMMIT off.
			_, err = conn.ExecContext(ctx, st.put(b.spool))
			require.NoError(t, err)
			require.NoError(t, copyStage(ctx, conn, st, b.lines))

			err = tt.plan.apply(ctx, conn, st, b)
			require.ErrorIs(t, err, errConcurrentLoad)
			assert.Equal(t, NameTransient, Classify(err))
			_, err = conn.ExecContext(ctx, "ROLLBACK")
			require.NoError(t, err)
			assert.Equal(t, map[string]int64{"v1": 3}, rowsOf(t, s, "a.json"))
			assert.Equal(t, "v1", fmt.Sprint(fileLoad(t, s, "a.json")[0]))
		})
	}
}
