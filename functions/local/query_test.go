package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/localrun"
)

// smallRun runs the pipeline once on the samples and two generated files, in dir.
func smallRun(t *testing.T, dir string) *localrun.Summary {
	t.Helper()
	opt := localrun.DefaultOptions()
	opt.Dir, opt.Files, opt.Records, opt.Timeout = dir, 2, 10, 3*time.Minute
	s, err := localrun.Run(context.Background(), opt)
	require.NoError(t, err)
	require.Positive(t, s.Snowflake.RawRows)
	return s
}

func runQueryCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = query(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestQueryReadsTheWarehouseBetweenRuns(t *testing.T) {
	dir := t.TempDir()
	s := smallRun(t, dir)

	code, out, errOut := runQueryCmd(t, "--dir", dir, "SELECT COUNT(*) AS N FROM RAW_DATA")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 6, out) // border, header, rule, one row, border, count
	assert.Equal(t, "| N |", strings.Join(strings.Fields(lines[1]), " "))
	assert.Equal(t, fmt.Sprintf("| %d |", s.Snowflake.RawRows), strings.Join(strings.Fields(lines[3]), " "))
	assert.Equal(t, "1 row", lines[5])

	t.Run("JSON keeps the column order and numbers", func(t *testing.T) {
		code, out, errOut := runQueryCmd(t, "--json", "--dir", dir, "SELECT EVENT_DATE, TOTAL_EVENTS FROM DAILY_SUMMARY ORDER BY EVENT_DATE")
		require.Equal(t, 0, code, errOut)
		var rows []map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &rows), out)
		require.Len(t, rows, len(s.DailySummary.Rows))
		var total float64
		for _, r := range rows {
			assert.Regexp(t, `^\d{4}-\d\d-\d\d$`, r["EVENT_DATE"])
			total += r["TOTAL_EVENTS"].(float64)
		}
		assert.EqualValues(t, s.Snowflake.RawRows, total, "DAILY_SUMMARY counts every row of RAW_DATA")
		assert.Less(t, strings.Index(out, "EVENT_DATE"), strings.Index(out, "TOTAL_EVENTS"))
	})

	t.Run("a change commits", func(t *testing.T) {
		code, _, errOut := runQueryCmd(t, "--dir", dir, "CREATE TABLE NOTES (N NUMBER)")
		require.Equal(t, 0, code, errOut)
		code, _, errOut = runQueryCmd(t, "--dir", dir, "INSERT INTO NOTES VALUES (7)")
		require.Equal(t, 0, code, errOut)
		code, out, errOut := runQueryCmd(t, "--json", "--dir", dir, "SELECT N FROM NOTES")
		require.Equal(t, 0, code, errOut)
		assert.JSONEq(t, `[{"N": 7}]`, out)
	})

	t.Run("a query and a run exclude each other", func(t *testing.T) {
		wh, err := localrun.OpenWarehouse(context.Background(), dir)
		require.NoError(t, err)
		code, out, errOut := runQueryCmd(t, "--dir", dir, "SELECT 1 AS X")
		assert.Equal(t, 1, code)
		assert.Empty(t, out)
		assert.Contains(t, errOut, "is using the state folder "+dir)
		opt := localrun.DefaultOptions()
		opt.Dir, opt.Files, opt.Records = dir, 1, 1
		_, err = localrun.Run(context.Background(), opt)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "a query, is using the state folder "+dir)
		require.NoError(t, wh.Close())
	})

	t.Run("the next run opens the same warehouse", func(t *testing.T) {
		again := smallRun(t, dir)
		assert.Equal(t, s.Snowflake.RawRows, again.Snowflake.RawRows, "the same data again leaves the same rows")
	})
}

func TestQueryRefusals(t *testing.T) {
	dir := t.TempDir()
	smallRun(t, dir)
	cases := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"no statement", []string{"--dir", dir}, 2, "give the SQL statement to run"},
		{"a statement Snowflake refuses", []string{"--dir", dir, "SELECT * FROM NO_SUCH_TABLE"}, 1, "query failed"},
		{"no warehouse yet", []string{"--dir", t.TempDir(), "SELECT 1"}, 1, "run `go run ./functions/local` once first"},
		{"an unknown flag", []string{"--csv", "SELECT 1"}, 2, "flag provided but not defined: -csv"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runQueryCmd(t, tc.args...)
			assert.Equal(t, tc.wantCode, code)
			assert.Contains(t, errOut, tc.want)
			assert.Empty(t, out)
		})
	}
}
