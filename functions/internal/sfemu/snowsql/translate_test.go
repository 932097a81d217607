package snowsql

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testEnv() *Env {
	return &Env{
		Database: "LOADER_DB", Schema: "RAW", User: "LAMBDA_LOADER_BOT", Role: "LOADER_ROLE", Account: "ACME",
		IsTemp: func(db, schema, table string) bool { return table == "STAGE" },
		Columns: func(ref TableRef) ([]Column, error) {
			switch ref.Table {
			case "RAW_DATA":
				return []Column{{"PAYLOAD", "JSON"}, {"RECORD_NUMBER", "DECIMAL(38,0)"}, {"S3_KEY", "VARCHAR"}}, nil
			case "STAGE":
				return []Column{{"LINE", "VARCHAR"}, {"N", "DECIMAL(38,0)"}}, nil
			}
			return nil, errors.New("no such table")
		},
	}
}

func TestTranslate(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"select one", "SELECT 1", `SELECT 1 AS "1"`},
		{"names resolve to the current schema", "select s3_key from raw_data",
			`SELECT S3_KEY FROM "LOADER_DB__RAW"."RAW_DATA"`},
		{"qualified names", "SELECT * FROM other_db.s.t JOIN raw.file_loads f ON true",
			`SELECT * FROM "OTHER_DB__S"."T" JOIN "LOADER_DB__RAW"."FILE_LOADS" F ON TRUE`},
		{"temporary table", "SELECT line FROM stage", `SELECT LINE FROM temp.main."STAGE"`},
		{"quoted identifiers keep their case", `SELECT "Mixed" FROM "lower"`, `SELECT "Mixed" FROM "LOADER_DB__RAW"."lower"`},
		{"variant path and string cast", "SELECT payload:action::string AS action FROM raw_data",
			`SELECT json_extract_string(json_extract(PAYLOAD, '$."action"'), '$') AS "ACTION" FROM "LOADER_DB__RAW"."RAW_DATA"`},
		{"nested path, brackets and number cast", "SELECT p:user.tags[0], p['a b']::NUMBER(18,2) x FROM t",
			`SELECT json_extract(P, '$."user"."tags"[0]') AS "P:USER.TAGS[0]", CAST(sf_json_scalar(P, '$."a b"') AS DECIMAL(18,2)) AS "X" FROM "LOADER_DB__RAW"."T"`},
		{"variant compared with a string literal", "SELECT COUNT_IF(payload:action = 'view') v FROM raw_data",
			`SELECT COUNT_IF(json_extract_string(json_extract(PAYLOAD, '$."action"'), '$') = 'view') AS "V" FROM "LOADER_DB__RAW"."RAW_DATA"`},
		{"cast of a column of unknown type", "SELECT c::STRING AS s FROM t",
			`SELECT (CASE WHEN typeof(C) = 'JSON' THEN json_extract_string(CAST(C AS JSON), '$') ELSE CAST(C AS VARCHAR) END) AS "S" FROM "LOADER_DB__RAW"."T"`},
		{"parse_json and timestamps", "SELECT TO_DATE(PARSE_JSON(?):ts::TIMESTAMP_TZ) d",
			`SELECT CAST(CAST(json_extract_string(json_extract(CAST(sf_parse_json($1, 's', false) AS JSON), '$."ts"'), '$') AS TIMESTAMPTZ) AS DATE) AS "D"`},
		{"session functions", "SELECT CURRENT_USER(), CURRENT_ROLE AS r, CURRENT_ACCOUNT() a",
			`SELECT 'LAMBDA_LOADER_BOT' AS "CURRENT_USER()", 'LOADER_ROLE' AS "R", 'ACME' AS "A"`},
		{"iff nvl lpad date_trunc", "SELECT IFF(a > 1, 'x', NVL(b, 'y')) i, LPAD(s, 20, '0') l, DATE_TRUNC(day, ts) d FROM t",
			`SELECT (CASE WHEN A > 1 THEN 'x' ELSE COALESCE(B, 'y') END) AS "I", LPAD(S, 20, '0') AS "L", date_trunc('day', TS) AS "D" FROM "LOADER_DB__RAW"."T"`},
		{"current_timestamp and dateadd", "SELECT DATEADD(hour, 2, CURRENT_TIMESTAMP()) t",
			`SELECT (get_current_timestamp() + to_hours(CAST(2 AS BIGINT))) AS "T"`},
		{"positional binds", "SELECT * FROM t WHERE a = :2 AND b = :1", `SELECT * FROM "LOADER_DB__RAW"."T" WHERE A = $2 AND B = $1`},
		{"from values", "SELECT column1 FROM VALUES (1), (2)", `SELECT COLUMN1 FROM (VALUES (1), (2)) AS SFEMU_VALUES(COLUMN1)`},
		{"cte names are not tables", "WITH x AS (SELECT 1 AS a) SELECT a FROM x", `WITH X AS (SELECT 1 AS "A") SELECT A FROM "X"`},
		{"top becomes limit", "SELECT TOP 5 s3_key FROM raw_data ORDER BY 1", `SELECT S3_KEY FROM "LOADER_DB__RAW"."RAW_DATA" ORDER BY 1 LIMIT 5`},
		{"minus is except", "SELECT a FROM t MINUS SELECT a FROM u", `SELECT A FROM "LOADER_DB__RAW"."T" EXCEPT SELECT A FROM "LOADER_DB__RAW"."U"`},
		{"extract keeps its FROM", "SELECT EXTRACT(year FROM ts) y FROM t", `SELECT EXTRACT(YEAR FROM TS) AS "Y" FROM "LOADER_DB__RAW"."T"`},
		{"duckdb keywords as columns", "SELECT at, map FROM t", `SELECT "AT", "MAP" FROM "LOADER_DB__RAW"."T"`},
		{"lateral flatten", "SELECT f.value::string v FROM t, LATERAL FLATTEN(input => t.p:items) f",
			`SELECT (CASE WHEN typeof(F.VALUE) = 'JSON' THEN json_extract_string(CAST(F.VALUE AS JSON), '$') ELSE CAST(F.VALUE AS VARCHAR) END) AS "V" FROM "LOADER_DB__RAW"."T", LATERAL (SELECT CAST(1 AS BIGINT) AS SEQ, CASE WHEN json_type(json_extract(T.P, '$."items"')) = 'ARRAY' THEN NULL ELSE sfemu_e.key END AS "KEY", CASE WHEN json_type(json_extract(T.P, '$."items"')) = 'ARRAY' THEN '[' || sfemu_e.key || ']' ELSE sfemu_e.key END AS "PATH", CASE WHEN json_type(json_extract(T.P, '$."items"')) = 'ARRAY' THEN CAST(sfemu_e.key AS BIGINT) END AS "INDEX", sfemu_e.value AS "VALUE", json_extract(T.P, '$."items"') AS "THIS" FROM json_each(json_extract(T.P, '$."items"')) AS sfemu_e) F`},
		{"insert values into a variant column keeps strings", "INSERT INTO raw_data (payload, s3_key) VALUES (?, ?)",
			`INSERT INTO "LOADER_DB__RAW"."RAW_DATA" ("PAYLOAD", "S3_KEY") VALUES (to_json($1), $2)`},
		{"insert select parses json", "INSERT INTO raw_data (payload, record_number) SELECT PARSE_JSON(line), n FROM stage",
			`INSERT INTO "LOADER_DB__RAW"."RAW_DATA" ("PAYLOAD", "RECORD_NUMBER") SELECT CAST(sf_parse_json(LINE, 's', false) AS JSON), N FROM temp.main."STAGE"`},
		{"insert select coerces a text column", "INSERT INTO raw_data SELECT line, n, 'k' FROM stage",
			`INSERT INTO "LOADER_DB__RAW"."RAW_DATA" SELECT (CASE WHEN typeof(LINE) = 'JSON' THEN CAST(LINE AS JSON) ELSE to_json(LINE) END), N, 'k' FROM temp.main."STAGE"`},
		{"insert overwrite", "INSERT OVERWRITE INTO stage SELECT 'a', 1", `INSERT INTO temp.main."STAGE" SELECT 'a', 1`},
		{"delete using", "DELETE FROM raw_data r USING stage s WHERE r.s3_key = s.line",
			`DELETE FROM "LOADER_DB__RAW"."RAW_DATA" R USING temp.main."STAGE" S WHERE R.S3_KEY = S.LINE`},
		{"update from", "UPDATE file_loads f SET rows_loaded = s.n FROM stage s WHERE f.s3_key = s.line",
			`UPDATE "LOADER_DB__RAW"."FILE_LOADS" F SET ROWS_LOADED = S.N FROM temp.main."STAGE" S WHERE F.S3_KEY = S.LINE`},
		{"merge", "MERGE INTO file_loads t USING (SELECT ? k) s ON t.s3_key = s.k WHEN MATCHED THEN UPDATE SET loaded_at = CURRENT_TIMESTAMP() WHEN NOT MATCHED THEN INSERT (s3_key) VALUES (s.k)",
			`MERGE INTO "LOADER_DB__RAW"."FILE_LOADS" T USING (SELECT $1 AS "K") S ON T.S3_KEY = S.K WHEN MATCHED THEN UPDATE SET LOADED_AT = get_current_timestamp() WHEN NOT MATCHED THEN INSERT (S3_KEY) VALUES (S.K)`},
		{"create table maps types and drops unenforced constraints",
			"CREATE OR REPLACE TABLE raw_data (payload VARIANT NOT NULL, n NUMBER(38,0), s STRING PRIMARY KEY, f FLOAT, b BOOLEAN, tz TIMESTAMP_TZ DEFAULT CURRENT_TIMESTAMP(), ntz TIMESTAMP_NTZ, d DATE, o OBJECT, a ARRAY, i INT, UNIQUE (s)) CLUSTER BY (d) COMMENT = 'raw'",
			`CREATE OR REPLACE TABLE "LOADER_DB__RAW"."RAW_DATA" ("PAYLOAD" JSON NOT NULL, "N" DECIMAL(38,0), "S" VARCHAR, "F" DOUBLE, "B" BOOLEAN, "TZ" TIMESTAMPTZ DEFAULT get_current_timestamp(), "NTZ" TIMESTAMP, "D" DATE, "O" JSON, "A" JSON, "I" DECIMAL(38,0))`},
		{"create temporary table", "CREATE TEMPORARY TABLE IF NOT EXISTS stage (line TEXT)", `CREATE TEMP TABLE IF NOT EXISTS "STAGE" ("LINE" VARCHAR)`},
		{"create table as", "CREATE TABLE t2 AS SELECT * FROM t", `CREATE TABLE "LOADER_DB__RAW"."T2" AS SELECT * FROM "LOADER_DB__RAW"."T"`},
		{"dynamic table is a view", "CREATE OR REPLACE DYNAMIC TABLE daily TARGET_LAG = '1 minute' WAREHOUSE = wh AS SELECT COUNT(*) AS n FROM raw_data",
			`CREATE OR REPLACE VIEW "LOADER_DB__RAW"."DAILY" AS SELECT COUNT(*) AS "N" FROM "LOADER_DB__RAW"."RAW_DATA"`},
		{"drop table", "DROP TABLE IF EXISTS loader_db.raw.raw_data", `DROP TABLE IF EXISTS "LOADER_DB__RAW"."RAW_DATA"`},
		{"truncate", "TRUNCATE TABLE stage", `DELETE FROM temp.main."STAGE"`},
		{"alter table add column", "ALTER TABLE raw_data ADD COLUMN extra VARIANT", `ALTER TABLE "LOADER_DB__RAW"."RAW_DATA" ADD COLUMN "EXTRA" JSON`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Parse(tc.in)
			require.NoError(t, err)
			out, err := st.Translate(testEnv())
			require.NoError(t, err)
			assert.Equal(t, tc.want, out.SQL)
		})
	}
}

func TestTranslateErrors(t *testing.T) {
	cases := []struct{ name, in, code string }{
		{"semi-structured value in VALUES", "INSERT INTO raw_data (payload) VALUES (PARSE_JSON(?))", "002014"},
		{"variant cast in VALUES", "INSERT INTO raw_data (payload) VALUES (?::VARIANT)", "002014"},
		{"unsupported statement", "CREATE STAGE s", "001003"},
		{"unknown type", "CREATE TABLE t (a GEOGRAPHY)", "001003"},
		{"dynamic table without a lag", "CREATE DYNAMIC TABLE d WAREHOUSE = w AS SELECT 1", "001003"},
		{"identity columns", "CREATE TABLE t (id NUMBER AUTOINCREMENT)", "001003"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Parse(tc.in)
			require.NoError(t, err)
			_, err = st.Translate(testEnv())
			var ce *CompileError
			require.True(t, errors.As(err, &ce), "error %v", err)
			assert.Equal(t, tc.code, ce.Code)
		})
	}

	st, err := Parse("SELECT * FROM t")
	require.NoError(t, err)
	_, err = st.Translate(&Env{})
	var ce *CompileError
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, "090105", ce.Code, "no current database")
}

func TestBulk(t *testing.T) {
	cases := []struct {
		name, in, want string
		ok             bool
		pre            []string
	}{
		{"plain values", "INSERT INTO stage (line, n) VALUES (?, ?)",
			`INSERT INTO temp.main."STAGE" ("LINE", "N") SELECT sfemu_binds.b1, sfemu_binds.b2 FROM sfemu_binds`, true, nil},
		{"overwrite empties the table first", "INSERT OVERWRITE INTO stage (line, n) VALUES (?, ?)",
			`INSERT INTO temp.main."STAGE" ("LINE", "N") SELECT sfemu_binds.b1, sfemu_binds.b2 FROM sfemu_binds`, true,
			[]string{`DELETE FROM temp.main."STAGE"`}},
		{"values into a variant column", "INSERT INTO raw_data (payload, record_number) VALUES (?, ?)",
			`INSERT INTO "LOADER_DB__RAW"."RAW_DATA" ("PAYLOAD", "RECORD_NUMBER") SELECT to_json(sfemu_binds.b1), sfemu_binds.b2 FROM sfemu_binds`, true, nil},
		{"select list of expressions", "INSERT INTO raw_data (payload, record_number) SELECT PARSE_JSON(?), ? + 1",
			`INSERT INTO "LOADER_DB__RAW"."RAW_DATA" ("PAYLOAD", "RECORD_NUMBER") SELECT CAST(sf_parse_json(sfemu_binds.b1, 's', false) AS JSON), sfemu_binds.b2 + 1 FROM sfemu_binds`, true, nil},
		{"insert from a table is not bulk", "INSERT INTO raw_data SELECT * FROM stage WHERE n = ?", "", false, nil},
		{"several tuples are not bulk", "INSERT INTO stage VALUES (?, 1), (?, 2)", "", false, nil},
		{"update is not bulk", "UPDATE stage SET n = ? WHERE line = ?", "", false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Parse(tc.in)
			require.NoError(t, err)
			b, ok, err := st.Bulk(testEnv())
			require.NoError(t, err)
			require.Equal(t, tc.ok, ok)
			if ok {
				assert.Equal(t, tc.want, b.SQL)
				assert.Equal(t, tc.pre, b.Pre)
			}
		})
	}
}
