package sfemu

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const eventsDDL = `CREATE OR REPLACE TABLE LOADER_DB.RAW.EVENTS (
  ID NUMBER, NAME VARCHAR, AMOUNT NUMBER(18,2), RATIO FLOAT, OK BOOLEAN,
  AT TIMESTAMP_TZ, DAY DATE, PAYLOAD VARIANT)`

func TestScalarBinds(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, eventsDDL, nil))
	db := connect(t, s)
	at := time.Date(2024, 3, 1, 12, 30, 0, 123456000, time.FixedZone("", 2*3600))
	res, err := db.ExecContext(ctx, `INSERT INTO EVENTS (ID, NAME, AMOUNT, RATIO, OK, AT, DAY, PAYLOAD)
		SELECT ?, ?, ?, ?, ?, ?, ?, PARSE_JSON(?)`,
		int64(7), "seven", "12.50", 0.25, true, gosnowflake.DataTypeTimestampTz, at, gosnowflake.DataTypeDate, at, `{"action":"view","n":12345678901234567890}`)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)

	var (
		id      int64
		name    string
		amount  float64
		ratio   float64
		ok      bool
		gotAt   time.Time
		day     time.Time
		payload string
		nothing sql.NullString
	)
	err = db.QueryRowContext(ctx, `SELECT ID, NAME, AMOUNT, RATIO, OK, AT, DAY, PAYLOAD, NULL FROM EVENTS WHERE NAME = ? AND ID = ?`, "seven", 7).
		Scan(&id, &name, &amount, &ratio, &ok, &gotAt, &day, &payload, &nothing)
	require.NoError(t, err)
	assert.Equal(t, int64(7), id)
	assert.Equal(t, "seven", name)
	assert.InDelta(t, 12.5, amount, 1e-9)
	assert.InDelta(t, 0.25, ratio, 1e-6)
	assert.True(t, ok)
	assert.True(t, at.Equal(gotAt), "got %v", gotAt)
	assert.Equal(t, "2024-03-01", day.Format("2006-01-02"))
	assert.JSONEq(t, `{"action":"view","n":12345678901234567890}`, payload)
	assert.Contains(t, payload, "12345678901234567890", "big integers keep every digit")
	assert.False(t, nothing.Valid)
}

func TestArrayBindsInsertRows(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, eventsDDL, nil))
	db := connect(t, s)
	const rows = 100
	ids := make([]int64, rows)
	names := make([]string, rows)
	payloads := make([]string, rows)
	ats := make([]time.Time, rows)
	for i := range ids {
		ids[i] = int64(i + 1)
		names[i] = fmt.Sprintf("name-%d", i)
		payloads[i] = fmt.Sprintf(`{"action":"click","i":%d}`, i)
		ats[i] = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	}
	res, err := db.ExecContext(ctx, `INSERT INTO EVENTS (ID, NAME, AT, PAYLOAD) SELECT ?, ?, ?, PARSE_JSON(?)`,
		gosnowflake.Array(&ids), gosnowflake.Array(&names), gosnowflake.Array(&ats, gosnowflake.TimestampTZType), gosnowflake.Array(&payloads))
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(rows), n)
	assert.Equal(t, int64(rows), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS WHERE PAYLOAD:action::STRING = 'click'"))
	assert.Equal(t, int64(4950), queryInt(t, s, "SELECT SUM(PAYLOAD:i::NUMBER) FROM LOADER_DB.RAW.EVENTS"))

	// A plain VALUES insert into a VARIANT column stores the text as a string, as
	// Snowflake does; PARSE_JSON is what makes it an object.
	_, err = db.ExecContext(ctx, `INSERT INTO EVENTS (ID, PAYLOAD) VALUES (?, ?)`, gosnowflake.Array(&[]int64{1000}), gosnowflake.Array(&[]string{`{"action":"x"}`}))
	require.NoError(t, err)
	assert.Equal(t, int64(1), queryInt(t, s, `SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS WHERE ID = 1000 AND PAYLOAD::STRING = '{"action":"x"}' AND PAYLOAD:action IS NULL`))
	_, err = db.ExecContext(ctx, `INSERT INTO EVENTS (ID, PAYLOAD) VALUES (?, ?)`, 1001, `{"action":"y"}`)
	require.NoError(t, err, "the same with scalar binds")
	assert.Equal(t, int64(1), queryInt(t, s, `SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS WHERE ID = 1001 AND PAYLOAD::STRING = '{"action":"y"}'`))
}

func TestValuesRefusesSemiStructuredExpressions(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, eventsDDL, nil))
	db := connect(t, s)
	_, err := db.ExecContext(ctx, `INSERT INTO EVENTS (ID, PAYLOAD) VALUES (1, PARSE_JSON(?))`, `{}`)
	var sfErr *gosnowflake.SnowflakeError
	require.True(t, errors.As(err, &sfErr), "error %v", err)
	assert.Equal(t, 2014, sfErr.Number)
}

func TestTransactions(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, eventsDDL, nil))
	db := connect(t, s)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO EVENTS (ID) VALUES (?)", 1)
	require.NoError(t, err)
	var inside int64
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM EVENTS").Scan(&inside))
	assert.Equal(t, int64(1), inside, "the transaction sees its own insert")
	require.NoError(t, tx.Rollback())
	assert.Equal(t, int64(0), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"))

	tx, err = db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO EVENTS (ID) VALUES (?)", 2)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	assert.Equal(t, int64(1), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"))

	st := s.Stats()
	assert.Equal(t, int64(2), st.Statements["BEGIN"])
	assert.Equal(t, int64(1), st.Statements["ROLLBACK"])
	assert.Equal(t, int64(1), st.Statements["COMMIT"])
}

func TestTemporaryTableBelongsToItsSession(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	db := connect(t, s)
	a, err := db.Conn(ctx)
	require.NoError(t, err)
	defer a.Close()
	b, err := db.Conn(ctx)
	require.NoError(t, err)
	defer b.Close()

	_, err = a.ExecContext(ctx, "CREATE TEMPORARY TABLE STAGE_ROWS (X NUMBER)")
	require.NoError(t, err)
	_, err = a.ExecContext(ctx, "INSERT INTO STAGE_ROWS VALUES (1), (2)")
	require.NoError(t, err)
	var n int64
	require.NoError(t, a.QueryRowContext(ctx, "SELECT COUNT(*) FROM LOADER_DB.RAW.STAGE_ROWS").Scan(&n))
	assert.Equal(t, int64(2), n)

	err = b.QueryRowContext(ctx, "SELECT COUNT(*) FROM STAGE_ROWS").Scan(&n)
	var sfErr *gosnowflake.SnowflakeError
	require.True(t, errors.As(err, &sfErr), "error %v", err)
	assert.Equal(t, 2003, sfErr.Number)
}

func TestMultipleStatementsAreRefused(t *testing.T) {
	s := startServer(t, "")
	db := connect(t, s)
	_, err := db.ExecContext(context.Background(), "BEGIN; SELECT 1; COMMIT")
	var sfErr *gosnowflake.SnowflakeError
	require.True(t, errors.As(err, &sfErr), "error %v", err)
	assert.Equal(t, 8, sfErr.Number)
	assert.Equal(t, "Actual statement count 3 did not match the desired statement count 1.", sfErr.Message)
}

func TestSessionRenewal(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	db := connect(t, s)
	s.ExpireSessions()
	var one int64
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
	assert.Equal(t, int64(1), one)
	st := s.Stats()
	assert.Equal(t, int64(1), st.Renewals)
	assert.Equal(t, int64(1), st.Logins)
}

func TestExpiredMasterTokenNeedsANewPool(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	db := connect(t, s)
	s.ExpireMasterTokens()
	err := db.QueryRowContext(ctx, "SELECT 1").Scan(new(int64))
	var sfErr *gosnowflake.SnowflakeError
	require.True(t, errors.As(err, &sfErr), "error %v", err)
	assert.Equal(t, 390114, sfErr.Number)

	// Only a new pool logs in again.
	require.NoError(t, db.Close())
	db = open(t, driverConfig(s))
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(new(int64)))
	assert.Equal(t, int64(2), s.Stats().Logins)
}

func TestLostAnswersAreNotRunTwice(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, eventsDDL, nil))
	db := connect(t, s)
	s.ResetStats()
	s.InjectFault(Fault{Kind: "INSERT", Count: 2, HTTPStatus: 503})
	res, err := db.ExecContext(ctx, "INSERT INTO EVENTS (ID) VALUES (?)", 1)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	assert.Equal(t, int64(1), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"))
	assert.Equal(t, int64(1), s.Stats().Statements["INSERT"])
}

func TestInjectedSnowflakeError(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	db := connect(t, s)
	s.InjectFault(Fault{Kind: "SELECT", Count: 1, Code: "000625", SQLState: "57014", Message: "Statement reached its statement or warehouse timeout of 10 second(s) and was canceled."})
	err := db.QueryRowContext(ctx, "SELECT 1").Scan(new(int64))
	var sfErr *gosnowflake.SnowflakeError
	require.True(t, errors.As(err, &sfErr), "error %v", err)
	assert.Equal(t, 625, sfErr.Number)
	assert.Equal(t, "57014", sfErr.SQLState)
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(new(int64)), "the fault is used up")
}

func TestDataPersistsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "account.duckdb")
	ctx := context.Background()
	s := startServer(t, path)
	require.NoError(t, s.ExecScript(ctx, eventsDDL+";INSERT INTO LOADER_DB.RAW.EVENTS (ID) VALUES (42)", nil))
	require.NoError(t, s.Close())

	s, err := Start(ctx, Config{Path: path, Account: testAccount, Identities: []Identity{{AccessKeyID: testKeyID, SecretAccessKey: testSecret, ARN: testARN}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	assert.Equal(t, int64(42), queryInt(t, s, "SELECT ID FROM LOADER_DB.RAW.EVENTS"))
	users := s.Users()
	require.Len(t, users, 1)
	assert.Equal(t, User{Name: "LAMBDA_LOADER_BOT", Type: "SERVICE", ARN: testRoleARN, DefaultRole: "LOADER_ROLE"}, users[0])
	var one int64
	require.NoError(t, connect(t, s).QueryRowContext(ctx, "SELECT 1").Scan(&one), "the user still logs in")
}
