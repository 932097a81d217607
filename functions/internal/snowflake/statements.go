package snowflake

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/route"
)

// RawDataColumns are the columns of RAW_DATA (and of every table a route loads into), in the
// order sql/setup.sql declares them. A test holds this list and the DDL together.
var RawDataColumns = []string{
	"PAYLOAD", "RECORD_NUMBER", "S3_BUCKET", "S3_KEY", "S3_VERSION_ID", "S3_ETAG", "S3_SIZE",
	"S3_SEQUENCER", "S3_EVENT_TIME", "UPLOADER_PRINCIPAL", "SOURCE_IP", "LOAD_ID", "LOADED_AT",
}

// FileLoadsColumns are the columns of FILE_LOADS, in the order sql/setup.sql declares them.
var FileLoadsColumns = []string{
	"S3_BUCKET", "S3_KEY", "S3_VERSION_ID", "S3_ETAG", "S3_SEQUENCER", "S3_SIZE", "ROWS_LOADED",
	"LOAD_ID", "LOADED_AT", "LOADED_BY_USER", "LOADED_BY_ROLE", "TARGET_TABLE",
}

// loadLock is the table whose one row every load updates first, and lockRow that row's name
// (sql/setup.sql creates both). The row guards FILE_LOADS and the tables it records: a load
// holds its lock from its first decision to its COMMIT.
const (
	loadLock = "LOAD_LOCK"
	lockRow  = "FILE_LOADS"
)

// stageTable holds a batch for the length of a session. A temporary table lives only in the
// session that creates it, so concurrent loaders never see each other's rows; its name must
// not be that of a permanent table in the schema (Snowflake then demands ownership of it).
// It is created once per session, when the session opens; each batch fills it with COPY
// and empties it again before its COMMIT.
const stageTable = "LOAD_STAGE"

// sessionSetup runs once on each new session, before its first batch. AUTOCOMMIT off makes
// the first statement of a batch open its transaction, so no BEGIN is sent, and leaves it
// open until the batch's COMMIT or ROLLBACK. LOCK_TIMEOUT and STATEMENT_TIMEOUT_IN_SECONDS
// (sessionTimeouts) bound how long a statement waits behind another load. The stage table is
// created while no transaction is open (DDL commits one). CREATE OR REPLACE rather than IF
// NOT EXISTS: the session is new, so there is nothing to replace, and a permanent table of
// the same name makes it fail instead of being silently written to.
func sessionSetup(cfg Config) []string {
	cols := make([]string, len(stageColumns))
	for i, c := range stageColumns {
		cols[i] = c.name + " " + c.typ
	}
	return []string{
		"ALTER SESSION SET AUTOCOMMIT = FALSE" + sessionTimeouts(cfg),
		fmt.Sprintf("CREATE OR REPLACE TEMPORARY TABLE %s (%s)", stageTable, strings.Join(cols, ", ")),
	}
}

// stageColumns are the stage table's columns: one row per line of the staged files, with
// the staged file it came from and its line number there (see Batch for the layout). Line
// 1 of a file is its metadata; line n+1 is record n.
var stageColumns = []struct{ name, typ string }{
	{"FILE_NAME", "VARCHAR"}, {"LINE_NO", "NUMBER"}, {"PAYLOAD", "VARIANT"},
}

// stagedFiles reads the metadata lines of the stage table as a table of the files'
// metadata, with the column names of the target. The names in the JSON are those of
// Batch's fileMeta.
var stagedFiles = `(SELECT m.FILE_NAME, m.PAYLOAD:f::NUMBER AS FILE_NO,
        m.PAYLOAD:bucket::VARCHAR AS S3_BUCKET, m.PAYLOAD:key::VARCHAR AS S3_KEY,
        m.PAYLOAD:version_id::VARCHAR AS S3_VERSION_ID, m.PAYLOAD:etag::VARCHAR AS S3_ETAG,
        m.PAYLOAD:size::NUMBER AS S3_SIZE, m.PAYLOAD:sequencer::VARCHAR AS S3_SEQUENCER,
        m.PAYLOAD:event_time::TIMESTAMP_TZ AS S3_EVENT_TIME, m.PAYLOAD:principal::VARCHAR AS UPLOADER_PRINCIPAL,
        m.PAYLOAD:source_ip::VARCHAR AS SOURCE_IP, m.PAYLOAD:rows::NUMBER AS ROWS_LOADED
    FROM ` + stageTable + ` m WHERE m.LINE_NO = 1)`

// sequencerWidth is the width sequencers are left-padded to before they compare as strings:
// S3 sequencers of one key are hex numbers of varying length (typically 16 to 18 digits).
const sequencerWidth = 64

// versionGuard is true when the staged file s may replace the loaded version l: the same
// version again, or a sequencer not older than the loaded one. Where a sequencer is missing
// the decision is the one Load made from event times, so the guard lets it through.
var versionGuard = fmt.Sprintf(`(s.S3_VERSION_ID = l.S3_VERSION_ID
        OR s.S3_SEQUENCER IS NULL OR l.S3_SEQUENCER IS NULL
        OR LPAD(s.S3_SEQUENCER, %[1]d, '0') >= LPAD(l.S3_SEQUENCER, %[1]d, '0'))`, sequencerWidth)

// statements is the SQL of one load into one table. Table names come from route.ValidTable
// identifiers, file numbers from the batch and the stage path from newStagePath, so the
// text is assembled without quoting.
type statements struct {
	table string
	// stage is the batch's folder in the user stage, e.g. @~/s3-snowflake-loader/<hex>/.
	stage string
}

// lock updates the lock row, and so takes the lock of LOAD_LOCK until the batch's COMMIT or
// ROLLBACK: Snowflake's UPDATE holds its table's lock for the rest of the transaction and
// makes other UPDATE, DELETE and MERGE statements of the table wait for it. It always changes
// that row (the load id and time differ each time), so it never depends on how Snowflake
// treats an UPDATE that matches nothing. Two bind values: the load id and the load time.
func (st statements) lock() string {
	return fmt.Sprintf(`UPDATE %s SET LOCKED_BY_LOAD = CAST(? AS VARCHAR), LOCKED_AT = CAST(? AS TIMESTAMP_TZ) WHERE NAME = '%s'`, loadLock, lockRow)
}

// put uploads the batch's spool files, already gzipped (Batch.compress), to its folder of the
// user stage: SOURCE_COMPRESSION = GZIP with AUTO_COMPRESS = FALSE has the driver upload them
// as they are (processFileCompressionType in the driver's file_transfer_agent.go), and COPY
// detects the compression (COMPRESSION = AUTO). OVERWRITE because a folder is used by one
// attempt only. PARALLEL is the driver's number of concurrent uploads.
// See https://docs.snowflake.com/en/sql-reference/sql/put.
func (st statements) put(spool string) string {
	return fmt.Sprintf("PUT 'file://%s/*' '%s' AUTO_COMPRESS = FALSE SOURCE_COMPRESSION = GZIP OVERWRITE = TRUE PARALLEL = %d",
		spool, st.stage, putParallel)
}

// copyStage loads every line of the staged files into the stage table, as it is: the file
// name and line number come from COPY's metadata columns and the line becomes a VARIANT.
// The JSON file format keeps the payload as it is: no outer array stripped, no nulls
// stripped, invalid UTF-8 and duplicate keys refused, nothing replaced (its defaults), and,
// set here so that no string value can be touched whatever the defaults, no NULL_IF strings
// and no trimming.
// FORCE makes the load independent of COPY's load history (the folder is new anyway).
// See https://docs.snowflake.com/en/sql-reference/sql/copy-into-table and
// https://docs.snowflake.com/en/user-guide/querying-metadata.
func (st statements) copyStage() string {
	return fmt.Sprintf(`COPY INTO %s (FILE_NAME, LINE_NO, PAYLOAD)
FROM (SELECT METADATA$FILENAME, METADATA$FILE_ROW_NUMBER, $1 FROM %s)
FILE_FORMAT = (TYPE = JSON NULL_IF = () TRIM_SPACE = FALSE) FORCE = TRUE`, stageTable, st.stage)
}

// clearStage empties the stage table at the end of a batch's transaction, so that it holds
// nothing between batches; a batch that fails rolls its COPY back instead.
func (st statements) clearStage() string { return "DELETE FROM " + stageTable }

// remove deletes the batch's staged files; it runs after the transaction, committed or not.
func (st statements) remove() string { return "REMOVE " + st.stage }

// selectLoaded reads, for each staged file whose key is in FILE_LOADS, the version loaded now
// and the table its rows are in (empty when FILE_LOADS predates TARGET_TABLE: then the load's
// own table is assumed). The event time of that version is read from the target only where a
// sequencer is missing on either side: only then does the order of versions depend on it.
// A version loaded into another table has no event time here, and counts as the oldest.
func (st statements) selectLoaded() string {
	return fmt.Sprintf(`SELECT f.FILE_NO, COALESCE(l.S3_VERSION_ID, ''), COALESCE(l.S3_ETAG, ''),
    COALESCE(l.S3_SEQUENCER, ''), e.EVENT_TIME, COALESCE(l.TARGET_TABLE, '')
FROM %[2]s f
JOIN FILE_LOADS l ON l.S3_BUCKET = f.S3_BUCKET AND l.S3_KEY = f.S3_KEY
LEFT JOIN (
    SELECT d.S3_BUCKET, d.S3_KEY, MAX(d.S3_EVENT_TIME) AS EVENT_TIME
    FROM %[1]s d
    JOIN %[2]s g ON g.S3_BUCKET = d.S3_BUCKET AND g.S3_KEY = d.S3_KEY
    JOIN FILE_LOADS h ON h.S3_BUCKET = g.S3_BUCKET AND h.S3_KEY = g.S3_KEY
    WHERE g.S3_SEQUENCER IS NULL OR h.S3_SEQUENCER IS NULL
    GROUP BY d.S3_BUCKET, d.S3_KEY
) e ON e.S3_BUCKET = f.S3_BUCKET AND e.S3_KEY = f.S3_KEY`, st.table, stagedFiles)
}

// merge records the winning files in FILE_LOADS, with the table their rows are now in. Its
// conditions repeat the decision Load made from selectLoaded, so a version committed by
// another load in between would make the MERGE change fewer rows than planned, which Load
// detects (a second guard: the lock taken first already rules it out). Two bind values: the
// load id and the load time.
func (st statements) merge(fresh, replace []int) string {
	return fmt.Sprintf(`MERGE INTO FILE_LOADS l
USING (
    SELECT f.*, CAST(? AS VARCHAR) AS LOAD_ID, CAST(? AS TIMESTAMP_TZ) AS LOADED_AT FROM %[1]s f
) s
ON l.S3_BUCKET = s.S3_BUCKET AND l.S3_KEY = s.S3_KEY
WHEN MATCHED AND %[2]s AND %[3]s THEN UPDATE SET
    S3_VERSION_ID = s.S3_VERSION_ID, S3_ETAG = s.S3_ETAG, S3_SEQUENCER = s.S3_SEQUENCER,
    S3_SIZE = s.S3_SIZE, ROWS_LOADED = s.ROWS_LOADED, LOAD_ID = s.LOAD_ID, LOADED_AT = s.LOADED_AT,
    LOADED_BY_USER = CURRENT_USER(), LOADED_BY_ROLE = CURRENT_ROLE(), TARGET_TABLE = '%[6]s'
WHEN NOT MATCHED AND %[4]s THEN INSERT (%[5]s) VALUES (
    s.S3_BUCKET, s.S3_KEY, s.S3_VERSION_ID, s.S3_ETAG, s.S3_SEQUENCER, s.S3_SIZE, s.ROWS_LOADED,
    s.LOAD_ID, s.LOADED_AT, CURRENT_USER(), CURRENT_ROLE(), '%[6]s')`,
		stagedFiles, fileIn("s", replace), versionGuard, fileIn("s", fresh), strings.Join(FileLoadsColumns, ", "), st.table)
}

// deleteRows removes every row of the given files' keys from table. On the batch's table
// these are the rows of the version the winners replace, or their own rows from an earlier
// load of the same version; on another table, the rows of a replaced version that FILE_LOADS
// says a route sent there.
func deleteRows(table string, files []int) string {
	return fmt.Sprintf(`DELETE FROM %[1]s d USING %[2]s f
WHERE %[3]s AND d.S3_BUCKET = f.S3_BUCKET AND d.S3_KEY = f.S3_KEY`,
		table, stagedFiles, fileIn("f", files))
}

// insertRows copies the winning files' records from the stage into the target with their
// file's metadata; a line that is JSON null (a record the validator left out, see Batch) is
// no record. Two bind values: the load id and the load time.
func (st statements) insertRows(winners []int) string {
	return fmt.Sprintf(`INSERT INTO %[1]s (%[2]s)
SELECT r.PAYLOAD, r.LINE_NO - 1, f.S3_BUCKET, f.S3_KEY, f.S3_VERSION_ID, f.S3_ETAG,
    f.S3_SIZE, f.S3_SEQUENCER, f.S3_EVENT_TIME, f.UPLOADER_PRINCIPAL, f.SOURCE_IP,
    CAST(? AS VARCHAR), CAST(? AS TIMESTAMP_TZ)
FROM %[3]s r JOIN %[4]s f ON f.FILE_NAME = r.FILE_NAME
WHERE r.LINE_NO > 1 AND NOT IS_NULL_VALUE(r.PAYLOAD) AND %[5]s`,
		st.table, strings.Join(RawDataColumns, ", "), stageTable, stagedFiles, fileIn("f", winners))
}

// fileIn is the condition "alias.FILE_NO is one of files". An empty list is FALSE, which an
// empty IN list would not be (it is a syntax error).
func fileIn(alias string, files []int) string {
	if len(files) == 0 {
		return "FALSE"
	}
	nums := make([]string, len(files))
	for i, f := range files {
		nums[i] = strconv.Itoa(f)
	}
	return fmt.Sprintf("%s.FILE_NO IN (%s)", alias, strings.Join(nums, ", "))
}

// validTable accepts the identifiers route accepts: unquoted, optionally DATABASE.SCHEMA.TABLE.
func validTable(name string) bool { return route.ValidTable(name) }
