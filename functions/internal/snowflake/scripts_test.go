package snowflake

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	scripts "github.com/keyless-etl/s3-snowflake-loader/sql"
)

// TestScripts runs the sql/ scripts the way an operator would, around a load: setup.sql again
// keeps the data, queries.sql reads it, cleanup.sql removes everything and the loader is
// refused afterwards.
func TestScripts(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	ctx := context.Background()
	_, err := c.Load(ctx, newBatch("load-1", fileVersion("a.json", "v1", "0A", 3)))
	require.NoError(t, err)

	require.NoError(t, s.ExecScript(ctx, scripts.Setup, nil), "setup.sql runs again")
	require.NoError(t, s.ExecScript(ctx, scripts.LambdaWID, map[string]string{"role_arn": loaderRole}), "lambda_wid.sql runs again")
	assert.Equal(t, int64(3), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"), "re-running the setup drops no data")
	assert.Equal(t, int64(1), count(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.FILE_LOADS"))

	var answered int
	for _, stmt := range strings.Split(scripts.Queries, ";") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		_, rows, err := s.Query(ctx, stmt)
		require.NoError(t, err, stmt)
		assert.NotEmpty(t, rows, stmt)
		answered++
	}
	assert.Equal(t, 3, answered, "raw rows, daily summary, audit")

	require.NoError(t, s.ExecScript(ctx, scripts.Cleanup, nil))
	require.NoError(t, c.Close())
	err = c.Ping(ctx)
	assert.Equal(t, NameAuth, Classify(err), "the user is gone")
}

func TestRoleNotGrantedIsAuth(t *testing.T) {
	s := emulator(t)
	cfg := emuConfig(s)
	cfg.Role = "SYSADMIN"
	c, err := New(cfg, nil)
	require.NoError(t, err)
	defer c.Close()
	err = c.Ping(context.Background())
	assert.Equal(t, NameAuth, Classify(err))
	assert.Contains(t, err.Error(), "is not granted to this user")
}

func stripComments(sql string) string {
	var b strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
