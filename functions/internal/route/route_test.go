package route

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAndRoute(t *testing.T) {
	r, err := Parse("incoming/orders/=orders, incoming/web/[source=app]=APP_EVENTS, incoming/web/=WEB_EVENTS", []string{"ORDERS", "APP_EVENTS", "WEB_EVENTS"})
	require.NoError(t, err)
	assert.Equal(t, "source", r.Field())

	tests := []struct {
		name, key, value, want string
	}{
		{name: "plain prefix", key: "incoming/orders/2026/a.json", want: "ORDERS"},
		{name: "field condition matches", key: "incoming/web/a.json", value: "app", want: "APP_EVENTS"},
		{name: "field condition does not match", key: "incoming/web/a.json", value: "browser", want: "WEB_EVENTS"},
		{name: "no rule", key: "incoming/other/a.json", want: DefaultTable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, r.Table(tc.key, tc.value))
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, spec string
		allowed    []string
		wantErr    string
	}{
		{name: "table not allowed", spec: "incoming/a/=ORDERS", wantErr: "not in the allowed tables"},
		{name: "injection attempt", spec: "incoming/a/=RAW;DROP TABLE X", allowed: []string{"RAW"}, wantErr: "not a valid Snowflake identifier"},
		{name: "quoted identifier", spec: `incoming/a/="Raw"`, wantErr: "not a valid Snowflake identifier"},
		{name: "missing table", spec: "incoming/a/", wantErr: "PREFIX=TABLE"},
		{name: "broken condition", spec: "incoming/a/[source]=RAW_DATA", wantErr: "[field=value]"},
		{name: "two fields", spec: "a/[x=1]=RAW_DATA,b/[y=2]=RAW_DATA", wantErr: "one record field"},
		{name: "bad allowed table", spec: "", allowed: []string{"1BAD"}, wantErr: "allowed table"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.spec, tc.allowed)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestValidTable(t *testing.T) {
	for name, want := range map[string]bool{
		"RAW_DATA": true, "db.schema.t$1": true, "_x": true,
		"": false, "1abc": false, "a.b.c.d": false, "a-b": false, "a b": false,
	} {
		assert.Equal(t, want, ValidTable(name), name)
	}
}
