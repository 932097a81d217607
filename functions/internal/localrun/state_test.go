package localrun

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
)

func TestDamagedQueuesFileIsRefusedAndKept(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{name: "truncated", content: `{"ingest": [], "dead_letter": [{"body": "{\"Records\":[{\"s3\":`, want: "ends after 63 bytes, in the middle of its content"},
		{name: "empty", content: "", want: "it is empty"},
		{name: "not JSON", content: "queues: none\n", want: "not valid JSON at byte 1"},
		{name: "another document", content: `[{"body": "x"}]`, want: "cannot unmarshal array"},
		{name: "a message without a body", content: `{"ingest": [{"attributes": {}}], "dead_letter": []}`, want: "a message has no body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "queues.json")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o644))
			_, err := Run(context.Background(), Options{Dir: dir, Files: 1, Records: 1, Seed: 1, Timeout: time.Minute})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "the saved queues in "+path+" are damaged")
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "move it away to start with empty queues")
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tc.content, string(got), "the damaged file is left as it was")
		})
	}
}

func TestSecondRunOnTheSameFolder(t *testing.T) {
	dir := t.TempDir()
	first, err := startStack(context.Background(), Options{Dir: dir, Seed: 1})
	require.NoError(t, err)
	defer first.close()

	_, err = Run(context.Background(), Options{Dir: dir, Files: 1, Records: 1, Seed: 1, Timeout: time.Minute})
	require.Error(t, err)
	assert.Equal(t, "another local run, or a query, is using the state folder "+dir+"; wait for it to finish, or give this run a folder of its own with --dir", err.Error())
}

func TestCorruptSnowflakeDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snowflake.duckdb")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("not a database ", 20000)), 0o644))
	_, raw := sfemu.Start(context.Background(), sfemu.Config{Path: path})
	require.Error(t, raw, "DuckDB refuses the file")

	_, err := Run(context.Background(), Options{Dir: dir, Files: 1, Records: 1, Seed: 1, Timeout: time.Minute})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "the Snowflake database "+path+" cannot be opened: it is damaged")
	assert.NotContains(t, msg, raw.Error(), "no raw DuckDB text")
	assert.NotContains(t, msg, "\n", "one sentence")
	assert.Equal(t, 1, strings.Count(msg, "; move it away"))

	logs, err := os.ReadFile(filepath.Join(dir, "logs", "snowflake.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(logs), "could not open the database", "DuckDB's own words are in the log")
}

func TestOptionsValidate(t *testing.T) {
	nan := 0.0
	nan /= nan
	tests := []struct {
		name string
		opt  func(o *Options)
		want string
	}{
		{name: "faults NaN", opt: func(o *Options) { o.Faults = nan }, want: "--faults NaN must be a number at least 0 and below 1"},
		{name: "faults negative", opt: func(o *Options) { o.Faults = -0.1 }, want: "--faults -0.1 must be"},
		{name: "demo unknown", opt: func(o *Options) { o.Demo = "part3" }, want: `--demo "part3" must be fail or success`},
		{name: "bad validator setting", opt: func(o *Options) { o.Validator = map[string]string{"MAX_BAD_RECORDS": "many"} }, want: `the validator's settings: MAX_BAD_RECORDS must be a whole number of at least 0, got "many"`},
		{name: "route outside the allowed tables", opt: func(o *Options) { o.Validator = map[string]string{"ROUTES": "incoming/x/=OTHER"} }, want: "the validator's settings: ROUTES"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.opt(&o)
			err := o.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("the deployment's names are the local stack's", func(t *testing.T) {
		o := DefaultOptions()
		o.Validator = map[string]string{"STATE_MACHINE_ARN": "", "MAX_BAD_RECORDS": "4"}
		assert.NoError(t, o.Validate())
	})
}
