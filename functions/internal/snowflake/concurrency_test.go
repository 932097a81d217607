package snowflake

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
	scripts "github.com/keyless-etl/s3-snowflake-loader/sql"
)

// concurrentRuns is how many times TestConcurrentLoadsOfTheSameKeys plays its 8 loaders.
const concurrentRuns = 50

// emulatorAborting is emulator with Snowflake's abort of idle blocking transactions after
// abortIdle instead of 5 minutes.
func emulatorAborting(t testing.TB, abortIdle time.Duration) *sfemu.Server {
	t.Helper()
	ctx := context.Background()
	s, err := sfemu.Start(ctx, sfemu.Config{
		Account:        testAccount,
		Identities:     []sfemu.Identity{{AccessKeyID: loaderKeyID, SecretAccessKey: loaderSecret, ARN: loaderARN}},
		Logger:         slog.New(slog.DiscardHandler),
		AbortIdleAfter: abortIdle,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.ExecScript(ctx, scripts.Setup, nil))
	require.NoError(t, s.ExecScript(ctx, scripts.LambdaWID, map[string]string{"role_arn": loaderRole}))
	useIdentity(t, loaderKeyID, loaderSecret)
	return s
}

// overlappingBatches builds the 8 batches of one run, each as a function that builds it
// afresh: a Batch is spent by its Load, and a retry reads its files again. Batch i holds:
//   - own-i, a key no other batch has;
//   - same-(i/2), the same version as one other batch;
//   - two-(i%4), version v1 in batches 0-3 and v2 (newer sequencer) in batches 4-7.
//
// Batches 0, 3 and 6 go to ORDERS, as a route would send them, the others to RAW_DATA: so
// same-1 comes in the same version to both tables, and two-0 and two-2 have their versions
// routed to different tables. It returns the batches and, per key, the version that must
// end up loaded, in one table or the other.
func overlappingBatches(run int) ([]func() *Batch, map[string]string) {
	want := map[string]string{}
	var batches []func() *Batch
	for i := range 8 {
		gen := i/4 + 1
		files := []testFile{
			fileVersion(fmt.Sprintf("own-%d.json", i), "v1", "0A", 3),
			fileVersion(fmt.Sprintf("same-%d.json", i/2), "v1", "0A", 4),
			fileVersion(fmt.Sprintf("two-%d.json", i%4), fmt.Sprintf("v%d", gen), fmt.Sprintf("0%d", gen), 2+gen),
		}
		for _, f := range files {
			if f.VersionID > want[f.Key] {
				want[f.Key] = f.VersionID
			}
		}
		table := "RAW_DATA"
		if i%3 == 0 {
			table = "ORDERS"
		}
		batches = append(batches, func() *Batch {
			b := newBatch(fmt.Sprintf("run-%d-load-%d", run, i), files...)
			b.Table = table
			return b
		})
	}
	return batches, want
}

// loadRetrying loads a batch as the state machine would: a Snowflake.Transient failure is
// retried, anything else is returned. It returns the transient failures it retried.
func loadRetrying(ctx context.Context, c *Client, batch func() *Batch) (transients []error, err error) {
	for {
		_, err := c.Load(ctx, batch())
		if err == nil || Classify(err) != NameTransient || len(transients) == 5 {
			return transients, err
		}
		transients = append(transients, err)
	}
}

func TestConcurrentLoadsOfTheSameKeys(t *testing.T) {
	s := emulatorAborting(t, 0)
	createLike(t, s, "ORDERS")
	ctx := context.Background()
	clients := make([]*Client, 8)
	for i := range clients {
		clients[i] = newClient(t, s, nil)
		require.NoError(t, clients[i].Ping(ctx), "each loader has a session of its own")
	}
	require.Equal(t, int64(8), s.Stats().Logins)

	var transients []error
	for run := range concurrentRuns {
		query(t, s, "DELETE FROM LOADER_DB.RAW.RAW_DATA")
		query(t, s, "DELETE FROM LOADER_DB.RAW.ORDERS")
		query(t, s, "DELETE FROM LOADER_DB.RAW.FILE_LOADS")
		batches, want := overlappingBatches(run)

		start := make(chan struct{})
		errs := make([]error, len(batches))
		retried := make([][]error, len(batches))
		var wg sync.WaitGroup
		for i, b := range batches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				retried[i], errs[i] = loadRetrying(ctx, clients[i], b)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "run %d, batch %d", run, i)
			transients = append(transients, retried[i]...)
		}

		// Exactly one copy of each key's newest version, in the table FILE_LOADS names, and
		// one FILE_LOADS row per key.
		got := map[string]map[string]int64{}
		tables := map[string][]string{}
		for _, r := range query(t, s, `SELECT S3_KEY, S3_VERSION_ID, 'RAW_DATA', COUNT(*) FROM LOADER_DB.RAW.RAW_DATA GROUP BY S3_KEY, S3_VERSION_ID
UNION ALL SELECT S3_KEY, S3_VERSION_ID, 'ORDERS', COUNT(*) FROM LOADER_DB.RAW.ORDERS GROUP BY S3_KEY, S3_VERSION_ID`) {
			key := r[0].(string)
			if got[key] == nil {
				got[key] = map[string]int64{}
			}
			got[key][r[1].(string)] += r[3].(int64)
			tables[key] = append(tables[key], r[2].(string))
		}
		loads := map[string][]string{}
		for _, r := range query(t, s, "SELECT S3_KEY, S3_VERSION_ID, TARGET_TABLE FROM LOADER_DB.RAW.FILE_LOADS") {
			loads[r[0].(string)] = append(loads[r[0].(string)], r[1].(string))
			assert.Equal(t, tables[r[0].(string)], []string{r[2].(string)}, "run %d: the rows of %s are in the one table FILE_LOADS names", run, r[0])
		}
		require.Len(t, got, len(want), "run %d: keys in RAW_DATA", run)
		for key, version := range want {
			records := map[string]int64{"v1": 3, "v2": 4}[version]
			switch {
			case strings.HasPrefix(key, "own-"):
				records = 3
			case strings.HasPrefix(key, "same-"):
				records = 4
			}
			assert.Equal(t, map[string]int64{version: records}, got[key], "run %d: rows of %s", run, key)
			assert.Equal(t, []string{version}, loads[key], "run %d: FILE_LOADS rows of %s", run, key)
		}
		if t.Failed() {
			t.Fatalf("run %d of %d failed", run+1, concurrentRuns)
		}
	}
	t.Logf("%d runs of 8 concurrent loaders: every key loaded once at its newest version, in one of two tables; %d attempts failed as Snowflake.Transient and passed on a retry", concurrentRuns, len(transients))
	for _, err := range transients {
		t.Logf("retried: %v", err)
	}
}

func TestLockTimeoutIsTransient(t *testing.T) {
	tests := []struct {
		name   string
		number int
	}{
		{"lock wait timeout or too many waiters (000625)", 625},
		{"statement timeout (000630)", 630},
		{"transaction aborted, statement canceled (000604)", 604},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, NameTransient, Classify(&gosnowflake.SnowflakeError{Number: tt.number, SQLState: "57014"}))
		})
	}
}

func TestBlockedLoadFailsAsTransientWithinItsLockTimeout(t *testing.T) {
	s := emulatorAborting(t, time.Hour)
	ctx := context.Background()
	cfg := emuConfig(s)
	cfg.LockTimeout = time.Second
	c, err := New(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	// Another session holds the load lock and stays in its transaction.
	holder := newClient(t, s, nil)
	conn, err := holder.pool().Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, (statements{table: "RAW_DATA"}).lock(), "holder", formatTime(time.Now()))
	require.NoError(t, err)

	_, err = c.Load(ctx, newBatch("blocked", fileVersion("a.json", "v1", "0A", 2)))
	require.Error(t, err)
	assert.Equal(t, NameTransient, Classify(err))
	var sf *gosnowflake.SnowflakeError
	require.ErrorAs(t, err, &sf)
	assert.Equal(t, 625, sf.Number)

	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	_, err = c.Load(ctx, newBatch("retried", fileVersion("a.json", "v1", "0A", 2)))
	require.NoError(t, err, "the retry loads once the lock is free")
	assert.Equal(t, map[string]int64{"v1": 2}, rowsOf(t, s, "a.json"))
}

func TestSessionTimeoutsAreSetAtLogin(t *testing.T) {
	tests := []struct {
		name       string
		lock, stmt time.Duration
		want       string
	}{
		{"defaults", 0, 0, " LOCK_TIMEOUT = 420 STATEMENT_TIMEOUT_IN_SECONDS = 600"},
		{"configured", 90 * time.Second, 1500 * time.Millisecond, " LOCK_TIMEOUT = 90 STATEMENT_TIMEOUT_IN_SECONDS = 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("acct")
			cfg.LockTimeout, cfg.StatementTimeout = tt.lock, tt.stmt
			assert.Equal(t, "ALTER SESSION SET AUTOCOMMIT = FALSE"+tt.want, sessionSetup(cfg)[0])
		})
	}
	assert.Less(t, DefaultStatementTimeout, 15*time.Minute, "below the loader Lambda's timeout (template.yaml)")
	assert.Greater(t, DefaultLockTimeout, 5*time.Minute, "longer than Snowflake's abort of an idle blocking transaction")
}
