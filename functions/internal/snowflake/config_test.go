package snowflake

import (
	"testing"
	"time"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr []string
	}{
		{name: "defaults with an account", edit: func(*Config) {}},
		{name: "emulator endpoint", edit: func(c *Config) { c.Host, c.Port, c.Protocol = "127.0.0.1", 4443, "http" }},
		{name: "no account", edit: func(c *Config) { c.Account = " " }, wantErr: []string{"account is required"}},
		{name: "no user", edit: func(c *Config) { c.User = "" }, wantErr: []string{"user is required"}},
		{
			name:    "every problem at once",
			edit:    func(c *Config) { c.Account, c.Role, c.Protocol, c.Port = "", "LOADER ROLE", "ftp", 70000 },
			wantErr: []string{"account is required", `role "LOADER ROLE"`, `protocol "ftp"`, "port 70000"},
		},
		{name: "quoted identifier", edit: func(c *Config) { c.Schema = `"raw"` }, wantErr: []string{`schema "\"raw\""`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("myorg-acct")
			tt.edit(&cfg)
			err := cfg.Validate()
			if len(tt.wantErr) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestDriverConfigIsKeyless(t *testing.T) {
	cfg := DefaultConfig("myorg-acct")
	cfg.TmpDir = "/tmp"
	dc := cfg.driverConfig()

	assert.Equal(t, gosnowflake.AuthTypeWorkloadIdentityFederation, dc.Authenticator)
	assert.Equal(t, "AWS", dc.WorkloadIdentityProvider)
	// No secret of any kind is ever set.
	assert.Empty(t, dc.Password)
	assert.Empty(t, dc.Token)
	assert.Empty(t, dc.TokenFilePath)
	assert.Nil(t, dc.PrivateKey)
	assert.Empty(t, dc.OauthClientSecret)
	assert.Empty(t, dc.ProxyPassword)

	assert.Equal(t, DefaultLoginTimeout, dc.LoginTimeout)
	assert.Equal(t, DefaultRequestTimeout, dc.RequestTimeout)
	assert.Equal(t, DefaultRequestTimeout, dc.ClientTimeout, "no HTTP attempt waits longer than the request timeout")
	assert.Equal(t, DefaultMaxRetries, dc.MaxRetryCount)
	assert.Equal(t, "/tmp", dc.TmpDirPath)
	require.Contains(t, dc.Params, "client_session_keep_alive")
	assert.Equal(t, "true", *dc.Params["client_session_keep_alive"])

	cfg.LoginTimeout, cfg.RequestTimeout, cfg.MaxRetries = time.Second, 2*time.Second, 1
	dc = cfg.driverConfig()
	assert.Equal(t, time.Second, dc.LoginTimeout)
	assert.Equal(t, 2*time.Second, dc.RequestTimeout)
	assert.Equal(t, 2*time.Second, dc.ClientTimeout)
	assert.Equal(t, 1, dc.MaxRetryCount)
}
