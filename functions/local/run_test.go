package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/localrun"
)

func noEnv(string) string { return "" }

func TestParseRunFlagsRefuses(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "a positional argument", args: []string{"--files", "3", "extra", "--records", "5"}, want: `unexpected argument "extra"`},
		{name: "a value split by a space", args: []string{"--dir", "my", "folder"}, want: `unexpected argument "folder"`},
		{name: "redrive with data", args: []string{"--redrive", "--data", data}, want: "--redrive and --data cannot be used together"},
		{name: "redrive with files", args: []string{"--redrive", "--files", "10"}, want: "--redrive and --files cannot be used together"},
		{name: "demo fail with data", args: []string{"--demo", "fail", "--data", data}, want: "--demo and --data cannot be used together"},
		{name: "demo with redrive", args: []string{"--demo", "success", "--redrive"}, want: "--redrive and --demo cannot be used together"},
		{name: "data with records", args: []string{"--data", data, "--records", "3"}, want: "--data and --files/--records cannot be used together"},
		{name: "faults NaN", args: []string{"--faults", "NaN"}, want: "--faults NaN must be a number at least 0 and below 1"},
		{name: "faults one", args: []string{"--faults", "1"}, want: "--faults 1 must be a number at least 0 and below 1"},
		{name: "faults infinite", args: []string{"--faults", "+Inf"}, want: "must be a number at least 0 and below 1"},
		{name: "redrive at end without faults", args: []string{"--redrive-at-end"}, want: "--redrive-at-end goes with --faults"},
		{name: "max bad records not a number", args: []string{"--max-bad-records", "some"}, want: `--max-bad-records "some" must be a whole number of at least 0`},
		{name: "max bad records negative", args: []string{"--max-bad-records", "-1"}, want: `--max-bad-records "-1" must be a whole number`},
		{name: "schema file missing", args: []string{"--schema", filepath.Join(data, "nope.json")}, want: "--schema " + filepath.Join(data, "nope.json") + ": no such file"},
		{name: "route to a table not allowed", args: []string{"--routes", "incoming/orders/=ORDERS"}, want: "the validator's settings: ROUTES"},
		{name: "unknown flag", args: []string{"--file", "3"}, want: "flag provided but not defined: -file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseRunFlags(tc.args, noEnv, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseRunFlagsAccepts(t *testing.T) {
	schema := filepath.Join(t.TempDir(), "schema.json")
	require.NoError(t, os.WriteFile(schema, []byte(`{"type":"object"}`), 0o644))
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, rf runFlags)
		wantErr string
	}{
		{
			name: "defaults",
			check: func(t *testing.T, rf runFlags) {
				assert.Equal(t, localrun.DefaultOptions().Files, rf.opt.Files)
				assert.Empty(t, rf.opt.Validator)
				assert.False(t, rf.strict)
			},
		},
		{
			name: "the validator's settings as flags",
			args: []string{"--schema", schema, "--max-bad-records", "3", "--routes", "incoming/orders/=ORDERS", "--allowed-tables", "RAW_DATA,ORDERS", "--strict", "--quiet"},
			check: func(t *testing.T, rf runFlags) {
				assert.Equal(t, map[string]string{"SCHEMA_URI": schema, "MAX_BAD_RECORDS": "3", "ROUTES": "incoming/orders/=ORDERS", "ALLOWED_TABLES": "RAW_DATA,ORDERS"}, rf.opt.Validator)
				assert.True(t, rf.strict)
				assert.True(t, rf.quiet)
			},
		},
		{
			name: "the Lambda's variables, flags winning",
			args: []string{"--max-bad-records", "2"},
			env:  map[string]string{"MAX_BAD_RECORDS": "7", "MAX_FILE_BYTES": "1000", "STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:1:stateMachine:other"},
			check: func(t *testing.T, rf runFlags) {
				assert.Equal(t, map[string]string{"MAX_BAD_RECORDS": "2", "MAX_FILE_BYTES": "1000"}, rf.opt.Validator, "the deployment's own names are not taken from the environment")
			},
		},
		{
			name:    "a bad value in the environment",
			env:     map[string]string{"MAX_COMPRESSION_RATIO": "0.5"},
			wantErr: "the validator's settings: MAX_COMPRESSION_RATIO must be a number of at least 1",
		},
		{
			name: "demo with its own flags",
			args: []string{"--demo", "fail", "--dir", "x", "--json"},
			check: func(t *testing.T, rf runFlags) {
				assert.Equal(t, "fail", rf.opt.Demo)
				assert.Equal(t, "x", rf.opt.Dir)
				assert.True(t, rf.json)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			rf, err := parseRunFlags(tc.args, getenv, io.Discard)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, rf)
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		set    func(s *localrun.Summary)
		strict bool
		want   int
	}{
		{name: "everything loaded", set: func(*localrun.Summary) {}, want: exitOK},
		{name: "rejected files are an outcome", set: func(s *localrun.Summary) { s.Files.Rejected = 2 }, want: exitOK},
		{name: "rejected files with strict", set: func(s *localrun.Summary) { s.Files.Rejected = 2 }, strict: true, want: exitFailed},
		{name: "a failed execution", set: func(s *localrun.Summary) { s.Executions.Failed = 1 }, want: exitFailed},
		{name: "dead-letter queue not empty", set: func(s *localrun.Summary) { s.DeadLetter.Depth = 1 }, want: exitFailed},
		{name: "failures redriven at the end", set: func(s *localrun.Summary) { s.Executions.Failed, s.DeadLetter.Redriven = 1, 1 }, want: exitOK},
		{name: "interrupted", set: func(s *localrun.Summary) { s.Interrupted, s.Queued = true, 5 }, want: exitInterrupted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &localrun.Summary{}
			tc.set(s)
			assert.Equal(t, tc.want, exitStatus(s, tc.strict))
		})
	}
}
