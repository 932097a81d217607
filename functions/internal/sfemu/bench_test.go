package sfemu

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/require"
)

const rawDataDDL = `CREATE OR REPLACE TABLE LOADER_DB.RAW.RAW_DATA (
  PAYLOAD VARIANT, RECORD_NUMBER NUMBER, S3_BUCKET VARCHAR, S3_KEY VARCHAR, S3_VERSION_ID VARCHAR,
  S3_ETAG VARCHAR, S3_SIZE NUMBER, S3_SEQUENCER VARCHAR, S3_EVENT_TIME TIMESTAMP_TZ,
  UPLOADER_PRINCIPAL VARCHAR, SOURCE_IP VARCHAR, LOAD_ID VARCHAR, LOADED_AT TIMESTAMP_TZ)`

// loaderBatch is one batch as the loader sends it: 13 array binds of n rows.
type loaderBatch struct {
	payload, bucket, key, version, etag, sequencer, principal, ip, loadID []string
	record, size                                                          []int64
	eventTime, loadedAt                                                   []time.Time
}

func newLoaderBatch(n int) *loaderBatch {
	b := &loaderBatch{}
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		b.payload = append(b.payload, fmt.Sprintf(`{"event_id":"e-%07d","action":"purchase","amount":%d.99,"timestamp":"2024-05-01T10:%02d:00Z","user":{"id":%d,"country":"DE"}}`, i, i%500, i%60, i))
		b.record = append(b.record, int64(i+1))
		b.bucket = append(b.bucket, "incoming-bucket")
		b.key = append(b.key, fmt.Sprintf("incoming/2024/05/01/file-%03d.ndjson", i/1000))
		b.version = append(b.version, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")
		b.etag = append(b.etag, `"9b2cf535f27731c974343645a3985328"`)
		b.size = append(b.size, 182000)
		b.sequencer = append(b.sequencer, "0055AED6DCD90281E5")
		b.eventTime = append(b.eventTime, at)
		b.principal = append(b.principal, "AWS:AIDAJDPLRKLG7UEXAMPLE")
		b.ip = append(b.ip, "203.0.113.7")
		b.loadID = append(b.loadID, "load-2024-05-01-0001")
		b.loadedAt = append(b.loadedAt, at.Add(time.Minute))
	}
	return b
}

const insertRawData = `INSERT INTO RAW_DATA (PAYLOAD, RECORD_NUMBER, S3_BUCKET, S3_KEY, S3_VERSION_ID, S3_ETAG, S3_SIZE,
  S3_SEQUENCER, S3_EVENT_TIME, UPLOADER_PRINCIPAL, SOURCE_IP, LOAD_ID, LOADED_AT)
SELECT PARSE_JSON(?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

func (b *loaderBatch) args() []any {
	return []any{
		gosnowflake.Array(&b.payload), gosnowflake.Array(&b.record), gosnowflake.Array(&b.bucket),
		gosnowflake.Array(&b.key), gosnowflake.Array(&b.version), gosnowflake.Array(&b.etag),
		gosnowflake.Array(&b.size), gosnowflake.Array(&b.sequencer),
		gosnowflake.Array(&b.eventTime, gosnowflake.TimestampTZType), gosnowflake.Array(&b.principal),
		gosnowflake.Array(&b.ip), gosnowflake.Array(&b.loadID), gosnowflake.Array(&b.loadedAt, gosnowflake.TimestampTZType),
	}
}

// BenchmarkArrayInsert sends 5,000 rows of 13 columns in one array-bound INSERT through the
// real driver and reports rows per second end to end. 65,000 bound values stay just under
// CLIENT_STAGE_ARRAY_BINDING_THRESHOLD, so the driver sends them inline; their request
// (about 3 MB) is above Snowflake's 1 MB advice, which the emulator enforces by default, so
// the benchmark's emulator accepts 64 MB to measure the bind decoding itself.
func BenchmarkArrayInsert(b *testing.B) {
	const rows = 5_000
	s, err := Start(context.Background(), Config{Account: testAccount, MaxRequestBytes: 64 << 20,
		Identities: []Identity{{AccessKeyID: testKeyID, SecretAccessKey: testSecret, ARN: testARN}}})
	require.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	require.NoError(b, s.ExecScript(ctx, testSetupTmpl+";"+rawDataDDL, map[string]string{"role_arn": testRoleARN}))
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	b.Setenv("AWS_REGION", "us-east-1")
	b.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	b.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	db := sql.OpenDB(gosnowflake.NewConnector(gosnowflake.SnowflakeDriver{}, driverConfig(s)))
	defer db.Close()
	batch := newLoaderBatch(rows)
	args := batch.args()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		res, err := db.ExecContext(ctx, insertRawData, args...)
		require.NoError(b, err)
		n, _ := res.RowsAffected()
		require.Equal(b, int64(rows), n)
	}
	b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
}
