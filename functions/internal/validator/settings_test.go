package validator

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	s, err := LoadSettings(env(map[string]string{"STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:loader"}))
	require.NoError(t, err)
	assert.Equal(t, "incoming/", s.Validator.IncomingPrefix)
	assert.Equal(t, "quarantine/", s.Validator.QuarantinePrefix)
	assert.Equal(t, 100, s.Validator.Caps.MaxFiles)
	assert.Equal(t, int64(512<<20), s.Validator.Caps.MaxBytes)
	assert.Equal(t, "RAW_DATA", s.Router.Table("incoming/x.json", ""))
	assert.Equal(t, gate.PrecisionReject, s.Gate.Precision)
}

func TestLoadConfigLossyNumbers(t *testing.T) {
	arn := "arn:aws:states:us-east-1:123456789012:stateMachine:loader"
	tests := []struct {
		value string
		want  gate.Precision
		bad   bool
	}{
		{value: "", want: gate.PrecisionReject},
		{value: "reject", want: gate.PrecisionReject},
		{value: " WARN ", want: gate.PrecisionWarn},
		{value: "round", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			s, err := LoadSettings(env(map[string]string{"STATE_MACHINE_ARN": arn, "LOSSY_NUMBERS": tt.value}))
			if tt.bad {
				require.Error(t, err)
				assert.Contains(t, err.Error(), `LOSSY_NUMBERS must be "reject" or "warn", got "round"`)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.Gate.Precision)
		})
	}
}

func TestLoadConfigNamesEveryProblem(t *testing.T) {
	_, err := LoadSettings(env(map[string]string{
		"BATCH_MAX_FILES":       "many",
		"MAX_COMPRESSION_RATIO": "0.5",
		"ROUTES":                "incoming/a/=NOT_ALLOWED",
		"VALIDATOR_TIME_MARGIN": "soon",
	}))
	require.Error(t, err)
	for _, name := range []string{"STATE_MACHINE_ARN", "BATCH_MAX_FILES", "MAX_COMPRESSION_RATIO", "ROUTES", "VALIDATOR_TIME_MARGIN"} {
		assert.Contains(t, err.Error(), name)
	}
}

func TestLoadConfigRejectsOverlappingPrefixes(t *testing.T) {
	_, err := LoadSettings(env(map[string]string{
		"STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:loader",
		"QUARANTINE_PREFIX": "incoming/quarantine/",
	}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "overlap")
}
