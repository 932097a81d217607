package snowflake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/snowflakedb/gosnowflake"
)

// Result says what Load did with each file, in the order of Batch.Files.
type Result struct {
	Files []FileResult
}

// FileResult is the outcome of one file.
type FileResult struct {
	Status Status
	// Rows is the number of rows of this file now in the table (0 when skipped).
	Rows int64
}

// errConcurrentLoad means another load committed a version of one of the batch's keys while
// this batch was deciding what to do; nothing was committed, and a retry decides again.
var errConcurrentLoad = errors.New("another load changed FILE_LOADS for a key of this batch while it loaded; nothing was committed")

// Load writes the batch in one session and one transaction, with the same statements whatever
// the number of files and records. Each session is set up once, when it opens (sessionSetup):
// ALTER SESSION SET AUTOCOMMIT = FALSE, LOCK_TIMEOUT and STATEMENT_TIMEOUT_IN_SECONDS, and
// CREATE OR REPLACE TEMPORARY TABLE LOAD_STAGE (DDL commits by itself in Snowflake, so it
// runs while no transaction is open). Each batch then sends:
//
//  1. INSERT OVERWRITE INTO LOAD_STAGE ... VALUES (?, ?, ?)  one array bind: a row per file, a
//     row per record, in place of the previous batch's rows; with AUTOCOMMIT off it opens the
//     transaction, so no BEGIN is sent
//  2. UPDATE LOAD_LOCK                              the one lock row: takes the load lock
//  3. SELECT the versions FILE_LOADS holds for the batch's keys, to decide each file's status
//  4. MERGE INTO FILE_LOADS                        the winners, with CURRENT_USER/CURRENT_ROLE
//     and the table they are loaded into
//  5. DELETE FROM <table>                          all rows of the winners' keys
//  6. INSERT INTO <table> SELECT PARSE_JSON(...)   the winners' records with their metadata
//  7. COMMIT
//
// When every file is older than what is loaded, 4 to 6 are left out. When FILE_LOADS places
// a winner's older version in another table (a route sent the new one elsewhere), a DELETE
// from that table follows 4: one per such table, never per file. When a statement fails, a
// ROLLBACK follows.
//
// Concurrent loads stay exact by Snowflake's documented semantics alone
// (https://docs.snowflake.com/en/sql-reference/transactions):
//   - "Resource locking": an UPDATE locks its table until its transaction commits or rolls
//     back, and another UPDATE, DELETE or MERGE of that table waits for the lock (up to the
//     session's LOCK_TIMEOUT). Every load updates the same row of LOAD_LOCK at step 2, so
//     from there to its COMMIT no other load runs steps 2 to 7; two updates of one row cannot
//     both proceed, whatever the granularity of Snowflake's locks.
//   - "Read committed isolation": a statement sees the data committed before it began. Step
//     3 begins after step 2 got the lock, so after the previous holder's COMMIT: it sees every
//     version any load has recorded, and none can change until this load commits.
//   - Nothing is assumed about what a statement that waited sees of commits made while it
//     waited: step 2's outcome does not depend on it (it changes its row whatever the row
//     holds), and the statements that do depend on data start after it.
//
// The MERGE and INSERT row counts are checked against the plan all the same
// (errConcurrentLoad). A loader that dies mid-transaction leaves its lock held until Snowflake
// aborts its transaction (idle 5 minutes while it blocks another); LOCK_TIMEOUT
// (DefaultLockTimeout) outlasts that, and STATEMENT_TIMEOUT_IN_SECONDS ends any statement
// before Lambda's own timeout, as Snowflake.Transient. A new session also aborts its user's
// transactions older than a loader can live (sweepOrphans).
//
// Statement 1 becomes a stage upload on real Snowflake once the batch has more bind values
// than the account's CLIENT_STAGE_ARRAY_BINDING_THRESHOLD; the driver does that by itself,
// with a CREATE TEMPORARY STAGE and a PUT before it (the DDL is harmless there: no
// transaction is open before statement 1). It runs before the lock, so concurrent loads
// upload their batches side by side.
//
// Why these: BenchmarkLoad counts, on the emulator, 7 statements per batch for 1, 10 and 100
// files of 1,000 records, and one login (with its 2 setup statements) for the whole run.
// Loading each file on a connection of its own, as the Python demo does, costs a login and 8
// statements per file: 100 logins and 800 statements for the 100-file batch, and about 6
// times the time (2.4 s against 0.37 s on the emulator). Step 3 costs one statement and buys
// exact per-file statuses; step 2 costs one more and makes them exact under concurrency.
func (c *Client) Load(ctx context.Context, b *Batch) (*Result, error) {
	if err := b.check(); err != nil {
		return nil, &Error{Name: NameSQL, Op: "load batch", Err: err}
	}
	if err := b.seal(); err != nil {
		return nil, &Error{Name: NameSQL, Op: "load batch", Err: err}
	}
	var res *Result
	err := c.withConn(ctx, "load batch", func(conn *sql.Conn) error {
		r, err := load(ctx, conn, b)
		res = r
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func load(ctx context.Context, conn *sql.Conn, b *Batch) (res *Result, err error) {
	st := statements{table: b.Table}
	defer func() {
		if err != nil {
			rollback(ctx, conn, err)
		}
	}()
	// The session runs with AUTOCOMMIT off (sessionSetup): this first statement opens the
	// batch's transaction, which lasts until the COMMIT below.
	_, err = conn.ExecContext(ctx, st.insertStage(),
		gosnowflake.Array(&b.fileNo), gosnowflake.Array(&b.recordNo), gosnowflake.Array(&b.payload))
	if err != nil {
		return nil, fmt.Errorf("stage %d rows: %w", len(b.fileNo), err)
	}
	// Everything from here to the COMMIT runs under the load lock: what FILE_LOADS says is
	// read only once no other load can change it before this one commits.
	if err := takeLock(ctx, conn, st, b); err != nil {
		return nil, err
	}
	loaded, err := selectLoaded(ctx, conn, st)
	if err != nil {
		return nil, err
	}
	res, plan := decide(b, loaded)
	plan.moved = moved(b, loaded, plan)
	if len(plan.winners()) > 0 {
		if err := plan.apply(ctx, conn, st, b); err != nil {
			return nil, err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

// rollback ends the transaction of a batch that failed with cause. The next batch on the
// session must not start inside it, or its COMMIT would commit this batch's work; so when the
// ROLLBACK fails too, the connection is discarded instead of pooled (Snowflake rolls back the
// open transaction of a session that ends). A dead session needs neither: its transaction
// ended with it, and the caller drops the connection.
func rollback(ctx context.Context, conn *sql.Conn, cause error) {
	if deadSession(cause) {
		return
	}
	// The batch's context may be what failed; the ROLLBACK is bounded by the driver's
	// request timeout instead.
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// loadedVersion is what FILE_LOADS says is loaded for a key.
type loadedVersion struct {
	VersionID string
	ETag      string
	Sequencer string
	// EventTime is the loaded version's S3 event time, read only when a sequencer is missing.
	EventTime sql.NullTime
	// Table holds the loaded version's rows; "" when FILE_LOADS does not say.
	Table string
}

func selectLoaded(ctx context.Context, conn *sql.Conn, st statements) (map[int]loadedVersion, error) {
	rows, err := conn.QueryContext(ctx, st.selectLoaded())
	if err != nil {
		return nil, fmt.Errorf("read FILE_LOADS: %w", err)
	}
	defer rows.Close()
	loaded := map[int]loadedVersion{}
	for rows.Next() {
		var no int64
		var v loadedVersion
		if err := rows.Scan(&no, &v.VersionID, &v.ETag, &v.Sequencer, &v.EventTime, &v.Table); err != nil {
			return nil, fmt.Errorf("read FILE_LOADS: %w", err)
		}
		v.Sequencer = normalizeSequencer(v.Sequencer)
		loaded[int(no)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read FILE_LOADS: %w", err)
	}
	return loaded, nil
}

// plan lists the batch's files by what the transaction does with them.
type plan struct {
	fresh   []int // keys not in FILE_LOADS: insert
	replace []int // older or same version loaded: update
	rows    int64 // records of fresh and replace files
	// moved lists, by table, the winners whose loaded version is in another table than the
	// batch's: their old rows are deleted there.
	moved map[string][]int
}

func (p plan) winners() []int { return append(append([]int{}, p.fresh...), p.replace...) }

// decide gives each file its status against what is loaded.
func decide(b *Batch, loaded map[int]loadedVersion) (*Result, plan) {
	res := &Result{Files: make([]FileResult, len(b.files))}
	var p plan
	for i, f := range b.files {
		prev, ok := loaded[i]
		status := StatusLoaded
		if ok {
			status = against(f, prev)
		}
		switch status {
		case StatusLoaded:
			p.fresh = append(p.fresh, i)
		case StatusReplaced, StatusReloaded:
			p.replace = append(p.replace, i)
		}
		if status != StatusSkippedOlder {
			res.Files[i].Rows = b.rows[i]
			p.rows += b.rows[i]
		}
		res.Files[i].Status = status
	}
	return res, p
}

// against compares an incoming file with the version loaded for its key.
func against(f File, prev loadedVersion) Status {
	in := version{VersionID: f.VersionID, ETag: f.ETag, Sequencer: normalizeSequencer(f.Sequencer), EventTime: f.EventTime}
	old := version{VersionID: prev.VersionID, ETag: prev.ETag, Sequencer: prev.Sequencer}
	if prev.EventTime.Valid {
		old.EventTime = prev.EventTime.Time
	}
	switch {
	case in.same(old):
		return StatusReloaded
	case in.compare(old) >= 0:
		// A tie (no sequencers, equal event times, different versions) goes to the
		// incoming version: the later load is the later word.
		return StatusReplaced
	default:
		return StatusSkippedOlder
	}
}

// apply runs the MERGE, DELETE and INSERT of the plan and checks that each touched as many
// rows as planned: fewer means a concurrent load committed a version in between.
func (p plan) apply(ctx context.Context, conn *sql.Conn, st statements, b *Batch) error {
	loadID, loadedAt := b.LoadID, formatTime(b.LoadedAt.UTC())
	if b.LoadedAt.IsZero() {
		loadedAt = formatTime(time.Now().UTC())
	}
	winners := p.winners()
	n, err := execCount(ctx, conn, st.merge(p.fresh, p.replace), loadID, loadedAt)
	if err != nil {
		return fmt.Errorf("merge FILE_LOADS: %w", err)
	}
	if n != int64(len(winners)) {
		return fmt.Errorf("merge FILE_LOADS changed %d rows, planned %d: %w", n, len(winners), errConcurrentLoad)
	}
	// Tables in name order, so that two loads that delete from the same tables lock them in
	// the same order.
	for _, table := range slices.Sorted(maps.Keys(p.moved)) {
		if !validTable(table) {
			return &Error{Name: NameSQL, Op: "load batch", Err: fmt.Errorf("FILE_LOADS.TARGET_TABLE %q is not a valid Snowflake identifier; correct that row of FILE_LOADS", table)}
		}
		if _, err := conn.ExecContext(ctx, st.deleteMoved(table, p.moved[table])); err != nil {
			return fmt.Errorf("delete replaced rows from %s, where FILE_LOADS says they were loaded: %w", table, err)
		}
	}
	if _, err := conn.ExecContext(ctx, st.deleteRows(winners)); err != nil {
		return fmt.Errorf("delete replaced rows from %s: %w", b.Table, err)
	}
	n, err = execCount(ctx, conn, st.insertRows(winners), loadID, loadedAt)
	if err != nil {
		return fmt.Errorf("insert into %s: %w", b.Table, err)
	}
	if n != p.rows {
		return fmt.Errorf("insert into %s added %d rows, planned %d: %w", b.Table, n, p.rows, errConcurrentLoad)
	}
	return nil
}

func execCount(ctx context.Context, conn *sql.Conn, query string, args ...any) (int64, error) {
	r, err := conn.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// version is what orders two versions of one S3 key.
type version struct {
	VersionID string
	ETag      string
	Sequencer string
	EventTime time.Time
}

// same reports whether two versions are one: equal version ids, or in an unversioned bucket
// the same ETag written by the same event.
func (v version) same(o version) bool {
	if v.VersionID != "" || o.VersionID != "" {
		return v.VersionID == o.VersionID
	}
	return v.ETag == o.ETag && v.Sequencer == o.Sequencer
}

// compare orders v against o: S3 sequencers when both have one (hex strings, the shorter
// left-padded with zeros), otherwise event times; an unknown time counts as oldest.
func (v version) compare(o version) int {
	if v.Sequencer != "" && o.Sequencer != "" {
		return CompareSequencers(v.Sequencer, o.Sequencer)
	}
	switch {
	case v.EventTime.After(o.EventTime):
		return 1
	case v.EventTime.Before(o.EventTime):
		return -1
	}
	return 0
}

// CompareSequencers orders two S3 sequencers of one key: -1, 0 or +1. S3 documents them as
// hex strings to be compared after left-padding the shorter with zeros.
func CompareSequencers(a, b string) int {
	a, b = normalizeSequencer(a), normalizeSequencer(b)
	if n := max(len(a), len(b)); len(a) < n {
		a = strings.Repeat("0", n-len(a)) + a
	} else if len(b) < n {
		b = strings.Repeat("0", n-len(b)) + b
	}
	return strings.Compare(a, b)
}

// Newer reports whether a is a newer version of its key than b, by the rule Load applies.
// A loader uses it to keep only the newest version when a batch holds a key twice.
func Newer(a, b File) bool {
	va := version{VersionID: a.VersionID, ETag: a.ETag, Sequencer: normalizeSequencer(a.Sequencer), EventTime: a.EventTime}
	vb := version{VersionID: b.VersionID, ETag: b.ETag, Sequencer: normalizeSequencer(b.Sequencer), EventTime: b.EventTime}
	return va.compare(vb) > 0
}
