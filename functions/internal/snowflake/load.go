package snowflake

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
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
// runs while no transaction is open). The batch's records are already on local disk, one
// NDJSON file per S3 file (Batch). Each batch sends:
//
//  1. PUT file://<spool>/* @~/<folder>/  the files to a new folder of the user's stage;
//     gzipped by the loader as each was written, the driver uploads them as they are; no
//     request body carries them
//  2. COPY INTO LOAD_STAGE FROM (SELECT ... FROM @~/<folder>/)  every line as a VARIANT;
//     with AUTOCOMMIT off it opens the transaction, so no BEGIN is sent
//  3. UPDATE LOAD_LOCK                              the one lock row: takes the load lock
//  4. SELECT the versions FILE_LOADS holds for the batch's keys, to decide each file's status
//  5. MERGE INTO FILE_LOADS                        the winners, with CURRENT_USER/CURRENT_ROLE
//     and the table they are loaded into
//  6. DELETE FROM <table>                          all rows of the winners' keys
//  7. INSERT INTO <table> SELECT ... FROM LOAD_STAGE  the winners' records with their metadata
//  8. DELETE FROM LOAD_STAGE                       so the session holds nothing between batches
//  9. COMMIT
//  10. REMOVE @~/<folder>/                         after the COMMIT, or after the ROLLBACK
//
// When every file is older than what is loaded, 5 to 7 are left out. When FILE_LOADS places
// a winner's older version in another table (a route sent the new one elsewhere), a DELETE
// from that table follows 5: one per such table, never per file. When a statement fails, a
// ROLLBACK follows, then the REMOVE. PUT is a file transfer, not DML: it runs before the
// transaction opens, so no upload happens while the batch holds locks, and a failed upload
// leaves nothing to roll back. The REMOVE runs after the transaction for the same reason,
// and because staged files are not transactional: removing them inside it would not be
// undone by a ROLLBACK. The COPY into the session's temporary table runs before the lock too,
// so concurrent loads upload and copy their batches side by side.
//
// Concurrent loads stay exact by Snowflake's documented semantics alone
// (https://docs.snowflake.com/en/sql-reference/transactions):
//   - "Resource locking": an UPDATE locks its table until its transaction commits or rolls
//     back, and another UPDATE, DELETE or MERGE of that table waits for the lock (up to the
//     session's LOCK_TIMEOUT). Every load updates the same row of LOAD_LOCK at step 3, so
//     from there to its COMMIT no other load runs steps 3 to 9; two updates of one row cannot
//     both proceed, whatever the granularity of Snowflake's locks.
//   - "Read committed isolation": a statement sees the data committed before it began. Step
//     4 begins after step 3 got the lock, so after the previous holder's COMMIT: it sees every
//     version any load has recorded, and none can change until this load commits.
//   - Nothing is assumed about what a statement that waited sees of commits made while it
//     waited: step 3's outcome does not depend on it (it changes its row whatever the row
//     holds), and the statements that do depend on data start after it.
//
// The MERGE and INSERT row counts are checked against the plan all the same
// (errConcurrentLoad). A loader that dies mid-transaction leaves its lock held until Snowflake
// aborts its transaction (idle 5 minutes while it blocks another); LOCK_TIMEOUT
// (DefaultLockTimeout) outlasts that, and STATEMENT_TIMEOUT_IN_SECONDS ends any statement
// before Lambda's own timeout, as Snowflake.Transient. A new session also aborts its user's
// transactions older than a loader can live (sweepOrphans).
//
// Why a stage: it is Snowflake's own bulk-load path, and the statements stay small whatever
// the batch holds. The path it replaces bound the whole batch as arrays in one INSERT; the
// driver sends such a bind inline, in one request body of up to hundreds of MiB (Snowflake
// advises about 1 MB), until rows x columns reaches CLIENT_STAGE_ARRAY_BINDING_THRESHOLD
// (65,280), and beyond it uploads the binds itself through a CREATE TEMPORARY STAGE that
// needs a privilege the loader's role does not have. The user stage (@~) needs no grant at
// all: every user owns one. The Batch spools to disk, so the loader's memory no longer
// grows with the batch (the bind path held about 8 times the batch's bytes).
//
// Measured on the emulator, with its stage served as S3 so the driver's real upload runs
// (README "Loading, in Snowflake"): 10 statements per batch for 1, 100 and 1,000 files of
// 1,000 events, and for a 512 MiB batch of 16 MiB records (BenchmarkLoad,
// TestLoadThroughStage, TestLoadNear512MiB); one login for the whole run, with its 2 setup
// statements and the SHOW TRANSACTIONS and LIST of sweepOrphans. The peak heap of a process
// building and loading one batch was 27, 47 and 50 MB for batches of 0.2, 21 and 207 MB
// (BenchmarkLoadMemory), where the bind path held about 8 times the batch. Loading each file
// on a connection of its own, as the Python demo does, costs a login and 14 statements per
// file, its session's setup included (BenchmarkLoad/per-file). Gzipping the spool files in
// the loader at the fastest level, where PUT's AUTO_COMPRESS has the driver gzip at Go's
// default level, took BenchmarkLoad's 1,000-file batch from 134,000 to 164,000 rows/s. Step
// 4 costs one statement and buys exact per-file statuses; step 3 costs one more and makes
// them exact under concurrency.
func (c *Client) Load(ctx context.Context, b *Batch) (*Result, error) {
	defer b.Close()
	if err := b.check(); err != nil {
		return nil, &Error{Name: NameSQL, Op: "load batch", Err: err}
	}
	if err := b.seal(); err != nil {
		return nil, &Error{Name: NameSQL, Op: "load batch", Err: err}
	}
	var res *Result
	err := c.withConn(ctx, "load batch", func(conn *sql.Conn) error {
		r, err := c.load(ctx, conn, b)
		res = r
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// putParallel is the number of files the driver uploads at once in a PUT.
const putParallel = 4

func (c *Client) load(ctx context.Context, conn *sql.Conn, b *Batch) (res *Result, err error) {
	folder, err := newStagePath()
	if err != nil {
		return nil, err
	}
	st := statements{table: b.Table, stage: folder}
	defer func() {
		if err != nil {
			rollback(ctx, conn, err)
		}
		c.removeStaged(ctx, conn, st)
	}()
	if _, err = conn.ExecContext(ctx, st.put(b.spool)); err != nil {
		return nil, fmt.Errorf("upload %d files to %s: %w", len(b.files), st.stage, err)
	}
	// The session runs with AUTOCOMMIT off (sessionSetup): the COPY opens the batch's
	// transaction, which lasts until the COMMIT below.
	if err = copyStage(ctx, conn, st, b.lines); err != nil {
		return nil, err
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
	// Table names read back from FILE_LOADS end up in SQL text: refuse a bad one before the
	// MERGE, not after it.
	for table := range plan.moved {
		if !validTable(table) {
			return nil, &Error{Name: NameSQL, Op: "load batch", Err: fmt.Errorf("FILE_LOADS.TARGET_TABLE %q is not a valid Snowflake identifier; correct that row of FILE_LOADS", table)}
		}
	}
	if len(plan.winners()) > 0 {
		if err = plan.apply(ctx, conn, st, b); err != nil {
			return nil, err
		}
	}
	if _, err = conn.ExecContext(ctx, st.clearStage()); err != nil {
		return nil, fmt.Errorf("empty %s: %w", stageTable, err)
	}
	if _, err = conn.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

// stageRoot is the folder of the user stage that holds one folder per attempt at a batch.
const stageRoot = "s3-snowflake-loader/"

// stageTimeLayout begins the name of each batch's folder with the time it was made, so that
// the folder of a loader that died before its REMOVE can be told by its name alone
// (sweepStaged), without reading LIST's last_modified text.
const stageTimeLayout = "20060102T150405Z"

// reStageFolder matches the folder names newStagePath makes.
var reStageFolder = regexp.MustCompile(`^([0-9]{8}T[0-9]{6}Z)-[0-9a-f]{32}$`)

// newStagePath names a new folder of the user stage for one attempt at one batch.
func newStagePath() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "@~/" + stageRoot + time.Now().UTC().Format(stageTimeLayout) + "-" + hex.EncodeToString(b) + "/", nil
}

// copyStage runs the COPY and checks that it loaded every line that was staged: COPY answers
// with one row per file, whose rows_loaded column counts the lines it loaded.
func copyStage(ctx context.Context, conn *sql.Conn, st statements, lines int64) error {
	rows, err := conn.QueryContext(ctx, st.copyStage())
	if err != nil {
		return fmt.Errorf("copy the staged batch into %s: %w", stageTable, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("copy the staged batch into %s: %w", stageTable, err)
	}
	at := slices.IndexFunc(cols, func(c string) bool { return strings.EqualFold(c, "rows_loaded") })
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var loaded int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read COPY's answer: %w", err)
		}
		if at >= 0 {
			n, err := strconv.ParseInt(fmt.Sprint(vals[at]), 10, 64)
			if err != nil {
				return fmt.Errorf("read COPY's answer: rows_loaded %v: %w", vals[at], err)
			}
			loaded += n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("copy the staged batch into %s: %w", stageTable, err)
	}
	if loaded != lines {
		return fmt.Errorf("COPY loaded %d lines from %s, the batch staged %d", loaded, st.stage, lines)
	}
	return nil
}

// removeStaged deletes the batch's staged files. It is bounded by the driver's request
// timeout rather than the batch's context, which may be what failed. Files it cannot remove
// cost storage only: no later batch reads this folder.
func (c *Client) removeStaged(ctx context.Context, conn *sql.Conn, st statements) {
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), st.remove()); err != nil {
		c.log.WarnContext(ctx, "could not remove a batch's staged files; they cost storage until removed",
			"stage", st.stage, "error", err.Error())
	}
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
	loadID, loadedAt := b.LoadID, loadTime(b)
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
		if _, err := conn.ExecContext(ctx, deleteRows(table, p.moved[table])); err != nil {
			return fmt.Errorf("delete replaced rows from %s, where FILE_LOADS says they were loaded: %w", table, err)
		}
	}
	if _, err := conn.ExecContext(ctx, deleteRows(b.Table, winners)); err != nil {
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
