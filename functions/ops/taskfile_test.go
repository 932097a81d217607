package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests below run the real task runner on the project's Taskfile.yml: the Taskfile is
// the operator's interface, and a task that is missing, undocumented or that fails without
// saying why is a defect like any other.

// taskBinary returns the task runner the module pins (go.mod's tool directive), so the
// tests run the same version an operator gets from `go tool task`, with nothing to install.
// `go tool -n task` builds it into the build cache if needed and prints its path.
func taskBinary(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "task").Output()
	require.NoError(t, err, "go tool -n task: the module's task runner could not be built")
	p := strings.TrimSpace(string(out))
	require.FileExists(t, p)
	return p
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "Taskfile.yml"))
	return root
}

func TestTaskfileHasEveryTaskWithADescription(t *testing.T) {
	cmd := exec.Command(taskBinary(t), "--list-all", "--json")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	require.NoError(t, err, "task --list-all --json")
	var list struct {
		Tasks []struct{ Name, Desc string }
	}
	require.NoError(t, json.Unmarshal(out, &list))
	desc := map[string]string{}
	for _, task := range list.Tasks {
		desc[task.Name] = task.Desc
	}

	want := []string{
		// The demo's tasks, with the demo's meaning.
		"default", "aws:check", "aws:check-sam", "aws:deploy", "aws:test", "aws:logs", "aws:logs-recent",
		"aws:role-arn", "aws:debug", "aws:clean-stack", "aws:empty-bucket", "aws:clean",
		"snow:setup", "snow:lambda-wid", "snow:query", "snow:query-summary", "snow:cleanup",
		"demo:fail", "demo:success", "demo:clean", "test", "deploy", "clean:all",
		// This project's own.
		"local", "local:demo-fail", "local:demo-success", "aws:bulk-upload", "aws:dlq-redrive",
		"sfn:failed", "sfn:redrive", "build", "bench",
		"local:check", "local:query", "local:reset", "local:screenshot",
	}
	for _, name := range want {
		assert.Contains(t, desc, name, "task %s is missing", name)
	}
	for name, d := range desc {
		assert.NotEmpty(t, d, "task %s has no desc", name)
	}
}

// fakeTools makes a folder of stand-ins for the CLIs the tasks call, each printing its
// arguments; the AWS CLI stand-in answers like version 2 and knows one stack output.
func fakeTools(t *testing.T, tools ...string) string {
	t.Helper()
	dir := t.TempDir()
	scripts := map[string]string{
		"aws": `case "$1" in
--version) echo "aws-cli/2.27.0 Python/3.13.3 Linux/6.1 exe/x86_64" ;;
cloudformation) case "$*" in *LoaderRoleArn*) echo "arn:aws:iam::123456789012:role/loader" ;; *) echo None ;; esac ;;
*) echo "aws $*" ;;
esac`,
		"sam":  `echo "sam $*"`,
		"snow": `echo "snow $*"`,
		"go":   `echo "go $*"`,
	}
	for _, tool := range tools {
		require.Contains(t, scripts, tool)
		require.NoError(t, os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/sh\n"+scripts[tool]+"\n"), 0o755))
	}
	// The AWS CLI check pipes into grep; it is the only other program the checks run.
	grep, err := exec.LookPath("grep")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(grep, filepath.Join(dir, "grep")))
	return dir
}

// runTask runs one task of a copy of the Taskfile in an empty folder, with an environment
// holding only PATH (the given folder) and vars, so that neither the machine's tools nor a
// developer's .env leak in. dotenv, if not empty, is written as the folder's .env.
func runTask(t *testing.T, pathDir, dotenv string, vars map[string]string, args ...string) (string, error) {
	t.Helper()
	work := t.TempDir()
	taskfile, err := os.ReadFile(filepath.Join(repoRoot(t), "Taskfile.yml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(work, "Taskfile.yml"), taskfile, 0o644))
	if dotenv != "" {
		require.NoError(t, os.WriteFile(filepath.Join(work, ".env"), []byte(dotenv), 0o644))
	}
	cmd := exec.Command(taskBinary(t), args...)
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + pathDir, "HOME=" + t.TempDir()}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

func TestTaskfileSaysWhatIsMissing(t *testing.T) {
	const (
		awsMsg     = "the AWS CLI (version 2) is not installed: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
		samMsg     = "the AWS SAM CLI is not installed: https://docs.aws.amazon.com/serverless-application-model/"
		snowMsg    = "the Snowflake CLI (snow) is not installed: https://docs.snowflake.com/"
		goMsg      = "Go is not installed"
		stackMsg   = "set STACK_NAME in .env (see env.example)"
		accountMsg = "set SNOWFLAKE_ACCOUNT in .env (see env.example)"
	)
	tests := []struct {
		name  string
		tools []string
		vars  map[string]string
		task  string
		want  string
	}{
		{name: "aws task without the AWS CLI", task: "aws:role-arn", want: awsMsg},
		{name: "aws:check without the AWS CLI", task: "aws:check", want: awsMsg},
		{name: "sam check without SAM", task: "aws:check-sam", want: samMsg},
		{name: "deploy without SAM", tools: []string{"aws"}, task: "aws:deploy", want: samMsg},
		{name: "deploy without Go", tools: []string{"aws", "sam"}, task: "aws:deploy", want: goMsg},
		{name: "snowflake task without snow", task: "snow:setup", want: snowMsg},
		{name: "local run without Go", task: "local", want: goMsg},
		{name: "stack name unset", tools: []string{"aws"}, task: "aws:test", want: stackMsg},
		{name: "wid user without stack name", tools: []string{"aws", "snow"}, task: "snow:lambda-wid", want: stackMsg},
		{
			name: "deploy without Snowflake account", tools: []string{"aws", "sam", "go"},
			vars: map[string]string{"STACK_NAME": "loader"}, task: "aws:deploy", want: accountMsg,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runTask(t, fakeTools(t, tt.tools...), "", tt.vars, tt.task)
			require.Error(t, err, "the task must fail; output:\n%s", out)
			assert.Contains(t, out, tt.want)
			assert.Contains(t, out, "precondition not met", "it fails before running anything")
		})
	}
}

func TestTaskfileReadsDotenvAndStackOutputs(t *testing.T) {
	out, err := runTask(t, fakeTools(t, "aws"), "STACK_NAME=loader\n", nil, "aws:role-arn")
	require.NoError(t, err, out)
	assert.Equal(t, "arn:aws:iam::123456789012:role/loader", strings.TrimSpace(out))

	out, err = runTask(t, fakeTools(t, "aws", "go"), "STACK_NAME=loader\n", nil, "sfn:failed")
	require.Error(t, err)
	assert.Contains(t, out, "stack loader has no output StateMachineArn: deploy it first with 'task aws:deploy'")
}

func TestTaskfileDeployPassesSettingsAsParameters(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		want    []string
		wantNot []string
	}{
		{
			name:    "template defaults for what .env leaves empty",
			env:     "STACK_NAME=loader\nSNOWFLAKE_ACCOUNT=myorg-acct\nSAM_S3_BUCKET=\nALARM_EMAIL=\n",
			want:    []string{"sam build", `--stack-name "$STACK_NAME"`, "--resolve-s3", "--parameter-overrides SnowflakeAccount=myorg-acct"},
			wantNot: []string{"--s3-bucket", "AlarmEmail=", "SnowflakeUser=", "--region"},
		},
		{
			name: "every setting",
			env: "STACK_NAME=loader\nAWS_REGION=eu-west-1\nSNOWFLAKE_ACCOUNT=myorg-acct\nSNOWFLAKE_USER=BOT\nSNOWFLAKE_ROLE=R\n" +
				"SNOWFLAKE_WAREHOUSE=W\nSNOWFLAKE_DATABASE=D\nSNOWFLAKE_SCHEMA=S\nSTAGE=prod\nBATCH_MAX_FILES=50\n" +
				"BATCH_MAX_BYTES=1000\nLOG_LEVEL=DEBUG\nALARM_EMAIL=ops@example.com\nSAM_S3_BUCKET=artifacts\n" +
				"LOADER_CONCURRENCY=8\nNONCURRENT_VERSION_DAYS=90\n",
			want: []string{
				"--region eu-west-1", "--s3-bucket artifacts", "SnowflakeAccount=myorg-acct", "SnowflakeUser=BOT",
				"SnowflakeRole=R", "SnowflakeWarehouse=W", "SnowflakeDatabase=D", "SnowflakeSchema=S", "StageName=prod",
				"BatchMaxFiles=50", "BatchMaxBytes=1000", "LogLevel=DEBUG", "AlarmEmail=ops@example.com",
				"LoaderConcurrency=8", "NoncurrentVersionDays=90",
			},
			wantNot: []string{"--resolve-s3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runTask(t, fakeTools(t, "aws", "sam", "go"), tt.env, nil, "--dry", "aws:deploy")
			require.NoError(t, err, out)
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
			for _, w := range tt.wantNot {
				assert.NotContains(t, out, w)
			}
		})
	}
}

func TestTaskfileLocalQueryPassesTheStatementWhole(t *testing.T) {
	out, err := runTask(t, fakeTools(t, "go"), "", nil, "local:query", `SQL=SELECT 'it''s' AS X, 2 AS Y`)
	require.NoError(t, err, out)
	assert.Contains(t, out, `go run ./functions/local query SELECT 'it''s' AS X, 2 AS Y`)

	out, err = runTask(t, fakeTools(t, "go"), "", nil, "local:query", "JSON=1")
	require.NoError(t, err, out)
	assert.Contains(t, out, "go run ./functions/local query --json SELECT * FROM DAILY_SUMMARY ORDER BY EVENT_DATE")
}

// local:reset must work on a machine with no AWS CLI, Go or anything else of the deployment:
// it only deletes the state folder of the local runs.
func TestTaskfileLocalResetRemovesTheStateFolderOnly(t *testing.T) {
	work := t.TempDir()
	taskfile, err := os.ReadFile(filepath.Join(repoRoot(t), "Taskfile.yml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(work, "Taskfile.yml"), taskfile, 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(work, ".local", "s3"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(work, ".local", "queues.json"), []byte("{}"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(work, "keep.txt"), []byte("mine"), 0o644))

	// PATH holds rm and nothing else: no aws, sam, snow or go.
	bin := t.TempDir()
	rm, err := exec.LookPath("rm")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(rm, filepath.Join(bin, "rm")))
	cmd := exec.Command(taskBinary(t), "local:reset")
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))

	assert.NoDirExists(t, filepath.Join(work, ".local"))
	assert.FileExists(t, filepath.Join(work, "keep.txt"))
	assert.Contains(t, string(out), "Removed .local")
}
