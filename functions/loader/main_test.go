package main

import (
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/snowflake"
)

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		want    func(*snowflake.Config)
		wantErr []string
	}{
		{
			name: "account only: the defaults of sql/setup.sql",
			vars: map[string]string{"SNOWFLAKE_ACCOUNT": "myorg-acct"},
			want: func(c *snowflake.Config) {},
		},
		{
			name: "every variable",
			vars: map[string]string{
				"SNOWFLAKE_ACCOUNT": "myorg-acct", "SNOWFLAKE_USER": "BOT", "SNOWFLAKE_ROLE": "R",
				"SNOWFLAKE_WAREHOUSE": "WH", "SNOWFLAKE_DATABASE": "DB", "SNOWFLAKE_SCHEMA": "S",
				"SNOWFLAKE_HOST": "myorg-acct.privatelink.snowflakecomputing.com", "SNOWFLAKE_PORT": "8443",
				"SNOWFLAKE_PROTOCOL": "HTTPS", "TMPDIR": "/var/tmp",
			},
			want: func(c *snowflake.Config) {
				c.User, c.Role, c.Warehouse, c.Database, c.Schema = "BOT", "R", "WH", "DB", "S"
				c.Host, c.Port, c.Protocol, c.TmpDir = "myorg-acct.privatelink.snowflakecomputing.com", 8443, "https", "/var/tmp"
			},
		},
		{
			name:    "nothing set",
			vars:    map[string]string{},
			wantErr: []string{"SNOWFLAKE_ACCOUNT is not set"},
		},
		{
			name:    "every problem in one error",
			vars:    map[string]string{"SNOWFLAKE_PORT": "https", "SNOWFLAKE_PROTOCOL": "ftp"},
			wantErr: []string{"SNOWFLAKE_ACCOUNT is not set", `SNOWFLAKE_PORT="https"`, `SNOWFLAKE_PROTOCOL="ftp"`},
		},
		{
			name:    "port out of range",
			vars:    map[string]string{"SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_PORT": "70000"},
			wantErr: []string{`SNOWFLAKE_PORT="70000"`},
		},
		{
			name:    "identifier that would need quoting",
			vars:    map[string]string{"SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_ROLE": "LOADER ROLE"},
			wantErr: []string{`role "LOADER ROLE"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(env(tt.vars))
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					assert.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			want := snowflake.DefaultConfig(tt.vars["SNOWFLAKE_ACCOUNT"])
			want.TmpDir = "/tmp"
			tt.want(&want)
			assert.Equal(t, want, got.Snowflake)
		})
	}
}

func TestDriverEnv(t *testing.T) {
	notExist := func(string) (os.FileInfo, error) { return nil, fs.ErrNotExist }
	notDir := func(p string) (os.FileInfo, error) {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: syscall.ENOTDIR}
	}
	denied := func(p string) (os.FileInfo, error) {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: syscall.EACCES}
	}
	tests := []struct {
		name string
		vars map[string]string
		stat func(string) (os.FileInfo, error)
		want map[string]string
	}{
		{"Lambda: no HOME", map[string]string{}, notExist,
			map[string]string{"SF_OCSP_RESPONSE_CACHE_DIR": "/tmp/snowflake/ocsp"}},
		{"usable HOME", map[string]string{"HOME": "/home/u"}, notExist,
			map[string]string{"SF_OCSP_RESPONSE_CACHE_DIR": "/tmp/snowflake/ocsp"}},
		{"HOME is not a directory", map[string]string{"HOME": "/etc/passwd"}, notDir,
			map[string]string{"SF_OCSP_RESPONSE_CACHE_DIR": "/tmp/snowflake/ocsp", "HOME": "/tmp"}},
		{"HOME may not be entered", map[string]string{"HOME": "/root", "TMPDIR": "/scratch"}, denied,
			map[string]string{"SF_OCSP_RESPONSE_CACHE_DIR": "/scratch/snowflake/ocsp", "HOME": "/scratch"}},
		{"deployment chose the cache", map[string]string{"SF_OCSP_RESPONSE_CACHE_DIR": "/mnt/efs/ocsp"}, notExist,
			map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, driverEnv(env(tt.vars), tt.stat))
		})
	}
}
