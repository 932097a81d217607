package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/quarantine"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3local"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
)

// The end-to-end tests run the whole local stack; each Run sets the process's AWS variables,
// so they run one after another.

func run(t *testing.T, opt Options) *Summary {
	t.Helper()
	if opt.Timeout == 0 {
		opt.Timeout = 5 * time.Minute
	}
	s, err := Run(context.Background(), opt)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := json.MarshalIndent(s, "", "  ")
			t.Logf("summary of the run in %s:\n%s", opt.Dir, b)
		}
	})
	return s
}

// sampleRecords counts the records of the valid sample files.
func sampleRecords(t *testing.T) (files int, rows int64) {
	t.Helper()
	dir, err := samplesDir()
	require.NoError(t, err)
	paths, err := filepath.Glob(filepath.Join(dir, "valid", "*"))
	require.NoError(t, err)
	for _, p := range paths {
		f, err := os.Open(p)
		require.NoError(t, err)
		r, err := records.NewReader(f, p, records.Limits{})
		require.NoError(t, err)
		for {
			_, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			rows++
		}
		f.Close()
		files++
	}
	return files, rows
}

func invalidSamples(t *testing.T) []string {
	t.Helper()
	dir, err := samplesDir()
	require.NoError(t, err)
	paths, err := filepath.Glob(filepath.Join(dir, "invalid", "*"))
	require.NoError(t, err)
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}

// snowflakeAfter opens the Snowflake database a run left behind.
func snowflakeAfter(t *testing.T, dir string) *sfemu.Server {
	t.Helper()
	emu, err := sfemu.Start(context.Background(), sfemu.Config{Path: filepath.Join(dir, "snowflake.duckdb")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = emu.Close() })
	return emu
}

func rows(t *testing.T, emu *sfemu.Server, sql string) [][]any {
	t.Helper()
	_, out, err := emu.Query(context.Background(), sql)
	require.NoError(t, err)
	return out
}

// content is what a run leaves in Snowflake, without what differs by run (load ids, times).
func content(t *testing.T, emu *sfemu.Server) (raw, summary [][]any) {
	raw = rows(t, emu, "SELECT S3_BUCKET, S3_KEY, RECORD_NUMBER, PAYLOAD, S3_ETAG, S3_SIZE FROM LOADER_DB.RAW.RAW_DATA ORDER BY S3_KEY, RECORD_NUMBER")
	summary = rows(t, emu, "SELECT * FROM LOADER_DB.RAW.DAILY_SUMMARY ORDER BY EVENT_DATE")
	return raw, summary
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole local stack")
	}
	validFiles, validRows := sampleRecords(t)
	invalid := invalidSamples(t)
	generated := 200 - validFiles - len(invalid)
	const perFile = 20
	wantRows := validRows + int64(generated*perFile)
	wantFiles := validFiles + generated

	base := t.TempDir()
	s := run(t, Options{Dir: base, Files: generated, Records: perFile, Seed: 7})
	assert.Equal(t, 200, s.Uploaded)
	assert.Equal(t, wantFiles, s.Files.Accepted)
	assert.Equal(t, wantFiles, s.Files.Loaded)
	// S3 announces only the suffixes of the template's notification filters: events.csv is
	// never delivered, so it is not rejected either.
	assert.Equal(t, len(invalid)-1, s.Files.Rejected)
	assert.Equal(t, 1, s.Files.NotDelivered)
	assert.Equal(t, 0, s.DeadLetter.Depth)
	assert.Equal(t, wantRows, s.RowsLoaded)
	assert.Equal(t, wantRows, s.Snowflake.RawRows)
	assert.Equal(t, int64(wantFiles), s.Snowflake.FileLoads)
	assert.Equal(t, 0, s.Executions.Failed)

	t.Run("the summary names each file with its outcome", func(t *testing.T) {
		byKey := map[string]FileResult{}
		for _, f := range s.PerFile {
			byKey[f.Key] = f
		}
		assert.Len(t, s.PerFile, 200)
		for _, name := range invalid {
			f, ok := byKey["incoming/samples/invalid/"+name]
			if !assert.True(t, ok, name) {
				continue
			}
			if name == "events.csv" {
				assert.Equal(t, StatusNotDelivered, f.Status)
				assert.Empty(t, f.Rule)
				continue
			}
			assert.Equal(t, StatusRejected, f.Status, name)
			assert.NotEmpty(t, f.Rule, name)
			assert.NotEmpty(t, f.Problem, name)
			assert.Equal(t, quarantinePrefix+"samples/invalid/"+name+quarantine.ReportSuffix, f.Report)
			assert.FileExists(t, f.ReportPath, name)
		}
		var loadedRows int64
		for _, f := range s.PerFile {
			if f.Status == StatusLoaded {
				loadedRows += f.Rows
			}
		}
		assert.Equal(t, wantRows, loadedRows, "the rows of each file add up")

		var text bytes.Buffer
		s.WriteText(&text)
		assert.Contains(t, text.String(), "Not delivered (suffix)")
		assert.Contains(t, text.String(), "  incoming/samples/invalid/events.csv\n")
		assert.Contains(t, text.String(), "  incoming/samples/invalid/truncated.ndjson\n    rule json: line 2:")
		assert.Contains(t, text.String(), "DAILY_SUMMARY (cumulative")
		var asJSON bytes.Buffer
		require.NoError(t, s.WriteJSON(&asJSON))
		var decoded struct {
			PerFile []map[string]any `json:"per_file"`
		}
		require.NoError(t, json.Unmarshal(asJSON.Bytes(), &decoded))
		require.Len(t, decoded.PerFile, 200)
		for _, k := range []string{"key", "version", "status", "rows", "rule", "report"} {
			assert.Contains(t, decoded.PerFile[0], k)
		}
	})

	t.Run("every rejected file is in quarantine with its report", func(t *testing.T) {
		srv, err := s3local.Start(context.Background(), s3local.Options{Dir: filepath.Join(base, "s3")})
		require.NoError(t, err)
		defer srv.Close()
		client := srv.Client()
		for _, name := range invalid {
			if name == "events.csv" {
				continue // never delivered
			}
			key := quarantinePrefix + "samples/invalid/" + name
			_, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucketName), Key: aws.String(key)})
			assert.NoError(t, err, "quarantined copy of %s", name)
			out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucketName), Key: aws.String(key + ".report.json")})
			if !assert.NoError(t, err, "report of %s", name) {
				continue
			}
			var report gate.Report
			require.NoError(t, json.NewDecoder(out.Body).Decode(&report))
			out.Body.Close()
			assert.Equal(t, "incoming/samples/invalid/"+name, report.Key)
			assert.NotEmpty(t, report.Rule)
		}
	})

	emu := snowflakeAfter(t, base)
	baseRaw, baseSummary := content(t, emu)
	require.Len(t, baseRaw, int(wantRows))
	dups := rows(t, emu, "SELECT COUNT(*) FROM (SELECT S3_KEY, RECORD_NUMBER FROM LOADER_DB.RAW.RAW_DATA GROUP BY 1, 2 HAVING COUNT(*) > 1)")
	assert.Equal(t, int64(0), dups[0][0], "no record is loaded twice")
	require.NoError(t, emu.Close())

	t.Run("running again on the same data leaves the same tables", func(t *testing.T) {
		again := run(t, Options{Dir: base, Files: generated, Records: perFile, Seed: 7})
		assert.Equal(t, 0, again.DeadLetter.Depth)
		assert.Equal(t, wantFiles, again.Files.Unchanged, "the same versions again")
		assert.Equal(t, 0, again.Files.Loaded)
		var text bytes.Buffer
		again.WriteText(&text)
		assert.Contains(t, text.String(), fmt.Sprintf("Files accepted          %d: 0 loaded, %d unchanged (already loaded)", wantFiles, wantFiles))
		emu := snowflakeAfter(t, base)
		raw, summary := content(t, emu)
		assert.Equal(t, baseRaw, raw)
		assert.Equal(t, baseSummary, summary)
	})

	t.Run("with transient faults the tables come out the same", func(t *testing.T) {
		dir := t.TempDir()
		faulty := run(t, Options{Dir: dir, Files: generated, Records: perFile, Seed: 7, Faults: 0.2})
		assert.Positive(t, faulty.Faults.S3Reads+faulty.Faults.Statements+faulty.Faults.Invocations, "faults were injected")
		assert.Equal(t, 0, faulty.DeadLetter.Depth, "nothing lost")
		assert.Equal(t, wantRows, faulty.Snowflake.RawRows)
		emu := snowflakeAfter(t, dir)
		raw, summary := content(t, emu)
		assert.Equal(t, baseRaw, raw, "same rows, no duplicates")
		assert.Equal(t, baseSummary, summary)
	})
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole local stack")
	}
	validFiles, validRows := sampleRecords(t)
	dir := t.TempDir()

	fail := run(t, Options{Dir: dir, Demo: "fail", Seed: 1})
	assert.Equal(t, validFiles, fail.Files.Accepted)
	assert.Equal(t, 1, fail.Executions.Failed)
	assert.Equal(t, map[string]int{"Snowflake.Auth": 1}, fail.Executions.Errors)
	assert.Equal(t, 1, fail.DeadLetter.Depth, "one batch, one dead-letter message")
	assert.Equal(t, map[string]int{"Snowflake.Auth": 1}, fail.DeadLetter.Errors)
	assert.Equal(t, int64(0), fail.Snowflake.RawRows)
	assert.Equal(t, int64(0), fail.Snowflake.Logins)

	logs, err := os.ReadFile(filepath.Join(dir, "logs", "loader.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(logs), "Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN")
	assert.Contains(t, string(logs), "CREATE USER LAMBDA_LOADER_BOT TYPE = SERVICE WORKLOAD_IDENTITY = (TYPE = AWS ARN = '"+loaderRoleARN+"')")

	// A copy of the state folder (cp -r gives every file a new time) redrives as well as the
	// original: the local S3 keeps each object's ETag.
	copied := t.TempDir()
	require.NoError(t, os.CopyFS(copied, os.DirFS(dir)))
	fromCopy := run(t, Options{Dir: copied, Demo: "success", Seed: 1})
	assert.Equal(t, 0, fromCopy.DeadLetter.Depth)
	assert.Equal(t, 0, fromCopy.Files.Skipped, "no object looks overwritten")
	assert.Equal(t, validRows, fromCopy.Snowflake.RawRows)

	success := run(t, Options{Dir: dir, Demo: "success", Seed: 1})
	assert.Equal(t, 0, success.DeadLetter.Depth)
	assert.Equal(t, 1, success.Executions.Succeeded)
	assert.Equal(t, validRows, success.Snowflake.RawRows, "loaded once")
	assert.Equal(t, int64(validFiles), success.Snowflake.FileLoads)
	assert.Equal(t, int64(1), success.Snowflake.Logins)

	emu := snowflakeAfter(t, dir)
	users := rows(t, emu, "SELECT COUNT(*) FROM LOADER_DB.RAW.FILE_LOADS WHERE LOADED_BY_USER = 'LAMBDA_LOADER_BOT' AND LOADED_BY_ROLE = 'LOADER_ROLE'")
	assert.Equal(t, int64(validFiles), users[0][0], "the audit names the WIF user and its role")
	assert.True(t, strings.HasPrefix(loaderRoleARN, "arn:aws:iam::"))
}
