package sfemu

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
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

// startStageServer is startServer with the stage at location; for S3 the driver trusts the
// stage endpoint's certificate through SSL_CERT_FILE.
func startStageServer(t *testing.T, location string) *Server {
	t.Helper()
	if location == "S3" {
		cert, err := StageCertFile()
		require.NoError(t, err)
		t.Setenv("SSL_CERT_FILE", cert)
	}
	s, err := Start(context.Background(), Config{Account: testAccount, StageLocation: location,
		Identities: []Identity{{AccessKeyID: testKeyID, SecretAccessKey: testSecret, ARN: testARN}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.ExecScript(context.Background(), testSetupTmpl, map[string]string{"role_arn": testRoleARN}))
	return s
}

// TestPutCopyListRemove runs the stage's file commands through the real driver, with the
// stage in S3 (the driver's S3 upload, encrypted, over TLS) and on the local file system: PUT
// uploads (the driver compresses the file itself), LIST shows it, COPY loads each line as a
// VARIANT with its file name and row number, REMOVE empties the stage.
func TestPutCopyListRemove(t *testing.T) {
	for _, location := range []string{"S3", "LOCAL_FS"} {
		t.Run(location, func(t *testing.T) {
			s := startStageServer(t, location)
			ctx := context.Background()
			require.NoError(t, s.ExecScript(ctx, stagedFilesDDL, nil))
			db := connect(t, s)
			dir := writeLocal(t, "a.ndjson", "{\"a\":1}\n\n{\"b\":\"x\\ty\",\"e\":\"😀\"}\nnull\n")
			_, err := db.ExecContext(ctx, "PUT 'file://"+dir+"/*' '@~/in/' AUTO_COMPRESS = TRUE OVERWRITE = TRUE")
			require.NoError(t, err)
			// A second file, uncompressed, above the driver's 64 MiB multi-part threshold.
			big := strings.Repeat("{\"pad\":\""+strings.Repeat("z", 1000)+"\"}\n", 70_000)
			bigDir := writeLocal(t, "b.ndjson", big)
			_, err = db.ExecContext(ctx, "PUT 'file://"+bigDir+"/b.ndjson' '@~/in/' AUTO_COMPRESS = FALSE OVERWRITE = TRUE")
			require.NoError(t, err)
			names := stageNames(t, db, "LIST @~/in/")
			assert.Equal(t, []string{"in/a.ndjson.gz", "in/b.ndjson"}, names, "the driver gzipped the first file on its way")

			// In S3 the driver encrypts what it uploads; on the local file system it does not.
			var stored []byte
			require.NoError(t, filepath.WalkDir(s.stageRoot, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Name() == "a.ndjson.gz" {
					stored, err = os.ReadFile(p)
				}
				return err
			}))
			require.NotEmpty(t, stored)
			isGzip := stored[0] == 0x1f && stored[1] == 0x8b
			assert.Equal(t, location == "LOCAL_FS", isGzip, "stored as the driver sent it")
			if location == "S3" {
				calls := s.StageCalls()
				assert.Equal(t, 1, calls["PutObject"], "the small file in one request")
				assert.Equal(t, 1, calls["CompleteMultipartUpload"], "the large file in parts")
				assert.GreaterOrEqual(t, calls["UploadPart"], 2)
			}

			rows, err := db.QueryContext(ctx, `COPY INTO LINES (FILE_NAME, LINE_NO, V)
FROM (SELECT METADATA$FILENAME, METADATA$FILE_ROW_NUMBER, $1 FROM @~/in/) FILE_FORMAT = (TYPE = JSON) FORCE = TRUE`)
			require.NoError(t, err)
			loadedBy := map[string]int64{}
			for rows.Next() {
				var file, status string
				var parsed, loaded int64
				var rest [6]any
				require.NoError(t, rows.Scan(&file, &status, &parsed, &loaded, &rest[0], &rest[1], &rest[2], &rest[3], &rest[4], &rest[5]))
				assert.Equal(t, "LOADED", status)
				loadedBy[file] = loaded
			}
			require.NoError(t, rows.Close())
			assert.Equal(t, map[string]int64{"in/a.ndjson.gz": 3, "in/b.ndjson": 70_000}, loadedBy, "a blank line is no row")

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
			assert.Equal(t, []string{"in/a.ndjson.gz", "in/b.ndjson"}, removed)
			assert.Empty(t, stageNames(t, db, "LIST @~"))
		})
	}
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
	tests := []struct{ name, body, line string }{
		{"not JSON", "{\"a\":1}\n{\"a\":\n", "2, character"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}\n", "1"},
		// The JSON file format's ALLOW_DUPLICATE defaults to FALSE, as PARSE_JSON refuses them
		// (https://docs.snowflake.com/en/sql-reference/sql/create-file-format, TYPE = JSON).
		{"duplicate key", "{\"a\":1}\n\n{\"a\":1,\"a\":2}\n", "3, character"},
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
			assert.Contains(t, sf.Message, "File 'bad/bad.ndjson.gz', line "+tt.line)
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
		{"a NULL_IF string", "COPY INTO LINES (V) FROM (SELECT $1 FROM @~/x/) FILE_FORMAT = (TYPE = JSON NULL_IF = ('\\N'))", 1003, "NULL_IF"},
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

// TestCopyPurge: PURGE = TRUE removes the files a COPY loaded, and a pattern limits the COPY
// to the files it matches.
func TestCopyPurge(t *testing.T) {
	s := startStageServer(t, "S3")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, stagedFilesDDL, nil))
	db := connect(t, s)
	dir := writeLocal(t, "a.ndjson", "{\"a\":1}\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.ndjson"), []byte("{\"b\":1}\n{\"b\":2}\n"), 0o644))
	_, err := db.ExecContext(ctx, "PUT 'file://"+dir+"/*' '@~/p/'")
	require.NoError(t, err)

	_, err = db.ExecContext(ctx, "COPY INTO LINES (V) FROM (SELECT $1 FROM @~/p/) FILE_FORMAT = (TYPE = JSON) PATTERN = '.*b[.]ndjson.*' PURGE = TRUE")
	require.NoError(t, err)
	assert.Equal(t, int64(2), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.LINES"))
	assert.Equal(t, []string{"p/a.ndjson.gz"}, stageNames(t, db, "LIST @~/p/"), "only the loaded file was purged")
}

func TestFailedStartLeavesNothingBehind(t *testing.T) {
	_, err := StageCertFile() // made once per process, outside the folder watched below
	require.NoError(t, err)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	// DuckDB refuses the memory limit once the stage folders and the stage endpoint exist.
	_, err = Start(context.Background(), Config{StageLocation: "S3", MemoryLimit: "no such size"})
	require.Error(t, err)

	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the temporary stage folders are removed")
}
