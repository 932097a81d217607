package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3local"
)

const ingestURL = "https://sqs.us-east-1.amazonaws.com/123456789012/loader-ingest"

// fakeIngest is an SQS queue that takes SendMessageBatch and refuses, once, the entries whose
// body names a key in refuseOnce.
func fakeIngest(t *testing.T, s3URL string, refuseOnce ...string) *fakeAWS {
	return fakeQueue(t, s3URL, false, refuseOnce...)
}

// fakeQueue refuses the entries naming a key in refuse: once with a server fault, always with
// a sender fault (a message SQS will never take).
func fakeQueue(t *testing.T, s3URL string, senderFault bool, refuse ...string) *fakeAWS {
	refused := map[string]bool{}
	refuseOnce := refuse
	q := newFakeAWS(t, "AmazonSQS.", map[string]func(map[string]any) (int, any){
		"SendMessageBatch": func(body map[string]any) (int, any) {
			var ok, failed []map[string]any
			for _, e := range body["Entries"].([]any) {
				entry := e.(map[string]any)
				id, msg := entry["Id"].(string), entry["MessageBody"].(string)
				refuse := false
				for _, k := range refuseOnce {
					if strings.Contains(msg, k) && (senderFault || !refused[k]) {
						refused[k], refuse = true, true
					}
				}
				if refuse && senderFault {
					failed = append(failed, map[string]any{"Id": id, "Code": "InvalidMessageContents", "Message": "bad body", "SenderFault": true})
					continue
				}
				if refuse {
					failed = append(failed, map[string]any{"Id": id, "Code": "InternalError", "Message": "try again", "SenderFault": false})
					continue
				}
				ok = append(ok, map[string]any{"Id": id, "MessageId": "m-" + id, "MD5OfMessageBody": md5hex(msg)})
			}
			return 200, map[string]any{"Successful": ok, "Failed": failed}
		},
	})
	env := map[string]string{"AWS_ENDPOINT_URL_SQS": q.URL}
	if s3URL != "" {
		env["AWS_ENDPOINT_URL_S3"] = s3URL
	}
	awsEnv(t, env)
	return q
}

// md5hex is the digest SQS returns of a message body, which the SDK checks.
func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// putObjects serves S3 with bucket holding keys (small bodies).
func putObjects(t *testing.T, bucket string, keys ...string) *s3local.Server {
	t.Helper()
	srv := startS3(t, bucket)
	for _, k := range keys {
		_, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(`{"event_id":"` + k + `"}`),
		})
		require.NoError(t, err)
	}
	return srv
}

// announced parses every message sent and returns the keys they name.
func announced(t *testing.T, q *fakeAWS) (keys []string, groups []int) {
	t.Helper()
	for _, b := range q.bodies("SendMessageBatch") {
		entries := b["Entries"].([]any)
		groups = append(groups, len(entries))
		assert.Equal(t, ingestURL, b["QueueUrl"])
		for _, e := range entries {
			msg, err := s3event.Parse([]byte(e.(map[string]any)["MessageBody"].(string)))
			require.NoError(t, err, "every message is an S3 notification the validator reads")
			require.Len(t, msg.Objects, 1)
			o := msg.Objects[0]
			assert.Equal(t, "data-bucket", o.Bucket)
			assert.True(t, o.Created())
			assert.NotEmpty(t, o.ETag)
			assert.Positive(t, o.Size)
			assert.NotEmpty(t, o.VersionID, "the bucket is versioned: the notification names the version")
			keys = append(keys, o.Key)
		}
	}
	return keys, groups
}

func TestBackfill(t *testing.T) {
	var files []string
	for i := range 23 {
		files = append(files, fmt.Sprintf("incoming/2026/f-%02d.ndjson", i))
	}
	others := []string{"incoming/2026/readme.txt", "incoming/2026/", "incoming/2025/old.json", "quarantine/incoming/2026/x.json"}

	t.Run("announces every notified file under the prefix in groups of 10", func(t *testing.T) {
		srv := putObjects(t, "data-bucket", append(append([]string{}, files...), others...)...)
		q := fakeIngest(t, srv.URL, files[4])
		res := runOps(t, "backfill", "-bucket", "data-bucket", "-prefix", "incoming/2026/", "-queue-url", ingestURL, "-rate", "0")
		require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
		keys, groups := announced(t, q)
		// One refused entry is sent again, so it appears twice among the attempts.
		assert.ElementsMatch(t, append(append([]string{}, files...), files[4]), keys)
		for _, g := range groups {
			assert.LessOrEqual(t, g, 10)
		}
		assert.Contains(t, res.stdout, "23 files")
		assert.Contains(t, res.stdout, "Announced 23 of 23 files")
		assert.Contains(t, res.stderr, "23/23 files", "the progress bar ends complete")
	})
	t.Run("a message SQS refuses is named", func(t *testing.T) {
		srv := putObjects(t, "data-bucket", files...)
		q := fakeQueue(t, srv.URL, true, files[7])
		res := runOps(t, "backfill", "-bucket", "data-bucket", "-prefix", "incoming/2026/", "-queue-url", ingestURL, "-rate", "0")
		assert.Equal(t, 1, res.code)
		keys, _ := announced(t, q)
		assert.Len(t, keys, len(files), "a sender fault is not retried")
		assert.Contains(t, res.stdout, "Announced 22 of 23 files")
		assert.Contains(t, res.stderr, "SQS refused 1 of 23 messages: "+files[7]+" (InvalidMessageContents: bad body)")
	})
	t.Run("names the current version and leaves deleted files out", func(t *testing.T) {
		srv := putObjects(t, "data-bucket", "incoming/2026/a.json", "incoming/2026/gone.json")
		client := srv.Client()
		ctx := context.Background()
		second, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data-bucket"), Key: aws.String("incoming/2026/a.json"), Body: strings.NewReader(`{"event_id":"a2"}`)})
		require.NoError(t, err)
		_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("data-bucket"), Key: aws.String("incoming/2026/gone.json")})
		require.NoError(t, err)
		q := fakeIngest(t, srv.URL)
		res := runOps(t, "backfill", "-bucket", "data-bucket", "-prefix", "incoming/2026/", "-queue-url", ingestURL, "-rate", "0")
		require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
		keys, _ := announced(t, q)
		assert.Equal(t, []string{"incoming/2026/a.json"}, keys)
		body := q.bodies("SendMessageBatch")[0]["Entries"].([]any)[0].(map[string]any)["MessageBody"].(string)
		msg, err := s3event.Parse([]byte(body))
		require.NoError(t, err)
		assert.Equal(t, aws.ToString(second.VersionId), msg.Objects[0].VersionID, "the latest version")
	})
	t.Run("dry run sends nothing", func(t *testing.T) {
		srv := putObjects(t, "data-bucket", files...)
		q := fakeIngest(t, srv.URL)
		res := runOps(t, "backfill", "-bucket", "data-bucket", "-prefix", "incoming/2026/", "-dry-run")
		require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
		assert.Empty(t, q.received())
		assert.Contains(t, res.stdout, "23 files")
		assert.Contains(t, res.stdout, "... and 13 more")
		assert.Contains(t, res.stdout, "Dry run: nothing sent")
	})
	t.Run("a prefix outside incoming/ is refused", func(t *testing.T) {
		res := runOps(t, "backfill", "-bucket", "data-bucket", "-prefix", "quarantine/", "-queue-url", ingestURL)
		assert.Equal(t, 2, res.code)
		assert.Contains(t, res.stderr, "must start with incoming/")
	})
}
