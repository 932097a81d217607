package sfemu

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const dailySummaryDDL = `
CREATE OR REPLACE DYNAMIC TABLE LOADER_DB.RAW.DAILY_SUMMARY
  TARGET_LAG = '1 minute'
  WAREHOUSE = LOADER_WH
AS
SELECT
  TO_DATE(PAYLOAD:timestamp::TIMESTAMP_TZ)                       AS EVENT_DATE,
  COUNT(DISTINCT S3_BUCKET || S3_KEY || S3_VERSION_ID)            AS FILES_LOADED,
  COUNT(*)                                                        AS TOTAL_EVENTS,
  COUNT_IF(PAYLOAD:action::STRING = 'view')                       AS VIEWS,
  COUNT_IF(PAYLOAD:action = 'click')                              AS CLICKS,
  COUNT_IF(PAYLOAD:action::STRING = 'add_to_cart')                AS ADD_TO_CARTS,
  COUNT_IF(PAYLOAD:action::STRING = 'purchase')                   AS PURCHASES,
  COUNT_IF(PAYLOAD:action::STRING = 'refund')                     AS REFUNDS,
  SUM(IFF(PAYLOAD:action::STRING = 'purchase', PAYLOAD:amount::NUMBER(18,2), 0)) AS PURCHASE_AMOUNT,
  SUM(IFF(PAYLOAD:action::STRING = 'refund', PAYLOAD:amount::NUMBER(18,2), 0))   AS REFUND_AMOUNT
FROM LOADER_DB.RAW.RAW_DATA
GROUP BY 1`

func TestVariantRoundTrip(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, rawDataDDL, nil))
	db := connect(t, s)
	batch := newLoaderBatch(3)
	batch.payload[1] = `{"event_id":"e-1","action":"purchase","amount":"19.99","timestamp":"2024-05-02T23:30:00+00:00","user":{"id":1,"tags":["a","b"]},"Mixed Case":true}`
	_, err := db.ExecContext(ctx, insertRawData, batch.args()...)
	require.NoError(t, err)

	var (
		action, tag, eventID, payload string
		amount                        float64
		at, day                       time.Time
		mixed                         bool
		missing                       sql.NullString
	)
	err = db.QueryRowContext(ctx, `
SELECT PAYLOAD:action::STRING, PAYLOAD:amount::NUMBER(18,2), PAYLOAD:user.tags[1]::VARCHAR, PAYLOAD['event_id'],
       PAYLOAD:timestamp::TIMESTAMP_TZ, TO_DATE(PAYLOAD:timestamp::TIMESTAMP_TZ), PAYLOAD:"Mixed Case"::BOOLEAN,
       PAYLOAD:user.country::STRING, PAYLOAD:no_such_key
  FROM RAW_DATA WHERE RECORD_NUMBER = 2`).Scan(&action, &amount, &tag, &eventID, &at, &day, &mixed, &missing, new(sql.NullString))
	require.NoError(t, err)
	assert.Equal(t, "purchase", action)
	assert.InDelta(t, 19.99, amount, 1e-9)
	assert.Equal(t, "b", tag)
	assert.Equal(t, `"e-1"`, eventID, "a VARIANT string comes back as JSON text")
	assert.True(t, at.Equal(time.Date(2024, 5, 2, 23, 30, 0, 0, time.UTC)), "got %v", at)
	assert.Equal(t, "2024-05-02", day.Format("2006-01-02"))
	assert.True(t, mixed)
	assert.False(t, missing.Valid)

	require.NoError(t, db.QueryRowContext(ctx, `SELECT PAYLOAD FROM RAW_DATA WHERE PAYLOAD:action::STRING = 'purchase' AND RECORD_NUMBER = 2`).Scan(&payload))
	assert.Contains(t, payload, "{\n  \"event_id\": \"e-1\"", "objects come back pretty-printed, keys in order")

	var n int64
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM RAW_DATA WHERE PAYLOAD:action = 'purchase' AND PAYLOAD:user.id::NUMBER >= 0`).Scan(&n))
	assert.Equal(t, int64(3), n)
}

func TestDynamicTable(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	require.NoError(t, s.ExecScript(ctx, rawDataDDL+";"+dailySummaryDDL, nil))
	db := connect(t, s)
	batch := newLoaderBatch(4)
	batch.payload[0] = `{"action":"view","timestamp":"2024-05-01T10:00:00Z"}`
	batch.payload[1] = `{"action":"purchase","amount":10.50,"timestamp":"2024-05-01T11:00:00Z"}`
	batch.payload[2] = `{"action":"refund","amount":"2.25","timestamp":"2024-05-01T12:00:00Z"}`
	batch.payload[3] = `{"action":"click","timestamp":"2024-05-02T00:00:01Z"}`
	_, err := db.ExecContext(ctx, insertRawData, batch.args()...)
	require.NoError(t, err)

	rows, err := db.QueryContext(ctx, `SELECT EVENT_DATE, FILES_LOADED, TOTAL_EVENTS, VIEWS, CLICKS, PURCHASES, REFUNDS, PURCHASE_AMOUNT, REFUND_AMOUNT
  FROM DAILY_SUMMARY ORDER BY EVENT_DATE`)
	require.NoError(t, err)
	defer rows.Close()
	type day struct {
		date                                            string
		files, total, views, clicks, purchases, refunds int64
		purchased, refunded                             float64
	}
	var got []day
	for rows.Next() {
		var d day
		var date time.Time
		require.NoError(t, rows.Scan(&date, &d.files, &d.total, &d.views, &d.clicks, &d.purchases, &d.refunds, &d.purchased, &d.refunded))
		d.date = date.Format("2006-01-02")
		got = append(got, d)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []day{
		{date: "2024-05-01", files: 1, total: 3, views: 1, purchases: 1, refunds: 1, purchased: 10.5, refunded: 2.25},
		{date: "2024-05-02", files: 1, total: 1, clicks: 1},
	}, got)

	cols, showRows, err := s.Query(ctx, "SHOW DYNAMIC TABLES IN SCHEMA LOADER_DB.RAW")
	require.NoError(t, err)
	require.Len(t, showRows, 1)
	assert.Equal(t, "DAILY_SUMMARY", showRows[0][1])
	assert.Equal(t, "1 minute", showRows[0][indexOf(cols, "target_lag")])
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
