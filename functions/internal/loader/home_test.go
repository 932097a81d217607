package loader

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3local"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/snowflake"
)

// Variables that hand the child process of TestUnwritableHome its work.
const (
	childInput  = "LOADER_TEST_CHILD_INPUT"
	childS3URL  = "LOADER_TEST_CHILD_S3_URL"
	childSFHost = "LOADER_TEST_CHILD_SF_HOST"
	childSFPort = "LOADER_TEST_CHILD_SF_PORT"
)

// TestUnwritableHome loads a batch in a process whose HOME cannot be written, as on Lambda.
// The load runs in a child process because the driver looks at HOME when its package is
// initialised, before any test could change it.
func TestUnwritableHome(t *testing.T) {
	st := newStack(t)
	in := input(st.put(t, "incoming/a.ndjson", events(3, "a"), "0A"))
	payload, err := json.Marshal(in)
	require.NoError(t, err)
	home := unwritableDir(t)

	cmd := exec.Command(os.Args[0], "-test.run=^TestChildLoad$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"HOME="+home,
		childInput+"="+string(payload),
		childS3URL+"="+st.s3url,
		childSFHost+"="+st.sf.Host(),
		childSFPort+"="+strconv.Itoa(st.sf.Port()),
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child output:\n%s", out)
	assert.Contains(t, string(out), "--- PASS: TestChildLoad")
	assert.Equal(t, int64(3), st.count(t, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"))
	assert.Equal(t, int64(1), st.sf.Stats().Logins)
}

// TestChildLoad is the child of TestUnwritableHome; on its own it does nothing.
func TestChildLoad(t *testing.T) {
	raw := os.Getenv(childInput)
	if raw == "" {
		t.Skip("runs as the child process of TestUnwritableHome")
	}
	home := os.Getenv("HOME")
	require.Error(t, os.WriteFile(filepath.Join(home, "probe"), nil, 0o600), "HOME %s must not be writable", home)

	var in batch.Input
	require.NoError(t, json.Unmarshal([]byte(raw), &in))
	port, err := strconv.Atoi(os.Getenv(childSFPort))
	require.NoError(t, err)
	cfg := snowflake.DefaultConfig("testorg-loader")
	cfg.Host, cfg.Port, cfg.Protocol = os.Getenv(childSFHost), port, "http"
	cfg.TmpDir = t.TempDir()
	cfg.LoginTimeout, cfg.RequestTimeout, cfg.MaxRetries = 5*time.Second, 5*time.Second, 2
	store, err := snowflake.New(cfg, nil)
	require.NoError(t, err)
	defer store.Close()
	s3c := s3.New(s3.Options{
		BaseEndpoint: aws.String(os.Getenv(childS3URL)), Region: s3local.Region, UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(s3local.AccessKeyID, s3local.SecretAccessKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})

	out, err := (&Handler{S3: s3c, Store: store}).Handle(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, int64(3), out.RowsLoaded)
}

// unwritableDir returns a directory this process cannot create anything in. A directory
// without write permission does for an ordinary user; root ignores permissions, and gets
// /proc, where no one can create files.
func unwritableDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	require.NoError(t, os.Mkdir(dir, 0o555))
	if os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600) != nil {
		return dir
	}
	_ = os.Remove(filepath.Join(dir, "probe"))
	if os.Mkdir("/proc/loader-probe", 0o700) != nil {
		return "/proc"
	}
	t.Skip("no directory here is unwritable for this user")
	return ""
}
