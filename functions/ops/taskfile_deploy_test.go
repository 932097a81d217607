package main

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/announce"
)

func TestTaskfileRefusesStackNamesTheBucketCannotTake(t *testing.T) {
	const rule = "it must start with a lower-case letter and hold only lower-case letters, digits and hyphens, at most 34 characters"
	tests := []struct {
		name, stack string
		ok          bool
	}{
		{name: "lower case", stack: "s3-snowflake-loader", ok: true},
		{name: "34 characters", stack: "a" + strings.Repeat("b", 33), ok: true},
		{name: "35 characters", stack: "a" + strings.Repeat("b", 34)},
		{name: "upper case", stack: "Loader"},
		{name: "starts with a digit", stack: "1loader"},
		{name: "underscore", stack: "my_loader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := "STACK_NAME=" + tt.stack + "\nSNOWFLAKE_ACCOUNT=myorg-acct\n"
			out, err := runTask(t, fakeTools(t, "aws", "sam", "go"), env, nil, "--dry", "aws:deploy")
			if tt.ok {
				require.NoError(t, err, out)
				assert.Contains(t, out, "sam deploy")
				return
			}
			require.Error(t, err, out)
			assert.Contains(t, out, "precondition not met", "refused before SAM runs")
			assert.NotContains(t, out, "sam build")
			assert.Contains(t, strings.Join(strings.Fields(out), " "), rule)
			assert.Contains(t, out, "'"+tt.stack+"'", "the message names the value it refuses")
		})
	}
}

func TestTaskfileOperatorTasksNeedGo(t *testing.T) {
	for _, task := range []string{"aws:bulk-upload", "aws:dlq-redrive", "sfn:failed", "sfn:redrive", "aws:backfill", "aws:quarantine", "aws:resubmit", "build", "test"} {
		t.Run(task, func(t *testing.T) {
			out, err := runTask(t, fakeTools(t, "aws"), "STACK_NAME=loader\nPREFIX=incoming/\nKEY=incoming/a.json\n", nil, task)
			require.Error(t, err, out)
			assert.Contains(t, out, "Go is not installed")
			assert.Contains(t, out, "precondition not met")
		})
	}
}

// goflagsOf returns the GOFLAGS a dry run of task gives the command matching pattern.
func goflagsOf(t *testing.T, out, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(`GOFLAGS="([^"]*)"` + pattern).FindStringSubmatch(out)
	require.NotNil(t, m, "no GOFLAGS before %s in:\n%s", pattern, out)
	return m[1]
}

// TestSamBuildMatchesTaskBuild checks that what `sam build` deploys is what `task build`
// measures: both take the same GOFLAGS from the Taskfile, and building a function the way
// SAM's Go builder does (go build -trimpath in the function's folder, with that environment)
// gives the very bytes `task build` gives.
func TestSamBuildMatchesTaskBuild(t *testing.T) {
	deploy, err := runTask(t, fakeTools(t, "aws", "sam", "go"), "STACK_NAME=loader\nSNOWFLAKE_ACCOUNT=acct\n", nil, "--dry", "aws:deploy")
	require.NoError(t, err, deploy)
	build, err := runTask(t, fakeTools(t, "go"), "", nil, "--dry", "build")
	require.NoError(t, err, build)

	samFlags := goflagsOf(t, deploy, ` sam build`)
	buildFlags := goflagsOf(t, build, ` go build`)
	assert.Equal(t, buildFlags, samFlags)
	for _, want := range []string{"-tags=lambda.norpc", "-trimpath", "'-ldflags=-s -w'"} {
		assert.Contains(t, samFlags, want)
	}
	assert.Contains(t, deploy, "CGO_ENABLED=0 GOFLAGS=")

	template, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(template), "BuildMethod: go1.x"), "SAM's Go builder builds both functions")
	assert.Equal(t, 2, strings.Count(string(template), "TrimGoPath: true"), "SAM's Go builder adds -trimpath")

	root := repoRoot(t)
	out := t.TempDir()
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOFLAGS="+samFlags)
	for _, fn := range []string{"validator", "loader"} {
		t.Run(fn, func(t *testing.T) {
			// SAM: go build -o <artifact> -trimpath <source dir>, run in the source dir.
			sam := exec.Command("go", "build", "-o", filepath.Join(out, fn+"-sam"), "-trimpath", ".")
			sam.Dir = filepath.Join(root, "functions", fn)
			sam.Env = env
			b, err := sam.CombinedOutput()
			require.NoError(t, err, "%s", b)
			// task build: from the repository root.
			task := exec.Command("go", "build", "-o", filepath.Join(out, fn+"-task"), "./functions/"+fn)
			task.Dir = root
			task.Env = env
			b, err = task.CombinedOutput()
			require.NoError(t, err, "%s", b)
			assert.Equal(t, digest(t, filepath.Join(out, fn+"-task")), digest(t, filepath.Join(out, fn+"-sam")))
		})
	}
}

func digest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(b)
}

func TestTaskfileDayTwoTasks(t *testing.T) {
	tools := []string{"aws", "go"}
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want []string
	}{
		{
			name: "backfill", vars: map[string]string{"PREFIX": "incoming/2026/"}, args: []string{"aws:backfill"},
			want: []string{"go run ./functions/ops backfill", `-bucket "$BUCKET"`, "-prefix 'incoming/2026/'", `-queue-url "$QUEUE"`, "IngestQueueUrl"},
		},
		{
			name: "backfill dry run, paced", vars: map[string]string{"PREFIX": "incoming/", "DRY_RUN": "1", "RATE": "5"}, args: []string{"aws:backfill"},
			want: []string{"-rate 5 -dry-run"},
		},
		{name: "quarantine", args: []string{"aws:quarantine"}, want: []string{"go run ./functions/ops quarantine", "-since 24h"}},
		{
			name: "quarantine-show with KEY", vars: map[string]string{"KEY": "incoming/a.json"}, args: []string{"aws:quarantine-show"},
			want: []string{"quarantine-show", "'incoming/a.json'"},
		},
		{name: "quarantine-show with an argument", args: []string{"aws:quarantine-show", "--", "incoming/b.json"}, want: []string{"'incoming/b.json'"}},
		{
			name: "resubmit", vars: map[string]string{"KEY": "incoming/a.json"}, args: []string{"aws:resubmit"},
			want: []string{"go run ./functions/ops resubmit", `-queue-url "$QUEUE"`, "'incoming/a.json'"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runTask(t, fakeTools(t, tools...), "STACK_NAME=loader\n", tt.vars, append([]string{"--verbose", "--dry"}, tt.args...)...)
			require.NoError(t, err, out)
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
		})
	}
	t.Run("backfill needs a prefix", func(t *testing.T) {
		out, err := runTask(t, fakeTools(t, tools...), "STACK_NAME=loader\n", nil, "aws:backfill")
		require.Error(t, err)
		assert.Contains(t, out, "missing required variables: PREFIX")
	})
	t.Run("resubmit needs a key", func(t *testing.T) {
		out, err := runTask(t, fakeTools(t, tools...), "STACK_NAME=loader\n", nil, "aws:resubmit")
		require.Error(t, err)
		assert.Contains(t, out, "name the file: KEY=incoming/path/file.json")
	})
}

// TestTaskfileDemoPartTwoRedrives checks that Part II loads Part I's batch by redriving the
// dead-letter queue, and uploads nothing: an upload would load new versions, and the redriven
// batch would then name older ones and change nothing.
func TestTaskfileDemoPartTwoRedrives(t *testing.T) {
	out, err := runTask(t, fakeTools(t, "aws", "snow", "go"), "STACK_NAME=loader\n", nil, "--verbose", "--dry", "demo:success")
	require.NoError(t, err, out)
	assert.Contains(t, out, `"aws:dlq-redrive" started`)
	assert.Contains(t, out, "go run ./functions/ops dlq-redrive")
	assert.NotContains(t, out, "aws s3 cp", "Part II uploads nothing")
	assert.NotContains(t, out, "loads it too")
}

// TestTaskfileTestInvalidUploadsWhatS3Announces checks that aws:test-invalid uploads only the
// suffixes the bucket notifies for, so every file it uploads reaches the gates.
func TestTaskfileTestInvalidUploadsWhatS3Announces(t *testing.T) {
	out, err := runTask(t, fakeTools(t, "aws"), "STACK_NAME=loader\n", nil, "--verbose", "--dry", "aws:test-invalid")
	require.NoError(t, err, out)
	assert.Contains(t, out, "--exclude '*'")
	for _, suffix := range announce.Suffixes {
		assert.Contains(t, out, "--include '*"+suffix+"'")
	}
	assert.Equal(t, len(announce.Suffixes), strings.Count(out, "--include"), "no other suffix is uploaded")
}
