package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
)

// quarantined stores a rejected upload, its quarantined copy and its report, as the
// validator leaves them, and returns the S3 endpoint.
func quarantined(t *testing.T) string {
	t.Helper()
	srv := startS3(t, "data-bucket")
	put := func(key, body string) string {
		out, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("data-bucket"), Key: aws.String(key), Body: strings.NewReader(body)})
		require.NoError(t, err)
		return strings.Trim(aws.ToString(out.ETag), `"`)
	}
	body := "{\"event_id\":\"1\",\"action\":\"view\",\"timestamp\":\"2026-11-01T00:00:00Z\"}\n{\"event_id\":\"2\",\"action\":\"fly\"}\n"
	etag := put("incoming/2026/orders.ndjson", body)
	put("quarantine/2026/orders.ndjson", body)
	report, err := json.Marshal(gate.Report{
		Bucket: "data-bucket", Key: "incoming/2026/orders.ndjson", ETag: etag, Size: int64(len(body)), Rule: "schema",
		Message: "rejected: 1 of 2 records is invalid", Records: 2, BadRecords: 1, TotalErrors: 1,
		Errors:    []gate.Finding{{Rule: "schema", Record: 2, Line: 2, Offset: 70, Message: "at '/action': value must be one of ..."}},
		CheckedAt: time.Now().UTC(),
	})
	require.NoError(t, err)
	put("quarantine/2026/orders.ndjson.report.json", string(report))
	return srv.URL
}

func TestQuarantineListsRejectedFiles(t *testing.T) {
	quarantined(t)
	res := runOps(t, "quarantine", "-bucket", "data-bucket", "-since", "1h")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "incoming/2026/orders.ndjson")
	assert.Contains(t, res.stdout, "schema")
	assert.Contains(t, res.stdout, "line 2, record 2: at '/action': value must be one of ...")
	assert.Contains(t, res.stdout, "1 rejected in the last 1h0m0s")
	assert.NotContains(t, res.stdout, "report.json", "one line per rejected file, not per object")
}

func TestQuarantineShow(t *testing.T) {
	quarantined(t)
	for _, key := range []string{"incoming/2026/orders.ndjson", "quarantine/2026/orders.ndjson", "quarantine/2026/orders.ndjson.report.json"} {
		t.Run(key, func(t *testing.T) {
			res := runOps(t, "quarantine-show", "-bucket", "data-bucket", key)
			require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
			var r gate.Report
			require.NoError(t, json.Unmarshal([]byte(res.stdout), &r))
			assert.Equal(t, "incoming/2026/orders.ndjson", r.Key)
			assert.Equal(t, "schema", r.Rule)
		})
	}
	t.Run("a file that was not rejected", func(t *testing.T) {
		res := runOps(t, "quarantine-show", "-bucket", "data-bucket", "incoming/2026/fine.ndjson")
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "no quarantine report s3://data-bucket/quarantine/2026/fine.ndjson.report.json")
	})
}

func TestResubmitAnnouncesTheOriginalUpload(t *testing.T) {
	url := quarantined(t)
	q := fakeIngest(t, url)
	res := runOps(t, "resubmit", "-bucket", "data-bucket", "-queue-url", ingestURL, "quarantine/2026/orders.ndjson")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	keys, groups := announced(t, q)
	assert.Equal(t, []string{"incoming/2026/orders.ndjson"}, keys, "the upload is announced, not its quarantined copy")
	assert.Equal(t, []int{1}, groups)
	assert.Contains(t, res.stdout, "rejected for schema")
	assert.NotContains(t, res.stdout, "uploaded again since")
}
