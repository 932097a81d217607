package sfemu

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stagedFilesDDL is a table for COPY: a line's file, its number and its value.
const stagedFilesDDL = `CREATE TABLE LOADER_DB.RAW.LINES (FILE_NAME VARCHAR, LINE_NO NUMBER, V VARIANT)`

// writeLocal writes name under a new directory with body and returns the directory.
func writeLocal(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	return dir
}

// TestPutCopyListRemove runs the stage's file commands through the real driver: PUT uploads
// (the driver compresses the file itself), LIST shows it, COPY loads each line as a VARIANT
// with its file name and row number, REMOVE empties the stage.
func TestPutCopyListRemove(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, stagedFilesDDL, nil))
	db := connect(t, s)
	dir := writeLocal(t, "a.ndjson", "{\"a\":1}\n\n{\"b\":\"x\\ty\",\"e\":\"😀\"}\nnull\n")

	_, err := db.ExecContext(ctx, "PUT 'file://"+dir+"/*' '@~/in/' AUTO_COMPRESS = TRUE OVERWRITE = TRUE")
	require.NoError(t, err)
	names := stageNames(t, db, "LIST @~/in/")
	assert.Equal(t, []string{"in/a.ndjson.gz"}, names, "the driver gzipped the file on its way")

	rows, err := db.QueryContext(ctx, `COPY INTO LINES (FILE_NAME, LINE_NO, V)
FROM (SELECT METADATA$FILENAME, METADATA$FILE_ROW_NUMBER, $1 FROM @~/in/) FILE_FORMAT = (TYPE = JSON) FORCE = TRUE`)
	require.NoError(t, err)
	var file, status string
	var parsed, loaded int64
	var rest [6]any
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&file, &status, &parsed, &loaded, &rest[0], &rest[1], &rest[2], &rest[3], &rest[4], &rest[5]))
	require.NoError(t, rows.Close())
	assert.Equal(t, "in/a.ndjson.gz", file)
	assert.Equal(t, "LOADED", status)
	assert.Equal(t, int64(3), loaded, "a blank line is no row")

	got := map[int64]string{}
	r, err := db.QueryContext(ctx, "SELECT LINE_NO, TO_JSON(V) FROM LINES WHERE FILE_NAME = 'in/a.ndjson.gz' ORDER BY LINE_NO")
	require.NoError(t, err)
	for r.Next() {
		var n int64
		var v string
		require.NoError(t, r.Scan(&n, &v))
		got[n] = v
	}
	require.NoError(t, r.Err())
	assert.Equal(t, map[int64]string{1: `{"a":1}`, 2: `{"b":"x\ty","e":"😀"}`, 3: `null`}, got)

	removed := stageNames(t, db, "REMOVE @~/in/")
	assert.Equal(t, []string{"in/a.ndjson.gz"}, removed)
	assert.Empty(t, stageNames(t, db, "LIST @~"))
}

// stageNames runs LIST or REMOVE and returns the first column, the file names.
func stageNames(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var names []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		names = append(names, fmt.Sprint(vals[0]))
	}
	require.NoError(t, rows.Err())
	return names
}

// TestCopyRefusesInvalidJSON: a line that is not JSON fails the whole COPY with Snowflake's
// parse error, and nothing of the file is loaded.
func TestCopyRefusesInvalidJSON(t *testing.T) {
	tests := []struct{ name, body string }{
		{"not JSON", "{\"a\":1}\n{\"a\":\n"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, "")
			ctx := context.Background()
			require.NoError(t, s.ExecScript(ctx, stagedFilesDDL, nil))
			db := connect(t, s)
			dir := writeLocal(t, "bad.ndjson", tt.body)
			_, err := db.ExecContext(ctx, "PUT 'file://"+dir+"/bad.ndjson' '@~/bad/'")
			require.NoError(t, err)
			_, err = db.ExecContext(ctx, "COPY INTO LINES (V) FROM (SELECT $1 FROM @~/bad/) FILE_FORMAT = (TYPE = JSON)")
			var sf *gosnowflake.SnowflakeError
			require.ErrorAs(t, err, &sf)
			assert.Equal(t, 100069, sf.Number, sf.Message)
			assert.Contains(t, sf.Message, "Error parsing JSON")
			assert.Contains(t, sf.Message, "bad/bad.ndjson.gz")
			assert.Zero(t, queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.LINES"))
		})
	}
}

// TestStageRefusals: what the emulator does not have is refused with Snowflake's errors.
func TestStageRefusals(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, stagedFilesDDL, nil))
	db := connect(t, s)
	tests := []struct {
		name, sql string
		code      int
		contains  string
	}{
		{"named stage", "LIST @MY_STAGE", 2003, "Stage 'MY_STAGE' does not exist"},
		{"CSV format", "COPY INTO LINES (V) FROM (SELECT $1 FROM @~/x/) FILE_FORMAT = (TYPE = CSV)", 1003, "TYPE = CSV"},
		{"second column of JSON", "COPY INTO LINES (V) FROM (SELECT $2 FROM @~/x/) FILE_FORMAT = (TYPE = JSON)", 1003, "$1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.ExecContext(ctx, tt.sql)
			var sf *gosnowflake.SnowflakeError
			require.ErrorAs(t, err, &sf)
			assert.Equal(t, tt.code, sf.Number)
			assert.Contains(t, sf.Message, tt.contains)
		})
	}
	rows, err := db.QueryContext(ctx, "COPY INTO LINES (V) FROM (SELECT $1 FROM @~/empty/) FILE_FORMAT = (TYPE = JSON)")
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var status string
	require.NoError(t, rows.Scan(&status))
	assert.Equal(t, "Copy executed with 0 files processed.", status)
}

// TestOversizedRequestIsRefused: a request body over the limit is answered 413, as by
// Snowflake's front end, and the driver does not retry it.
func TestOversizedRequestIsRefused(t *testing.T) {
	s, err := Start(context.Background(), Config{Account: testAccount, MaxRequestBytes: 64 << 10,
		Identities: []Identity{{AccessKeyID: testKeyID, SecretAccessKey: testSecret, ARN: testARN}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, testSetupTmpl, map[string]string{"role_arn": testRoleARN}))
	require.NoError(t, s.ExecScript(ctx, eventsDDL, nil))
	useCredentials(t, testKeyID, testSecret)
	db := open(t, driverConfig(s))
	_, err = db.ExecContext(ctx, "INSERT INTO EVENTS (NAME) VALUES (?)", strings.Repeat("x", 100<<10))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "413")
	_, err = db.ExecContext(ctx, "INSERT INTO EVENTS (NAME) VALUES (?)", "small")
	require.NoError(t, err, "a request under the limit passes")
}

// TestLargeArrayBindTakesStagePath: with the threshold Snowflake announces at login, an
// array bind of 65,280 values or more is not sent inline; the driver creates a temporary
// stage for it, which the emulator refuses with a message that says why.
func TestLargeArrayBindTakesStagePath(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, eventsDDL, nil))
	db := connect(t, s)
	ids := make([]int64, 70_000)
	for i := range ids {
		ids[i] = int64(i)
	}
	_, err := db.ExecContext(ctx, "INSERT INTO EVENTS (ID) VALUES (?)", gosnowflake.Array(&ids))
	require.Error(t, err)
	assert.Contains(t, strings.ToUpper(err.Error()), "STAGE")
	assert.Zero(t, queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"))
}
