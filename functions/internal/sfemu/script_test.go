package sfemu

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQueryTranslations runs Snowflake SQL on DuckDB and checks the answers Snowflake gives.
func TestQueryTranslations(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, `
USE SCHEMA LOADER_DB.RAW;
CREATE TABLE T (ID NUMBER, P VARIANT, S STRING, TS TIMESTAMP_TZ);
INSERT INTO T SELECT 1, PARSE_JSON('{"action":"purchase","amount":"12.50","items":[{"sku":"a"},{"sku":"b"}],"n":3}'), 'x', '2024-02-29T23:59:59Z'::TIMESTAMP_TZ;
INSERT INTO T SELECT 2, PARSE_JSON('{"action":"view","items":[]}'), NULL, TO_TIMESTAMP_TZ('2024-03-01 00:00:01');`, nil))
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	cases := []struct {
		name, sql string
		want      [][]any
	}{
		{"string cast of a path", "SELECT P:action::STRING FROM LOADER_DB.RAW.T ORDER BY ID", [][]any{{"purchase"}, {"view"}}},
		{"path compared with a literal", "SELECT ID FROM LOADER_DB.RAW.T WHERE P:action = 'view'", [][]any{{int64(2)}}},
		{"number cast of a string value", "SELECT P:amount::NUMBER(18,2) FROM LOADER_DB.RAW.T WHERE ID = 1", [][]any{{12.5}}},
		{"variant value as json text", "SELECT P:items[1], P:n FROM LOADER_DB.RAW.T WHERE ID = 1", [][]any{{"{\n  \"sku\": \"b\"\n}", "3"}}},
		{"to_date of a timestamp", "SELECT TO_DATE(TS), DATE_TRUNC('month', TS)::DATE FROM LOADER_DB.RAW.T ORDER BY ID",
			[][]any{{day("2024-02-29"), day("2024-02-01")}, {day("2024-03-01"), day("2024-03-01")}}},
		{"count_if iff nvl", "SELECT COUNT_IF(P:action::STRING = 'purchase'), SUM(IFF(ID > 1, 10, 1)), MAX(NVL(S, 'none')) FROM LOADER_DB.RAW.T",
			[][]any{{int64(1), int64(11), "x"}}},
		{"lpad compares sequencers", "SELECT LPAD('0A1', 6, '0') > LPAD('FF', 6, '0'), LPAD('0A1', 6, '0')", [][]any{{false, "0000A1"}}},
		{"flatten", "SELECT t.ID, f.INDEX, f.VALUE:sku::STRING FROM LOADER_DB.RAW.T t, LATERAL FLATTEN(input => t.P:items) f ORDER BY 1, 2",
			[][]any{{int64(1), int64(0), "a"}, {int64(1), int64(1), "b"}}},
		{"from values", "SELECT COLUMN2 FROM VALUES (1, 'a'), (2, 'b') WHERE COLUMN1 = 2", [][]any{{"b"}}},
		{"coalesce and dateadd", "SELECT COALESCE(NULL, 'y'), DATEADD(day, 1, '2024-02-28'::DATE)::DATE", [][]any{{"y", day("2024-02-29")}}},
		{"current context", "SELECT CURRENT_USER(), CURRENT_ROLE(), CURRENT_DATABASE()", [][]any{{"ADMIN", "ACCOUNTADMIN", nil}}},
		{"select one", "SELECT 1", [][]any{{int64(1)}}},
		{"computed subscript", "SELECT P:items[ID - 1].sku::STRING, GET(P, 'action')::STRING, GET_PATH(P, 'items[1].sku')::STRING FROM LOADER_DB.RAW.T WHERE ID = 1",
			[][]any{{"a", "purchase", "b"}}},
		{"object and array construction", "SELECT OBJECT_CONSTRUCT('a', 1, 'b', 'x'), ARRAY_SIZE(ARRAY_CONSTRUCT(1, 2, 3)), TO_VARIANT('s')",
			[][]any{{"{\n  \"a\": 1,\n  \"b\": \"x\"\n}", int64(3), "\"s\""}}},
		{"decode and div0", "SELECT DECODE(2, 1, 'one', 2, 'two', 'many'), DIV0(1, 0), ZEROIFNULL(NULL)", [][]any{{"two", float64(0), int64(0)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, rows, err := s.Query(ctx, tc.sql)
			require.NoError(t, err)
			assert.Equal(t, tc.want, rows)
		})
	}
}

func TestExecScript(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()

	err := s.ExecScript(ctx, "ALTER USER <% user %> SET WORKLOAD_IDENTITY = (TYPE = AWS ARN = '<% role_arn %>')", map[string]string{"user": "LAMBDA_LOADER_BOT"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "role_arn", "the error names the missing variable")

	require.NoError(t, s.ExecScript(ctx, `
-- Session variables and IDENTIFIER work as in Snowflake scripts.
SET bot = 'LAMBDA_LOADER_BOT';
ALTER USER IDENTIFIER($bot) SET WORKLOAD_IDENTITY = (TYPE = AWS ARN = '<% role_arn %>') DEFAULT_ROLE = LOADER_ROLE;
/* a second user, without a workload identity */
CREATE USER IF NOT EXISTS ANALYST TYPE = PERSON;`, map[string]string{"role_arn": "arn:aws:iam::123456789012:role/new-role"}))
	assert.Equal(t, []User{
		{Name: "ANALYST", Type: "PERSON"},
		{Name: "LAMBDA_LOADER_BOT", Type: "SERVICE", ARN: "arn:aws:iam::123456789012:role/new-role", DefaultRole: "LOADER_ROLE"},
	}, s.Users())

	cols, rows, err := s.Query(ctx, "SHOW USERS LIKE 'lambda%'")
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, "LAMBDA_LOADER_BOT", rows[0][0])
	assert.Equal(t, "LOADER_ROLE", rows[0][indexOf(cols, "default_role")])

	_, rows, err = s.Query(ctx, "SHOW GRANTS TO USER LAMBDA_LOADER_BOT")
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, "LOADER_ROLE", rows[0][1])

	grant := "GRANT SELECT, INSERT ON TABLE LOADER_DB.RAW.EVENTS TO ROLE LOADER_ROLE;"
	require.NoError(t, s.ExecScript(ctx, grant+grant, nil))
	cols, rows, err = s.Query(ctx, "SHOW GRANTS TO ROLE LOADER_ROLE")
	require.NoError(t, err)
	var onEvents []any
	for _, r := range rows {
		if r[indexOf(cols, "name")] == "LOADER_DB.RAW.EVENTS" {
			onEvents = append(onEvents, r[indexOf(cols, "privilege")])
		}
	}
	assert.ElementsMatch(t, []any{"SELECT", "INSERT"}, onEvents, "one row per privilege, granted twice or not")

	err = s.ExecScript(ctx, "SELECT 1; SELECT * FROM NO_SUCH_TABLE; SELECT 3", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "statement 2")

	require.NoError(t, s.ExecScript(ctx, "DROP USER IF EXISTS ANALYST; DROP USER IF EXISTS ANALYST", nil))
	assert.Len(t, s.Users(), 1)
}

func TestSessionContextCommands(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	db := connect(t, s)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "USE SCHEMA LOADER_DB.PUBLIC")
	require.NoError(t, err)
	var schema string
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT CURRENT_SCHEMA()").Scan(&schema))
	assert.Equal(t, "PUBLIC", schema)
	_, err = conn.ExecContext(ctx, "USE ROLE SYSADMIN")
	require.Error(t, err, "a role not granted cannot be used")
	_, err = conn.ExecContext(ctx, "ALTER SESSION SET QUERY_TAG = 'loader'")
	require.NoError(t, err)
}
