package snowsql

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommand(t *testing.T) {
	cases := []struct {
		name, in string
		want     *Command // nil: not a command
	}{
		{"create user with workload identity", `CREATE OR REPLACE USER lambda_loader_bot TYPE = SERVICE
			WORKLOAD_IDENTITY = (TYPE = AWS ARN = 'arn:aws:iam::1:role/r') DEFAULT_ROLE = loader_role COMMENT = 'bot'`,
			&Command{Verb: "CREATE", Object: "USER", Name: Name{"LAMBDA_LOADER_BOT"}, OrReplace: true, Props: map[string]string{
				"TYPE": "SERVICE", "WORKLOAD_IDENTITY.TYPE": "AWS", "WORKLOAD_IDENTITY.ARN": "arn:aws:iam::1:role/r",
				"DEFAULT_ROLE": "LOADER_ROLE", "COMMENT": "bot"}}},
		{"create warehouse with options", "CREATE WAREHOUSE IF NOT EXISTS wh WITH WAREHOUSE_SIZE = 'XSMALL' AUTO_SUSPEND = 60",
			&Command{Verb: "CREATE", Object: "WAREHOUSE", Name: Name{"WH"}, IfNotExists: true, Props: map[string]string{"WAREHOUSE_SIZE": "XSMALL", "AUTO_SUSPEND": "60"}}},
		{"create schema", "CREATE SCHEMA IF NOT EXISTS db.raw", &Command{Verb: "CREATE", Object: "SCHEMA", Name: Name{"DB", "RAW"}, IfNotExists: true, Props: map[string]string{}}},
		{"drop database", "DROP DATABASE IF EXISTS db CASCADE", &Command{Verb: "DROP", Object: "DATABASE", Name: Name{"DB"}, IfExists: true}},
		{"alter user set", "ALTER USER IF EXISTS u SET DEFAULT_ROLE = r", &Command{Verb: "ALTER", Object: "USER", Name: Name{"U"}, IfExists: true, Props: map[string]string{"DEFAULT_ROLE": "R"}}},
		{"alter user unset", "ALTER USER u UNSET WORKLOAD_IDENTITY", &Command{Verb: "ALTER", Object: "USER", Name: Name{"U"}, Unset: []string{"WORKLOAD_IDENTITY"}}},
		{"alter session set", "ALTER SESSION SET AUTOCOMMIT = FALSE", &Command{Verb: "ALTER", Object: "SESSION", Props: map[string]string{"AUTOCOMMIT": "FALSE"}}},
		{"alter session unset", "ALTER SESSION UNSET AUTOCOMMIT", &Command{Verb: "ALTER", Object: "SESSION", Unset: []string{"AUTOCOMMIT"}}},
		{"grant role to user", "GRANT ROLE loader_role TO USER bot", &Command{Verb: "GRANT", Privileges: "ROLE", Role: Name{"LOADER_ROLE"}, GranteeKind: "USER", Grantee: Name{"BOT"}}},
		{"grant privileges", "GRANT INSERT, SELECT ON ALL TABLES IN SCHEMA db.raw TO ROLE loader_role",
			&Command{Verb: "GRANT", Privileges: "INSERT, SELECT", On: "ALL TABLES IN SCHEMA DB.RAW", GranteeKind: "ROLE", Grantee: Name{"LOADER_ROLE"}}},
		{"revoke role", "REVOKE ROLE r FROM USER u", &Command{Verb: "REVOKE", Privileges: "ROLE", Role: Name{"R"}, GranteeKind: "USER", Grantee: Name{"U"}}},
		{"use database and schema", "USE db.raw", &Command{Verb: "USE", Object: "SCHEMA", Name: Name{"DB", "RAW"}}},
		{"use role", "USE ROLE accountadmin", &Command{Verb: "USE", Object: "ROLE", Name: Name{"ACCOUNTADMIN"}}},
		{"show users like", "SHOW USERS LIKE 'LAMBDA%'", &Command{Verb: "SHOW", Object: "USERS", Like: "LAMBDA%"}},
		{"show tables in schema", "SHOW TERSE TABLES IN SCHEMA db.raw", &Command{Verb: "SHOW", Object: "TABLES", InKind: "SCHEMA", In: Name{"DB", "RAW"}}},
		{"show workload identity methods", "SHOW USER WORKLOAD IDENTITY AUTHENTICATION METHODS FOR USER bot",
			&Command{Verb: "SHOW", Object: "USER WORKLOAD IDENTITY AUTHENTICATION METHODS", InKind: "USER", In: Name{"BOT"}}},
		{"describe table", "DESC TABLE raw_data", &Command{Verb: "DESCRIBE", Object: "TABLE", Name: Name{"RAW_DATA"}}},
		{"begin", "BEGIN TRANSACTION", &Command{Verb: "BEGIN"}},
		{"create table is not a command", "CREATE TABLE t (a INT)", nil},
		{"select is not a command", "SELECT 1", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Parse(tc.in)
			require.NoError(t, err)
			cmd, ok, err := st.Command()
			require.NoError(t, err)
			require.Equal(t, tc.want != nil, ok)
			if tc.want != nil {
				assert.Equal(t, tc.want, cmd)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	out, err := Expand("ARN = '<% role_arn %>' -- <%user%>", map[string]string{"role_arn": "arn:x", "user": "BOT"})
	require.NoError(t, err)
	assert.Equal(t, "ARN = 'arn:x' -- BOT", out)

	_, err = Expand("<% role_arn %> <% b %> <% a %>", map[string]string{"a": "1"})
	var mv *MissingVariablesError
	require.ErrorAs(t, err, &mv)
	assert.Equal(t, []string{"b", "role_arn"}, mv.Names)
}

func TestSubstitute(t *testing.T) {
	st, err := Parse("SELECT $arn, $n, * FROM IDENTIFIER($tbl)")
	require.NoError(t, err)
	require.NoError(t, st.Substitute(map[string]Var{"ARN": {Text: "arn:x"}, "N": {Text: "3", Number: true}, "TBL": {Text: "db.s.t"}}))
	out, err := st.Translate(testEnv())
	require.NoError(t, err)
	assert.Equal(t, `SELECT 'arn:x' AS "$ARN", 3 AS "$N", * FROM "DB__S"."T"`, out.SQL)

	st, err = Parse("SELECT $missing")
	require.NoError(t, err)
	var ce *CompileError
	require.ErrorAs(t, st.Substitute(nil), &ce)
	assert.Equal(t, "002211", ce.Code)
}
