package loader

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadSettingsReadsTheSessionTimeouts(t *testing.T) {
	tests := []struct {
		name          string
		lock, stmt    string
		wantLock      time.Duration
		wantStatement time.Duration
		wantErr       string
	}{
		{name: "defaults", wantLock: 0, wantStatement: 0},
		{name: "set", lock: "400", stmt: "700", wantLock: 400 * time.Second, wantStatement: 700 * time.Second},
		{name: "not a number", lock: "5m", wantErr: `SNOWFLAKE_LOCK_TIMEOUT_SECONDS="5m"`},
		{name: "zero", stmt: "0", wantErr: `SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS="0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{
				"SNOWFLAKE_ACCOUNT":                   "myorg-myaccount",
				"SNOWFLAKE_LOCK_TIMEOUT_SECONDS":      tt.lock,
				"SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS": tt.stmt,
			}
			s, err := LoadSettings(func(name string) string { return env[name] })
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantLock, s.Snowflake.LockTimeout)
			assert.Equal(t, tt.wantStatement, s.Snowflake.StatementTimeout)
		})
	}
}
