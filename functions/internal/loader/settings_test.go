package loader

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuild(t *testing.T) {
	s, err := LoadSettings(func(name string) string {
		return map[string]string{"SNOWFLAKE_ACCOUNT": "myorg-acct", "TMPDIR": "/scratch"}[name]
	})
	require.NoError(t, err)
	assert.Equal(t, "/scratch", s.Snowflake.TmpDir)

	h, err := Build(context.Background(), s, aws.Config{Region: "us-east-1"}, nil)
	require.NoError(t, err)
	assert.NotNil(t, h.S3)
	assert.Equal(t, int64(0), h.Logins(), "nothing logs in before the first batch")
	assert.NoError(t, h.Close())
}

func TestLoadSettingsNamesEveryProblem(t *testing.T) {
	_, err := LoadSettings(func(name string) string {
		return map[string]string{"SNOWFLAKE_PORT": "x", "SNOWFLAKE_PROTOCOL": "ftp"}[name]
	})
	require.Error(t, err)
	for _, want := range []string{"SNOWFLAKE_ACCOUNT is not set", `SNOWFLAKE_PORT="x"`, `SNOWFLAKE_PROTOCOL="ftp"`} {
		assert.Contains(t, err.Error(), want)
	}
}
