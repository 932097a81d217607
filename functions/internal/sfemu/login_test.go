package sfemu

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogin(t *testing.T) {
	s := startServer(t, "")
	hostPort := fmt.Sprintf("%s:%d", s.Host(), s.Port())
	cases := []struct {
		name          string
		keyID, secret string
		edit          func(*gosnowflake.Config)
		wantCode      int
		wantMessage   string
	}{
		{name: "trusted role logs in", keyID: testKeyID, secret: testSecret},
		{name: "default role when none is asked for", keyID: testKeyID, secret: testSecret,
			edit: func(c *gosnowflake.Config) { c.Role = "" }},
		{name: "untrusted role has no user", keyID: untrustedKey, secret: testSecret, wantCode: 250001,
			wantMessage: "Failed to connect to DB: " + hostPort + ". Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN '" + untrustedARN + "'"},
		{name: "bad signature", keyID: testKeyID, secret: "not-the-secret", wantCode: 250001,
			wantMessage: "Failed to connect to DB: " + hostPort + ". The request signature in the AWS attestation does not match the signature computed with the secret of access key " + testKeyID},
		{name: "unknown access key", keyID: "AKIAUNKNOWN000000000", secret: testSecret, wantCode: 250001,
			wantMessage: "Failed to connect to DB: " + hostPort + ". The security token included in the AWS attestation is invalid: unknown access key AKIAUNKNOWN000000000"},
		{name: "password authenticator", keyID: testKeyID, secret: testSecret, wantCode: 390100,
			wantMessage: "Incorrect username or password was specified.",
			edit: func(c *gosnowflake.Config) {
				c.Authenticator, c.User, c.Password = gosnowflake.AuthTypeSnowflake, "LAMBDA_LOADER_BOT", "secret"
			}},
		{name: "role not granted", keyID: testKeyID, secret: testSecret, wantCode: 390189,
			wantMessage: "Role 'SYSADMIN' specified in the connect string is not granted to this user. Contact your local system administrator, or attempt to login with another role, e.g. PUBLIC.",
			edit:        func(c *gosnowflake.Config) { c.Role = "SYSADMIN" }},
		{name: "database that does not exist", keyID: testKeyID, secret: testSecret, wantCode: 390201,
			wantMessage: "The requested database does not exist or not authorized.",
			edit:        func(c *gosnowflake.Config) { c.Database = "NO_SUCH_DB" }},
		{name: "wrong account", keyID: testKeyID, secret: testSecret, wantCode: 260008,
			edit: func(c *gosnowflake.Config) { c.Account = "OTHERACCT" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			useCredentials(t, tc.keyID, tc.secret)
			cfg := driverConfig(s)
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			db := open(t, cfg)
			var user, role string
			err := db.QueryRowContext(context.Background(), "SELECT CURRENT_USER(), CURRENT_ROLE()").Scan(&user, &role)
			if tc.wantCode == 0 {
				require.NoError(t, err)
				assert.Equal(t, "LAMBDA_LOADER_BOT", user)
				assert.Equal(t, "LOADER_ROLE", role)
				return
			}
			var sfErr *gosnowflake.SnowflakeError
			require.True(t, errors.As(err, &sfErr), "error %v of type %T", err, err)
			assert.Equal(t, tc.wantCode, sfErr.Number)
			if tc.wantMessage != "" {
				assert.Equal(t, tc.wantMessage, sfErr.Message)
			}
		})
	}
	st := s.Stats()
	assert.Equal(t, int64(2), st.Logins)
	assert.Equal(t, int64(len(cases)-2), st.FailedLogins)
}

func TestLoginSurfacesTheDemoError(t *testing.T) {
	s := startServer(t, "")
	useCredentials(t, untrustedKey, testSecret)
	err := open(t, driverConfig(s)).PingContext(context.Background())
	require.Error(t, err)
	assert.Equal(t, fmt.Sprintf("250001 (08004): Failed to connect to DB: %s:%d. Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN '%s'", s.Host(), s.Port(), untrustedARN), err.Error())
}

func TestRoleARN(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"assumed role", "arn:aws:sts::123456789012:assumed-role/loader-role/session-1", "arn:aws:iam::123456789012:role/loader-role"},
		{"china partition", "arn:aws-cn:sts::123456789012:assumed-role/r/s", "arn:aws-cn:iam::123456789012:role/r"},
		{"iam user stays itself", "arn:aws:iam::123456789012:user/alice", ""},
		{"not an arn", "loader-role", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, roleARN(tc.in))
		})
	}
}
