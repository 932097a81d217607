package gate

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSchemaMessagesArePlainEnglish checks that a schema error reads as a sentence about the
// record's fields, without the schema's keyword paths.
func TestSchemaMessagesArePlainEnglish(t *testing.T) {
	nested, err := CompileSchema("nested.json", []byte(`{
		"type": "object",
		"properties": {
			"order": {
				"type": "object",
				"properties": {"sku": {"type": "string", "pattern": "^[A-Z]+$"}, "kind": {"const": "line"}},
				"if": {"properties": {"kind": {"const": "line"}}, "required": ["kind"]},
				"then": {"required": ["qty"]}
			},
			"tags": {"type": "array", "items": {"type": "string", "maxLength": 3}}
		},
		"additionalProperties": false
	}`))
	require.NoError(t, err)
	tests := []struct {
		name   string
		schema bool
		record string
		want   string
	}{
		{name: "required when", record: `{"event_id":"e","action":"refund","timestamp":"2026-11-01T08:00:00Z"}`, want: "`amount` is required when `action` is `refund`"},
		{name: "required", record: `{"event_id":"e","timestamp":"2026-11-01T08:00:00Z"}`, want: "`action` is required"},
		{name: "two required", record: `{"event_id":"e"}`, want: "`action`, `timestamp` are required"},
		{name: "empty string", record: `{"event_id":"","action":"view","timestamp":"2026-11-01T08:00:00Z"}`, want: "`event_id` must not be empty"},
		{name: "type", record: `{"event_id":"e","action":"view","timestamp":"2026-11-01T08:00:00Z","amount":"12"}`, want: "`amount` must be a number, not a string"},
		{name: "nested required when", schema: true, record: `{"order":{"kind":"line"}}`, want: "`order.qty` is required when `order.kind` is `line`"},
		{name: "nested pattern", schema: true, record: `{"order":{"sku":"ab"}}`, want: "`order.sku` must match the pattern ^[A-Z]+$, not 'ab'"},
		{name: "array item", schema: true, record: `{"tags":["long"]}`, want: "`tags.0` must be at most 3 characters long, not 4"},
		{name: "not allowed", schema: true, record: `{"extra":1}`, want: "`extra` is not allowed here"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(t, nil)
			if tc.schema {
				g = newGate(t, func(c *Config) { c.Schema = nested })
			}
			res := check(t, g, "incoming/e.ndjson", []byte(tc.record+"\n"))
			require.False(t, res.Accepted)
			require.NotEmpty(t, res.Findings)
			assert.Equal(t, tc.want, res.Findings[0].Message)
			assert.NotContains(t, res.Findings[0].Message, "[/")
		})
	}
}

func TestRatIsExact(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"0", "0"},
		{"-5", "-5"},
		{"9999999999999999.99", "9999999999999999.99"},
		{"0.1", "0.1"},
		{"1/3", "0.3333333333333333"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, ok := new(big.Rat).SetString(tc.in)
			require.True(t, ok)
			assert.Equal(t, tc.want, rat(r))
		})
	}
}
