package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// samples is the repository's folder of sample files, valid and invalid.
func samples(t *testing.T, sub ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{"..", "..", "testdata", "data"}, sub...)...)
	_, err := os.Stat(p)
	require.NoError(t, err)
	return p
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	return len(entries)
}

func TestCheckVerdicts(t *testing.T) {
	strict := filepath.Join(t.TempDir(), "strict.schema.json")
	// A schema that wants a field none of the samples has: every valid sample fails it.
	require.NoError(t, os.WriteFile(strict, []byte(`{"type":"object","required":["tenant"]}`), 0o644))

	valid, invalid := samples(t, "valid"), samples(t, "invalid")
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		want     []string // lines or fragments the output must hold
	}{
		{
			name: "a folder of valid files", args: []string{valid}, wantCode: checkAccepted,
			want: []string{"ACCEPTED  " + filepath.Join(valid, "events-2026-11-01.ndjson") + "  5 records (ndjson), would load into RAW_DATA"},
		},
		{
			name: "one invalid file", args: []string{filepath.Join(invalid, "truncated.ndjson")}, wantCode: checkRejected,
			want: []string{"REJECTED  " + filepath.Join(invalid, "truncated.ndjson") + "  rule json", "line 2", "1 file checked: 0 accepted, 1 rejected"},
		},
		{
			name: "a file whose suffix the gates refuse", args: []string{filepath.Join(invalid, "events.csv")}, wantCode: checkRejected,
			want: []string{"rule suffix"},
		},
		{
			name: "a bad record is skipped under --max-bad-records", wantCode: checkAccepted,
			args: []string{"--max-bad-records", "1", filepath.Join(invalid, "missing-action.ndjson")},
			want: []string{"ACCEPTED", "2 records", "skipped", "line 2"},
		},
		{
			name: "MAX_BAD_RECORDS from the environment, as the Lambda reads it", wantCode: checkAccepted,
			args: []string{filepath.Join(invalid, "missing-action.ndjson")}, env: map[string]string{"MAX_BAD_RECORDS": "1"},
			want: []string{"ACCEPTED"},
		},
		{
			name: "a flag wins over the environment", wantCode: checkRejected,
			args: []string{filepath.Join(invalid, "missing-action.ndjson"), "--max-bad-records", "0"}, env: map[string]string{"MAX_BAD_RECORDS": "1"},
			want: []string{"REJECTED", "rule schema"},
		},
		{
			name: "a number Snowflake would round is rejected by default", wantCode: checkRejected,
			args: []string{filepath.Join(invalid, "rounded-number.ndjson")},
			want: []string{"rule number_precision"},
		},
		{
			name: "--lossy-numbers warn loads it", wantCode: checkAccepted,
			args: []string{"--lossy-numbers", "warn", filepath.Join(invalid, "rounded-number.ndjson")},
			want: []string{"ACCEPTED"},
		},
		{
			name: "a schema of one's own", args: []string{"--schema", strict, filepath.Join(valid, "single-event.json")}, wantCode: checkRejected,
			want: []string{"rule schema", "tenant"},
		},
		{
			name: "routes pick the table by key prefix", wantCode: checkAccepted,
			args: []string{"--routes", "incoming/orders/=ORDERS", "--allowed-tables", "ORDERS", "--prefix", "incoming/orders/", filepath.Join(valid, "single-event.json")},
			want: []string{"would load into ORDERS"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			getenv := func(k string) string { return tc.env[k] }
			code := check(context.Background(), tc.args, getenv, &out, &errOut)
			assert.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
			for _, w := range tc.want {
				assert.Contains(t, out.String(), w)
			}
			assert.Empty(t, errOut.String())
		})
	}
}

func TestCheckCountsEveryFileOfTheSamples(t *testing.T) {
	nValid, nInvalid := countFiles(t, samples(t, "valid")), countFiles(t, samples(t, "invalid"))
	var out bytes.Buffer
	code := check(context.Background(), []string{samples(t)}, noEnv, &out, &bytes.Buffer{})
	assert.Equal(t, checkRejected, code)
	assert.Equal(t, nValid, strings.Count(out.String(), "ACCEPTED  "))
	assert.Equal(t, nInvalid, strings.Count(out.String(), "REJECTED  "))
}

func TestCheckJSON(t *testing.T) {
	var out bytes.Buffer
	code := check(context.Background(), []string{"--json", samples(t, "invalid", "bad-timestamp.ndjson"), samples(t, "valid", "single-event.json")}, noEnv, &out, &bytes.Buffer{})
	require.Equal(t, checkRejected, code)
	var doc struct {
		Accepted, Rejected int
		Files              []struct {
			Path, Key, Status, Table string
			Report                   struct {
				Rule    string
				Records int64
				Errors  []struct{ Rule string }
			}
		}
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc), out.String())
	assert.Equal(t, 1, doc.Accepted)
	assert.Equal(t, 1, doc.Rejected)
	require.Len(t, doc.Files, 2)
	assert.Equal(t, "rejected", doc.Files[0].Status)
	assert.Equal(t, "incoming/bad-timestamp.ndjson", doc.Files[0].Key)
	assert.Equal(t, "schema", doc.Files[0].Report.Rule)
	require.NotEmpty(t, doc.Files[0].Report.Errors)
	assert.Equal(t, "accepted", doc.Files[1].Status)
	assert.Equal(t, "RAW_DATA", doc.Files[1].Table)
	assert.EqualValues(t, 1, doc.Files[1].Report.Records)
}

func TestCheckRefusesWhatItCannotRun(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no path", nil, "at least one file or folder"},
		{"a path that does not exist", []string{"no/such/folder"}, "no/such/folder: no such file or folder"},
		{"a bad setting", []string{"--max-bad-records", "some", samples(t, "valid")}, "--max-bad-records \"some\" must be a whole number"},
		{"a schema file that is not there", []string{"--schema", "missing.schema.json", samples(t, "valid")}, "missing.schema.json"},
		{"a schema in S3", []string{"--schema", "s3://bucket/events.schema.json", samples(t, "valid")}, "give a copy of the schema as a local file"},
		{"an unknown flag", []string{"--strictly", samples(t, "valid")}, "flag provided but not defined: -strictly"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := check(context.Background(), tc.args, noEnv, &out, &errOut)
			assert.Equal(t, checkMisused, code)
			assert.Contains(t, errOut.String(), tc.want)
			assert.NotContains(t, out.String(), "ACCEPTED")
		})
	}
}
