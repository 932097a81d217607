package snowsql

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenize(t *testing.T) {
	cases := []struct {
		name, in string
		want     []Token
	}{
		{"words numbers and operators", "a.b::NUMBER(1, 2.5e3)", []Token{
			{Kind: Word, Text: "a"}, {Kind: Op, Text: "."}, {Kind: Word, Text: "b"}, {Kind: Op, Text: "::"},
			{Kind: Word, Text: "NUMBER"}, {Kind: Op, Text: "("}, {Kind: Number, Text: "1"}, {Kind: Op, Text: ","},
			{Kind: Number, Text: "2.5e3"}, {Kind: Op, Text: ")"}}},
		{"string escapes", `'it''s' 'a\nb' 'back\\slash' $$raw 'x'$$`, []Token{
			{Kind: String, Text: "it's"}, {Kind: String, Text: "a\nb"}, {Kind: String, Text: `back\slash`}, {Kind: String, Text: "raw 'x'"}}},
		{"quoted identifiers", `"My ""Table"""`, []Token{{Kind: Quoted, Text: `My "Table"`}}},
		{"comments are dropped", "a -- one\n/* two */ b // three", []Token{{Kind: Word, Text: "a"}, {Kind: Word, Text: "b"}}},
		{"binds and paths", "v:a = :1 AND x = ?", []Token{
			{Kind: Word, Text: "v"}, {Kind: Op, Text: ":"}, {Kind: Word, Text: "a"}, {Kind: Op, Text: "="},
			{Kind: Param, Text: ":1"}, {Kind: Word, Text: "AND"}, {Kind: Word, Text: "x"}, {Kind: Op, Text: "="}, {Kind: Param, Text: "?"}}},
		{"session variable", "$role_arn", []Token{{Kind: Word, Text: "$role_arn"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Tokenize(tc.in)
			require.NoError(t, err)
			for i := range got {
				got[i].Pos, got[i].End = 0, 0
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestTokenizeErrors(t *testing.T) {
	for name, in := range map[string]string{
		"unterminated string":  "SELECT 'abc",
		"unterminated comment": "SELECT /* x",
		"unterminated quote":   `SELECT "abc`,
		"stray character":      "SELECT #",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Tokenize(in)
			var se *SyntaxError
			assert.True(t, errors.As(err, &se), "error %v", err)
		})
	}
}

func TestSplit(t *testing.T) {
	got, err := Split("-- setup\nUSE ROLE SYSADMIN;\nSELECT ';' AS x; ;\n/* end */ SELECT 2")
	require.NoError(t, err)
	assert.Equal(t, []string{"USE ROLE SYSADMIN", "SELECT ';' AS x", "SELECT 2"}, got)
	n, err := CountStatements("SELECT 1;")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestKind(t *testing.T) {
	cases := map[string]string{
		"select 1": "SELECT", "WITH x AS (SELECT 1) SELECT * FROM x": "SELECT", "(SELECT 1)": "SELECT",
		"INSERT INTO t VALUES (1)": "INSERT", "update t set a = 1": "UPDATE", "DELETE FROM t": "DELETE",
		"MERGE INTO t USING s ON 1 = 1 WHEN MATCHED THEN DELETE": "MERGE", "CREATE TABLE t (a INT)": "CREATE",
		"DROP TABLE t": "DROP", "ALTER SESSION SET QUERY_TAG = 'x'": "ALTER", "GRANT ROLE r TO USER u": "GRANT",
		"REVOKE ROLE r FROM USER u": "GRANT", "USE SCHEMA s": "USE", "BEGIN": "BEGIN", "START TRANSACTION": "BEGIN",
		"COMMIT": "COMMIT", "ROLLBACK": "ROLLBACK", "SHOW TABLES": "SHOW", "DESC TABLE t": "SHOW", "TRUNCATE t": "OTHER",
	}
	for in, want := range cases {
		st, err := Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, st.Kind(), in)
	}
}

func TestParseRefusesSeveralStatements(t *testing.T) {
	_, err := Parse("SELECT 1; SELECT 2")
	var se *SyntaxError
	assert.True(t, errors.As(err, &se))
}

func FuzzTranslate(f *testing.F) {
	for _, seed := range []string{
		"SELECT payload:a.b[0]::string FROM t WHERE x = 'y'",
		"INSERT INTO raw_data (payload) SELECT PARSE_JSON(?)",
		"CREATE OR REPLACE DYNAMIC TABLE d TARGET_LAG = '1 minute' WAREHOUSE = w AS SELECT 1",
		"MERGE INTO t USING (SELECT 1 a) s ON t.a = s.a WHEN MATCHED THEN UPDATE SET b = 2",
		"CREATE USER u TYPE = SERVICE WORKLOAD_IDENTITY = (TYPE = AWS ARN = 'arn')",
		"SELECT CASE WHEN a THEN b END::int, IFF(x, 1, 2), f.value FROM t, LATERAL FLATTEN(input => t.v) f",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		st, err := Parse(sql)
		if err != nil {
			return
		}
		_ = st.Kind()
		_, _, _ = st.Command()
		_, _ = st.Translate(testEnv())
		_, _, _ = st.Bulk(testEnv())
	})
}
