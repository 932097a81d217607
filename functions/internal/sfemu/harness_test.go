package sfemu

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/require"
)

const (
	testAccount   = "EMUACCT"
	testKeyID     = "AKIAEMULATORTEST0001"
	testSecret    = "emulator-test-secret-key"
	testARN       = "arn:aws:sts::123456789012:assumed-role/loader-role/loader-session"
	testRoleARN   = "arn:aws:iam::123456789012:role/loader-role"
	untrustedKey  = "AKIAEMULATORUNTRUST1"
	untrustedARN  = "arn:aws:sts::123456789012:assumed-role/other-role/other-session"
	testSetupTmpl = `
CREATE DATABASE IF NOT EXISTS LOADER_DB;
CREATE SCHEMA IF NOT EXISTS LOADER_DB.RAW;
CREATE WAREHOUSE IF NOT EXISTS LOADER_WH WITH WAREHOUSE_SIZE = 'XSMALL' AUTO_SUSPEND = 60;
CREATE ROLE IF NOT EXISTS LOADER_ROLE;
GRANT USAGE ON DATABASE LOADER_DB TO ROLE LOADER_ROLE;
GRANT USAGE ON SCHEMA LOADER_DB.RAW TO ROLE LOADER_ROLE;
GRANT USAGE ON WAREHOUSE LOADER_WH TO ROLE LOADER_ROLE;
CREATE OR REPLACE USER LAMBDA_LOADER_BOT
  TYPE = SERVICE
  WORKLOAD_IDENTITY = (TYPE = AWS ARN = '<% role_arn %>')
  DEFAULT_ROLE = LOADER_ROLE;
GRANT ROLE LOADER_ROLE TO USER LAMBDA_LOADER_BOT;
`
)

// startServer starts an emulator with the loader's account set up.
func startServer(t *testing.T, path string) *Server {
	t.Helper()
	s, err := Start(context.Background(), Config{
		Path:    path,
		Account: testAccount,
		Identities: []Identity{
			{AccessKeyID: testKeyID, SecretAccessKey: testSecret, ARN: testARN},
			{AccessKeyID: untrustedKey, SecretAccessKey: testSecret, ARN: untrustedARN},
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.ExecScript(context.Background(), testSetupTmpl, map[string]string{"role_arn": testRoleARN}))
	return s
}

// useCredentials points the AWS SDK the driver uses at local credentials.
func useCredentials(t *testing.T, keyID, secret string) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "local-session-token")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
}

func driverConfig(s *Server) gosnowflake.Config {
	return gosnowflake.Config{
		Account:                  testAccount,
		Host:                     s.Host(),
		Port:                     s.Port(),
		Protocol:                 "http",
		Authenticator:            gosnowflake.AuthTypeWorkloadIdentityFederation,
		WorkloadIdentityProvider: "AWS",
		Role:                     "LOADER_ROLE",
		Database:                 "LOADER_DB",
		Schema:                   "RAW",
		Warehouse:                "LOADER_WH",
		LoginTimeout:             10 * time.Second,
		MaxRetryCount:            3,
		DisableTelemetry:         true,
	}
}

func open(t *testing.T, cfg gosnowflake.Config) *sql.DB {
	t.Helper()
	db := sql.OpenDB(gosnowflake.NewConnector(gosnowflake.SnowflakeDriver{}, cfg))
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// connect opens a pool logged in as the trusted identity.
func connect(t *testing.T, s *Server) *sql.DB {
	t.Helper()
	useCredentials(t, testKeyID, testSecret)
	db := open(t, driverConfig(s))
	require.NoError(t, db.PingContext(context.Background()))
	return db
}

func queryInt(t *testing.T, s *Server, q string) int64 {
	t.Helper()
	_, rows, err := s.Query(context.Background(), q)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	n, ok := rows[0][0].(int64)
	require.True(t, ok, "value %v of type %T", rows[0][0], rows[0][0])
	return n
}
