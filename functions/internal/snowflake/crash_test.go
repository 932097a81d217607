package snowflake

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
	scripts "github.com/keyless-etl/s3-snowflake-loader/sql"
)

// TestCrashedLoaderDoesNotStallTheNext cuts a loader off right after its MERGE, as a Lambda
// killed mid-transaction: its transaction stays open, detached, with the load lock. The next
// batch waits until the emulator applies Snowflake's rule (an idle transaction that blocks
// another one's lock is aborted; here after 1 s instead of 5 minutes) and then loads; the
// crashed batch, retried, loads too. Nothing is left for the dead-letter queue.
func TestCrashedLoaderDoesNotStallTheNext(t *testing.T) {
	s := emulatorAborting(t, time.Second)
	ctx := context.Background()

	crashed := func() *Batch {
		return newBatch("crashed", fileVersion("a.json", "v1", "0A", 3), fileVersion("b.json", "v1", "0A", 2))
	}
	crash(t, s, crashed())

	next := newClient(t, s, nil)
	res, err := next.Load(ctx, newBatch("next", fileVersion("a.json", "v2", "0B", 4), fileVersion("c.json", "v1", "0A", 1)))
	require.NoError(t, err, "the next batch loads once the detached transaction is aborted")
	assert.Equal(t, []Status{StatusLoaded, StatusLoaded}, statuses(res), "the crashed batch's MERGE was rolled back")

	// The state machine retries the crashed batch (on a new container: a new client, which
	// reads the files again).
	res, err = newClient(t, s, nil).Load(ctx, crashed())
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusSkippedOlder, StatusLoaded}, statuses(res))

	for key, want := range map[string]map[string]int64{"a.json": {"v2": 4}, "b.json": {"v1": 2}, "c.json": {"v1": 1}} {
		assert.Equal(t, want, rowsOf(t, s, key), key)
	}
	assert.Equal(t, int64(3), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.FILE_LOADS"))
	assert.Empty(t, query(t, s, "SHOW TRANSACTIONS IN ACCOUNT"))
}

// crash loads b with a loader that is cut off right after its MERGE, and checks that its
// transaction is left open.
func crash(t *testing.T, s *sfemu.Server, b *Batch) {
	t.Helper()
	cfg := emuConfig(s)
	cfg.RequestTimeout, cfg.MaxRetries = time.Second, 1
	crashing, err := New(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = crashing.Close() })
	require.NoError(t, crashing.Ping(context.Background()))

	s.InjectFault(sfemu.Fault{Kind: "MERGE", Count: 1, Sever: true})
	_, err = crashing.Load(context.Background(), b)
	require.Error(t, err, "the crashed loader never hears back")
	assert.Equal(t, NameTransient, Classify(err), "a lost connection is retried, not dead-lettered")
	require.Len(t, query(t, s, "SHOW TRANSACTIONS IN ACCOUNT"), 1, "its transaction is left open, detached, with its lock")
}

// TestOrphanedTransactionIsAbortedAtLogin: a new session aborts its user's transactions that
// are older than a loader can live, so the batch after a crash need not wait for Snowflake's
// own abort (here made to take an hour).
func TestOrphanedTransactionIsAbortedAtLogin(t *testing.T) {
	tests := []struct {
		name      string
		orphanAge time.Duration
		loads     bool
	}{
		{"older than a loader lives: aborted", 200 * time.Millisecond, true},
		{"younger: left alone, the batch waits its LOCK_TIMEOUT", time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulatorAborting(t, time.Hour)
			crash(t, s, newBatch("crashed", fileVersion("a.json", "v1", "0A", 3)))
			time.Sleep(300 * time.Millisecond) // the orphan ages past the shorter OrphanAge

			cfg := emuConfig(s)
			cfg.OrphanAge, cfg.LockTimeout = tt.orphanAge, time.Second
			var logs bytes.Buffer
			c, err := New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			_, err = c.Load(context.Background(), newBatch("next", fileVersion("a.json", "v2", "0B", 2)))
			if !tt.loads {
				require.Error(t, err)
				assert.Equal(t, NameTransient, Classify(err))
				assert.NotContains(t, logs.String(), "aborted an orphaned")
				return
			}
			require.NoError(t, err)
			assert.Contains(t, logs.String(), "aborted an orphaned Snowflake transaction")
			assert.Equal(t, map[string]int64{"v2": 2}, rowsOf(t, s, "a.json"))
			assert.Empty(t, query(t, s, "SHOW TRANSACTIONS IN ACCOUNT"))
		})
	}
}

// createLike creates table name in LOADER_DB.RAW with RAW_DATA's columns, as a route's table.
func createLike(t *testing.T, s *sfemu.Server, name string) {
	t.Helper()
	ddl := regexp.MustCompile(`(?s)CREATE TABLE IF NOT EXISTS LOADER_DB\.RAW\.RAW_DATA \(.*?\n\);`).FindString(scripts.Setup)
	require.NotEmpty(t, ddl)
	require.NoError(t, s.ExecScript(context.Background(), strings.ReplaceAll(ddl, "RAW_DATA", name)+
		fmt.Sprintf("\nGRANT SELECT, INSERT, DELETE ON TABLE LOADER_DB.RAW.%s TO ROLE LOADER_ROLE;", name), nil))
}

// TestVersionRoutedToAnotherTable follows one key whose versions a route sends to different
// tables: each newer version's load removes the older rows from the table they were in, so
// the key never has rows of two versions, and FILE_LOADS names where its rows are.
func TestVersionRoutedToAnotherTable(t *testing.T) {
	s := emulator(t)
	createLike(t, s, "ORDERS")
	c := newClient(t, s, nil)
	ctx := context.Background()
	rowsIn := func(table string) map[string]int64 {
		out := map[string]int64{}
		for _, r := range query(t, s, "SELECT S3_VERSION_ID, COUNT(*) FROM LOADER_DB.RAW."+table+" WHERE S3_KEY = 'k.json' GROUP BY S3_VERSION_ID") {
			out[r[0].(string)] = r[1].(int64)
		}
		return out
	}
	steps := []struct {
		name      string
		table     string
		file      testFile
		status    Status
		raw, ords map[string]int64
		loadedTo  string
	}{
		{"v1 into RAW_DATA", "RAW_DATA", fileVersion("k.json", "v1", "0A", 3), StatusLoaded, map[string]int64{"v1": 3}, map[string]int64{}, "RAW_DATA"},
		{"v2 routed to ORDERS", "ORDERS", fileVersion("k.json", "v2", "0B", 2), StatusReplaced, map[string]int64{}, map[string]int64{"v2": 2}, "ORDERS"},
		{"v1 again, late, into RAW_DATA", "RAW_DATA", fileVersion("k.json", "v1", "0A", 3), StatusSkippedOlder, map[string]int64{}, map[string]int64{"v2": 2}, "ORDERS"},
		{"v2 again into ORDERS", "ORDERS", fileVersion("k.json", "v2", "0B", 2), StatusReloaded, map[string]int64{}, map[string]int64{"v2": 2}, "ORDERS"},
		{"v3 back into RAW_DATA", "RAW_DATA", fileVersion("k.json", "v3", "0C", 1), StatusReplaced, map[string]int64{"v3": 1}, map[string]int64{}, "RAW_DATA"},
	}
	for i, step := range steps {
		b := newBatch(fmt.Sprintf("load-%d", i), step.file)
		b.Table = step.table
		res, err := c.Load(ctx, b)
		require.NoError(t, err, step.name)
		assert.Equal(t, []Status{step.status}, statuses(res), step.name)
		assert.Equal(t, step.raw, rowsIn("RAW_DATA"), step.name)
		assert.Equal(t, step.ords, rowsIn("ORDERS"), step.name)
		loads := query(t, s, "SELECT TARGET_TABLE FROM LOADER_DB.RAW.FILE_LOADS WHERE S3_KEY = 'k.json'")
		assert.Equal(t, [][]any{{step.loadedTo}}, loads, step.name)
	}
}

// TestSetupUpgradesAnEarlierFileLoads runs sql/setup.sql over a FILE_LOADS created before it
// had TARGET_TABLE, with a row in it: the column is added, and the old row counts as loaded
// into the table the next load of its key writes to.
func TestSetupUpgradesAnEarlierFileLoads(t *testing.T) {
	ctx := context.Background()
	s, err := sfemu.Start(ctx, sfemu.Config{
		Account:    testAccount,
		Identities: []sfemu.Identity{{AccessKeyID: loaderKeyID, SecretAccessKey: loaderSecret, ARN: loaderARN}},
		Logger:     slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.ExecScript(ctx, `
CREATE DATABASE IF NOT EXISTS LOADER_DB;
CREATE SCHEMA IF NOT EXISTS LOADER_DB.RAW;
CREATE TABLE LOADER_DB.RAW.FILE_LOADS (
    S3_BUCKET VARCHAR, S3_KEY VARCHAR, S3_VERSION_ID VARCHAR, S3_ETAG VARCHAR, S3_SEQUENCER VARCHAR,
    S3_SIZE NUMBER, ROWS_LOADED NUMBER, LOAD_ID VARCHAR, LOADED_AT TIMESTAMP_TZ,
    LOADED_BY_USER VARCHAR, LOADED_BY_ROLE VARCHAR);
INSERT INTO LOADER_DB.RAW.FILE_LOADS (S3_BUCKET, S3_KEY, S3_VERSION_ID, S3_SEQUENCER, ROWS_LOADED)
    VALUES ('landing', 'old.json', 'v1', '0A', 1);`, nil))
	require.NoError(t, s.ExecScript(ctx, scripts.Setup, nil))
	require.NoError(t, s.ExecScript(ctx, scripts.Setup, nil), "setup.sql runs again safely")
	require.NoError(t, s.ExecScript(ctx, scripts.LambdaWID, map[string]string{"role_arn": loaderRole}))
	useIdentity(t, loaderKeyID, loaderSecret)
	assert.Equal(t, int64(1), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.LOAD_LOCK"), "one lock row, however often setup runs")

	res, err := newClient(t, s, nil).Load(ctx, newBatch("after-upgrade", fileVersion("old.json", "v2", "0B", 2)))
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusReplaced}, statuses(res))
	assert.Equal(t, [][]any{{"v2", "RAW_DATA"}}, query(t, s, "SELECT S3_VERSION_ID, TARGET_TABLE FROM LOADER_DB.RAW.FILE_LOADS"))
}

// TestStagedFilesOfADeadLoaderAreRemovedAtLogin: a loader cut off mid-batch never runs its
// REMOVE, so its batch's files stay in the user stage. A new session removes batch folders
// older than a loader can live, and leaves younger ones (a live loader's) and folders whose
// name it did not make.
func TestStagedFilesOfADeadLoaderAreRemovedAtLogin(t *testing.T) {
	s := emulatorAborting(t, time.Hour)
	ctx := context.Background()
	crash(t, s, newBatch("crashed", fileVersion("a.json", "v1", "0A", 3)))

	login := func(orphanAge time.Duration) (*Client, *bytes.Buffer) {
		cfg := emuConfig(s)
		cfg.OrphanAge = orphanAge
		var logs bytes.Buffer
		c, err := New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		require.NoError(t, c.Ping(ctx))
		return c, &logs
	}
	folders := func(c *Client) []string {
		rows, err := c.pool().QueryContext(ctx, "LIST @~/"+stageRoot)
		require.NoError(t, err)
		defer rows.Close()
		seen := map[string]bool{}
		for rows.Next() {
			var name, md5, modified string
			var size int64
			require.NoError(t, rows.Scan(&name, &size, &md5, &modified))
			_, rest, _ := strings.Cut(name, stageRoot)
			folder, _, _ := strings.Cut(rest, "/")
			seen[folder] = true
		}
		require.NoError(t, rows.Err())
		return slices.Sorted(maps.Keys(seen))
	}

	young, logs := login(time.Hour)
	left := folders(young)
	require.Len(t, left, 1, "the crashed loader's folder is still there")
	require.Regexp(t, reStageFolder, left[0])
	assert.NotContains(t, logs.String(), "removed the staged files")
	other := filepath.Join(t.TempDir(), "other.ndjson")
	require.NoError(t, os.WriteFile(other, []byte("{}\n"), 0o644))
	_, err := young.pool().ExecContext(ctx, "PUT 'file://"+other+"' '@~/"+stageRoot+"kept-by-someone/' AUTO_COMPRESS = FALSE")
	require.NoError(t, err)

	time.Sleep(1100 * time.Millisecond) // folder names hold whole seconds
	old, logs := login(time.Second)
	assert.Equal(t, []string{"kept-by-someone"}, folders(old), "only the dead loader's folder is removed")
	assert.Contains(t, logs.String(), "removed the staged files of a batch whose loader stopped before removing them")
	assert.Contains(t, logs.String(), left[0])
}
