package snowflake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	scripts "github.com/keyless-etl/s3-snowflake-loader/sql"
)

func TestLoginTrustedRole(t *testing.T) {
	s := emulator(t)
	var logs bytes.Buffer
	c := newClient(t, s, &logs)

	require.NoError(t, c.Ping(context.Background()))
	require.NoError(t, c.Ping(context.Background()))

	assert.Equal(t, int64(1), c.Logins(), "the second ping reuses the session")
	assert.Equal(t, int64(1), s.Stats().Logins)
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.Split(logs.String(), "\n")[0]), &line))
	assert.Equal(t, "snowflake login", line["msg"])
	assert.Equal(t, testAccount, line["account"])
	assert.Equal(t, DefaultUser, line["user"])
	assert.Equal(t, DefaultRole, line["role"])
}

func TestLoginUntrustedRole(t *testing.T) {
	s := emulator(t)
	useIdentity(t, strangerKey, "stranger-secret")
	c := newClient(t, s, nil)

	err := c.Ping(context.Background())
	require.Error(t, err)
	assert.Equal(t, NameAuth, Classify(err))
	// The demo's error: Snowflake verified the caller and found no user trusting it.
	assert.Contains(t, err.Error(), "250001")
	assert.Contains(t, err.Error(), "Unable to find an associated Snowflake user")

	var e *Error
	require.True(t, errors.As(err, &e))
	require.NotNil(t, e.Hint)
	assert.Equal(t, strangerARN, e.Hint.PresentedARN)
	assert.Equal(t, "arn:aws:iam::123456789012:role/other-role", e.Hint.RoleARN)
	assert.Equal(t, "CREATE USER LAMBDA_LOADER_BOT TYPE = SERVICE WORKLOAD_IDENTITY = (TYPE = AWS ARN = 'arn:aws:iam::123456789012:role/other-role') DEFAULT_ROLE = LOADER_ROLE;", e.Hint.CreateUser())
	assert.Equal(t, int64(0), c.Logins())
}

func TestLoginFixedByLambdaWID(t *testing.T) {
	s := emulator(t)
	useIdentity(t, strangerKey, "stranger-secret")
	c := newClient(t, s, nil)
	err := c.Ping(context.Background())
	require.Equal(t, NameAuth, Classify(err))

	// Running lambda_wid.sql again with the ARN from the hint repairs the user.
	var e *Error
	require.True(t, errors.As(err, &e))
	require.NoError(t, s.ExecScript(context.Background(), scripts.LambdaWID, map[string]string{"role_arn": e.Hint.RoleARN}))
	require.NoError(t, c.Ping(context.Background()))
	assert.Equal(t, int64(1), c.Logins())
}

func TestUnreachableAccountIsTransient(t *testing.T) {
	s := emulator(t)
	cfg := emuConfig(s)
	cfg.Port = 1 // nothing listens there
	cfg.LoginTimeout, cfg.RequestTimeout, cfg.MaxRetries = time.Second, time.Second, 1
	c, err := New(cfg, nil)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, NameTransient, Classify(c.Ping(context.Background())))
}

func TestSessionRenewedWithoutNewLogin(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	for i := range 6 {
		if i == 3 {
			s.ExpireSessions()
		}
		_, err := c.Load(ctx, newBatch(fmt.Sprintf("load-%d", i), fileVersion(fmt.Sprintf("k%d.json", i), "v1", "10", 5)))
		require.NoError(t, err, "batch %d", i)
	}
	st := s.Stats()
	assert.Equal(t, int64(1), c.Logins(), "the driver renews the session token by itself")
	assert.Equal(t, int64(1), st.Logins)
	assert.GreaterOrEqual(t, st.Renewals, int64(1))
	assert.Equal(t, int64(30), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"))
	assert.Equal(t, int64(6), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.FILE_LOADS"))
}

func TestMasterTokenExpiredLogsInAgain(t *testing.T) {
	s := emulator(t)
	var logs bytes.Buffer
	c := newClient(t, s, &logs)
	ctx := context.Background()

	_, err := c.Load(ctx, newBatch("load-1", fileVersion("a.json", "v1", "10", 5)))
	require.NoError(t, err)
	s.ExpireMasterTokens()
	res, err := c.Load(ctx, newBatch("load-2", fileVersion("b.json", "v1", "10", 7)))
	require.NoError(t, err, "the dead pool is dropped and the batch retried on a fresh login")
	assert.Equal(t, StatusLoaded, res.Files[0].Status)

	assert.Equal(t, int64(2), c.Logins())
	assert.Equal(t, int64(2), s.Stats().Logins)
	assert.Contains(t, logs.String(), "snowflake session expired; logging in again")
	assert.Equal(t, int64(7), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY = 'b.json'"), "loaded exactly once")

	// The new pool keeps working without further logins.
	_, err = c.Load(ctx, newBatch("load-3", fileVersion("c.json", "v1", "10", 1)))
	require.NoError(t, err)
	assert.Equal(t, int64(2), c.Logins())
}
