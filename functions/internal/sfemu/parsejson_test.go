package sfemu

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseJSONThroughTheDriver runs PARSE_JSON and TRY_PARSE_JSON as a client does, and
// checks the error Snowflake gives for a document it refuses.
func TestParseJSONThroughTheDriver(t *testing.T) {
	s := startServer(t, "")
	db := connect(t, s)
	ctx := context.Background()
	tests := []struct {
		name  string
		query string
		want  sql.NullString
		code  int // the Snowflake error number, 0 for none
	}{
		{name: "object", query: `SELECT TO_JSON(PARSE_JSON('{"b":1, "a":[1.50, 1.5e2]}'))`, want: valid(`{"b":1,"a":[1.50,1.5e+02]}`)},
		{name: "empty is NULL", query: `SELECT TO_JSON(PARSE_JSON(' '))`},
		{name: "duplicate key", query: `SELECT PARSE_JSON('{"a":1,"a":2}')`, code: 100069},
		{name: "duplicates allowed", query: `SELECT TO_JSON(PARSE_JSON('{"a":1,"a":2}', 'd'))`, want: valid(`{"a":2}`)},
		{name: "try: NULL instead of an error", query: `SELECT TO_JSON(TRY_PARSE_JSON('{"a":1,"a":2}'))`},
		{name: "beyond a DOUBLE", query: `SELECT PARSE_JSON('[1e309]')`, code: 100069},
		{name: "lone surrogate", query: `SELECT PARSE_JSON('"\\ud800"')`, code: 100069},
		{name: "rounded to a DOUBLE", query: `SELECT TO_JSON(PARSE_JSON('123456789012345678901234567890123456789'))`, want: valid(`1.2345678901234568e+38`)},
		{name: "path into a parsed DOUBLE", query: `SELECT PARSE_JSON('{"x":2.5e1}'):x::NUMBER(18,2)::VARCHAR`, want: valid(`25.00`)},
		{name: "amount that NUMBER(18,2) holds", query: `SELECT PARSE_JSON('{"x":9999999999999999.99}'):x::NUMBER(18,2)::VARCHAR`, want: valid(`9999999999999999.99`)},
		{name: "38 digits through a path", query: `SELECT PARSE_JSON('{"a":[{"x":12345678901234567890123456789012345678}]}'):a[0].x::NUMBER::VARCHAR`, want: valid(`12345678901234567890123456789012345678`)},
		{name: "string to a number", query: `SELECT PARSE_JSON('{"x":"19.99"}'):x::NUMBER(10,2)::VARCHAR`, want: valid(`19.99`)},
		{name: "JSON null to a number", query: `SELECT PARSE_JSON('{"x":null}'):x::NUMBER::VARCHAR`},
		{name: "missing key to a number", query: `SELECT PARSE_JSON('{}'):x::NUMBER::VARCHAR`},
		{name: "whole VARIANT to a number", query: `SELECT PARSE_JSON('12.50')::NUMBER(10,2)::VARCHAR`, want: valid(`12.50`)},
		{name: "text that is no number", query: `SELECT PARSE_JSON('{"x":"ten"}'):x::NUMBER(18,2)`, code: 100038},
		{name: "amount beyond NUMBER(18,2)", query: `SELECT PARSE_JSON('{"x":10000000000000000}'):x::NUMBER(18,2)`, code: 100039},
		{name: "amount rounding past NUMBER(18,2)", query: `SELECT PARSE_JSON('{"x":9999999999999999.995}'):x::NUMBER(18,2)`, code: 100039},
		{name: "DOUBLE amount beyond NUMBER(18,2)", query: `SELECT PARSE_JSON('{"x":1e16}'):x::NUMBER(18,2)`, code: 100039},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got sql.NullString
			err := db.QueryRowContext(ctx, tt.query).Scan(&got)
			if tt.code != 0 {
				var sfErr *gosnowflake.SnowflakeError
				require.True(t, errors.As(err, &sfErr), "error %v", err)
				assert.Equal(t, tt.code, sfErr.Number, "%v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func valid(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }

// TestToJSONKeepsDigits reads a VARIANT column back with TO_JSON: the NUMBER values PARSE_JSON
// kept exactly must come back with every digit, not as the double DuckDB would read them as.
func TestToJSONKeepsDigits(t *testing.T) {
	s := startServer(t, "")
	db := connect(t, s)
	ctx := context.Background()
	_, err := db.ExecContext(ctx, `CREATE TABLE LOADER_DB.RAW.DIGITS (V VARIANT)`)
	require.NoError(t, err)
	doc := `{"d":0.1234567890123456789012345678901234567,"i":12345678901234567890123456789012345678,"m":9999999999999999.99}`
	_, err = db.ExecContext(ctx, `INSERT INTO LOADER_DB.RAW.DIGITS SELECT PARSE_JSON(?)`, doc)
	require.NoError(t, err)
	var got string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT TO_JSON(V) FROM LOADER_DB.RAW.DIGITS`).Scan(&got))
	assert.Equal(t, doc, got)
}
