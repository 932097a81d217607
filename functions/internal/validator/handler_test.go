package validator

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfnlocal"
)

func TestAcceptedFilesStartOneExecution(t *testing.T) {
	st := newStack(t)
	a := st.putFile("valid/events-2026-11-01.ndjson")
	b := st.putFile("valid/events-2026-11-02.json")
	c := st.putFile("valid/events-2026-11-03.ndjson.gz")

	resp := st.handle(notification(t, "m1", a, b), notification(t, "m2", c))
	assert.Empty(t, failedIDs(resp))

	ins := st.inputs()
	require.Len(t, ins, 1, "three small files make one batch")
	in := ins[0]
	assert.Equal(t, "RAW_DATA", in.Table)
	assert.Equal(t, st.sfn.Executions()[0].Name, in.Name)
	require.NoError(t, in.Validate())
	var keys []string
	var records int64
	for _, f := range in.Files {
		keys = append(keys, f.Key)
		records += f.Records
		assert.NotEmpty(t, f.VersionID)
		assert.NotEmpty(t, f.ETag)
		assert.Equal(t, "AWS:AROAEXAMPLE:uploader", f.Principal)
		assert.Equal(t, "192.0.2.10", f.SourceIP)
	}
	assert.ElementsMatch(t, []string{a.Key, b.Key, c.Key}, keys)
	assert.Equal(t, int64(5+3+2), records)
}

func TestKeysAreDecodedBeforeReading(t *testing.T) {
	tests := []struct{ name, key string }{
		{name: "space", key: "incoming/daily events 2026-11-01.ndjson"},
		{name: "plus sign", key: "incoming/a+b.ndjson"},
		{name: "unicode", key: "incoming/événements-你好-🐱.ndjson"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStack(t)
			obj := st.put(tc.key, []byte(`{"event_id":"1","action":"view","timestamp":"2026-11-01T00:00:00Z"}`+"\n"))
			// The notification carries the key URL-encoded, as S3 sends it.
			resp := st.handle(notification(t, "m1", obj))
			assert.Empty(t, failedIDs(resp))
			require.Len(t, st.inputs(), 1)
			assert.Equal(t, tc.key, st.inputs()[0].Files[0].Key)
		})
	}
}

func TestSameNotificationTwiceStartsOneExecution(t *testing.T) {
	st := newStack(t)
	obj := st.putFile("valid/events-2026-11-01.ndjson")
	msg := notification(t, "m1", obj)

	assert.Empty(t, failedIDs(st.handle(msg)))
	again := msg
	again.MessageId = "m1-redelivered"
	assert.Empty(t, failedIDs(st.handle(again)))
	// And twice within one SQS batch.
	assert.Empty(t, failedIDs(st.handle(msg, again)))

	assert.Len(t, st.sfn.Executions(), 1)
	assert.Equal(t, 3, st.sfn.Calls("StartExecution"))
}

func TestEnvelopes(t *testing.T) {
	st := newStack(t)
	obj := st.putFile("valid/events-2026-11-01.ndjson")
	s3body, err := s3event.Encode([]s3event.Object{obj})
	require.NoError(t, err)
	sns, err := json.Marshal(map[string]any{
		"Type": "Notification", "MessageId": "4a5b", "TopicArn": "arn:aws:sns:us-east-1:123456789012:uploads",
		"Subject": "Amazon S3 Notification", "Message": string(s3body), "Timestamp": "2026-11-24T01:02:03.000Z",
	})
	require.NoError(t, err)
	bridge, err := json.Marshal(map[string]any{
		"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created", "source": "aws.s3",
		"account": "123456789012", "time": "2026-11-24T01:02:03Z", "region": "us-east-1",
		"resources": []string{"arn:aws:s3:::" + bucket},
		"detail": map[string]any{
			"version": "0", "bucket": map[string]any{"name": bucket},
			"object":     map[string]any{"key": obj.Key, "size": obj.Size, "etag": strings.Trim(obj.ETag, `"`), "version-id": obj.VersionID, "sequencer": obj.Sequencer},
			"request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "source-ip-address": "192.0.2.10", "reason": "PutObject",
		},
	})
	require.NoError(t, err)

	for _, tc := range []struct{ name, body string }{{"sns", string(sns)}, {"eventbridge", string(bridge)}} {
		t.Run(tc.name, func(t *testing.T) {
			resp := st.handle(events.SQSMessage{MessageId: tc.name, Body: tc.body})
			assert.Empty(t, failedIDs(resp))
		})
	}
	// Both name the same object version: one execution in all.
	require.Len(t, st.sfn.Executions(), 1)
	assert.Equal(t, obj.Key, st.inputs()[0].Files[0].Key)
}

func TestTestEventsAndOtherEventsAreAcknowledged(t *testing.T) {
	st := newStack(t)
	outside := st.put("elsewhere/events.ndjson", []byte(`{"event_id":"1","action":"view","timestamp":"2026-11-01T00:00:00Z"}`))
	removed := outside
	removed.Key, removed.EventName = "incoming/gone.ndjson", "ObjectRemoved:Delete"
	test := events.SQSMessage{MessageId: "test", Body: `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-24T01:02:03.000Z","Bucket":"landing","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}`}

	resp := st.handle(test, notification(t, "outside", outside), notification(t, "removed", removed))
	assert.Empty(t, failedIDs(resp))
	assert.Empty(t, st.sfn.Executions())
	assert.Empty(t, st.dlq.sent)
}

func TestRejectedFilesGoToQuarantineWithAReport(t *testing.T) {
	tests := []struct{ file, rule string }{
		{"invalid/missing-action.ndjson", "schema"},
		{"invalid/purchase-without-amount.ndjson", "schema"},
		{"invalid/negative-amount.json", "schema"},
		{"invalid/bad-timestamp.ndjson", "schema"},
		{"invalid/truncated.ndjson", "json"},
		{"invalid/latin1.ndjson", "utf8"},
		{"invalid/empty.json", "empty"},
		{"invalid/array-of-numbers.json", "format"},
		{"invalid/events.csv", "suffix"},
		{"invalid/broken.ndjson.gz", "gzip"},
		{"invalid/duplicate-key.ndjson", "duplicate_key"},
		{"invalid/lone-surrogate.ndjson", "lone_surrogate"},
		{"invalid/rounded-number.ndjson", "number_precision"},
		{"invalid/amount-too-large.ndjson", "schema"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			st := newStack(t)
			obj := st.putFile(tc.file)
			resp := st.handle(notification(t, "m1", obj))
			assert.Empty(t, failedIDs(resp), "a rejected file is an outcome, not a failure")
			assert.Empty(t, st.sfn.Executions(), "a rejected file is never loaded")

			qkey := "quarantine/" + strings.TrimPrefix(obj.Key, "incoming/")
			copied, ok := st.object(qkey)
			require.True(t, ok, "the file is copied to %s", qkey)
			original, _ := st.object(obj.Key)
			assert.Equal(t, original, copied)

			raw, ok := st.object(qkey + ".report.json")
			require.True(t, ok, "a report lies beside the quarantined file")
			var report gate.Report
			require.NoError(t, json.Unmarshal(raw, &report))
			assert.Equal(t, tc.rule, report.Rule)
			assert.Equal(t, obj.Key, report.Key)
			assert.Equal(t, obj.VersionID, report.VersionID)
			assert.NotEmpty(t, report.Message)
		})
	}
}

func TestGzipBombIsRejectedWithBoundedMemory(t *testing.T) {
	st := newStack(t)
	// 16 MiB of records compressed once, as one gzip member, repeated 64 times: a valid
	// multi-member gzip file of 1 GiB decompressed (about 1 MiB as stored).
	var member bytes.Buffer
	zw, err := gzip.NewWriterLevel(&member, gzip.BestCompression)
	require.NoError(t, err)
	line := []byte(`{"event_id":"1","action":"view","timestamp":"2026-11-01T00:00:00Z","pad":"` + strings.Repeat("A", 900) + `"}` + "\n")
	for written := 0; written < 16<<20; written += len(line) {
		_, err := zw.Write(line)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	buf := bytes.Repeat(member.Bytes(), 64)
	obj := st.put("incoming/bomb.ndjson.gz", buf)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp := st.handle(notification(t, "bomb", obj))
	runtime.ReadMemStats(&after)

	assert.Empty(t, failedIDs(resp))
	assert.Empty(t, st.sfn.Executions())
	raw, ok := st.object("quarantine/bomb.ndjson.gz.report.json")
	require.True(t, ok)
	var report gate.Report
	require.NoError(t, json.Unmarshal(raw, &report))
	assert.Contains(t, []string{"compression_ratio", "decompressed_size"}, report.Rule)
	// Gating 1 GiB of decompressed bytes allocates a small fraction of it in all.
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(128<<20), "bytes allocated while gating the bomb")
}

func TestThrottledReadReportsOnlyItsMessage(t *testing.T) {
	st := newStack(t)
	good := st.putFile("valid/events-2026-11-01.ndjson")
	slow := st.putFile("valid/events-2026-11-02.json")
	bad := st.putFile("invalid/missing-action.ndjson")
	st.faults.failKey(slow.Key, &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}},
		Err:      &smithy.GenericAPIError{Code: "SlowDown", Message: "Please reduce your request rate."},
	}})

	resp := st.handle(notification(t, "good", good), notification(t, "slow", slow), notification(t, "bad", bad))
	assert.Equal(t, []string{"slow"}, failedIDs(resp))
	require.Len(t, st.inputs(), 1)
	require.Len(t, st.inputs()[0].Files, 1)
	assert.Equal(t, good.Key, st.inputs()[0].Files[0].Key)
}

func TestPanicOnOneFileFailsOnlyItsMessage(t *testing.T) {
	st := newStack(t)
	good := st.putFile("valid/events-2026-11-01.ndjson")
	boom := st.putFile("valid/events-2026-11-02.json")
	st.faults.failKey(boom.Key, errDefect)

	resp := st.handle(notification(t, "good", good), notification(t, "boom", boom))
	assert.Equal(t, []string{"boom"}, failedIDs(resp), "only the file that hit the defect goes back to the queue")
	require.Len(t, st.inputs(), 1)
	require.Len(t, st.inputs()[0].Files, 1)
	assert.Equal(t, good.Key, st.inputs()[0].Files[0].Key)
	assert.Contains(t, st.logs.String(), `"outcome":"panic"`)
	assert.Contains(t, st.logs.String(), "injected defect while reading "+boom.Key)
	assert.Contains(t, st.logs.String(), "handler.go", "the log has the stack")
}

func TestDeletedObjectIsAcknowledged(t *testing.T) {
	st := newStack(t)
	obj := st.putFile("valid/events-2026-11-01.ndjson")
	obj.Key = "incoming/deleted-before-read.ndjson"
	obj.VersionID = ""
	resp := st.handle(notification(t, "m1", obj))
	assert.Empty(t, failedIDs(resp))
	assert.Empty(t, st.sfn.Executions())
	assert.Contains(t, st.logs.String(), "object no longer exists")
}

func TestNotANotificationGoesToTheDeadLetterQueue(t *testing.T) {
	st := newStack(t)
	resp := st.handle(events.SQSMessage{MessageId: "junk", Body: "Message Body"}, events.SQSMessage{MessageId: "json", Body: `{"a":"Test","b":123}`})
	assert.Empty(t, failedIDs(resp), "a message that can never succeed is not retried")
	require.Len(t, st.dlq.sent, 2)
	assert.Equal(t, "Message Body", aws.ToString(st.dlq.sent[0].MessageBody))
	assert.Equal(t, "Notification.Invalid", aws.ToString(st.dlq.sent[0].MessageAttributes["ErrorName"].StringValue))
	assert.Equal(t, "junk", aws.ToString(st.dlq.sent[0].MessageAttributes["OriginalMessageId"].StringValue))

	// When the dead-letter queue cannot take it, SQS keeps it (and its redrive policy moves it).
	st.dlq.err = io.ErrUnexpectedEOF
	resp = st.handle(events.SQSMessage{MessageId: "junk2", Body: "Message Body"})
	assert.Equal(t, []string{"junk2"}, failedIDs(resp))
}

func TestStartFailuresReportTheContributingMessages(t *testing.T) {
	st := newStack(t)
	a := st.putFile("valid/events-2026-11-01.ndjson")
	b := st.putFile("valid/events-2026-11-02.json")
	st.sfn.Inject(sfnlocal.Fault{Action: "StartExecution", Count: 100, Status: 400, Type: "ThrottlingException"})
	resp := st.handle(notification(t, "a", a), notification(t, "b", b))
	assert.ElementsMatch(t, []string{"a", "b"}, failedIDs(resp))
	assert.Empty(t, st.sfn.Executions())
}

func TestBatchCapsSplitExecutions(t *testing.T) {
	st := newStack(t, func(c *Config) { c.Caps.MaxFiles = 2 })
	var msgs []events.SQSMessage
	for _, f := range []string{"valid/events-2026-11-01.ndjson", "valid/events-2026-11-02.json", "valid/events-2026-11-03.ndjson.gz", "valid/single-event.json", "valid/events-bom-crlf.jsonl"} {
		msgs = append(msgs, notification(t, f, st.putFile(f)))
	}
	assert.Empty(t, failedIDs(st.handle(msgs...)))
	sizes := map[int]int{}
	for _, in := range st.inputs() {
		sizes[len(in.Files)]++
	}
	assert.Equal(t, map[int]int{2: 2, 1: 1}, sizes)
}

func TestDeadLetterMessageComesBackAsANotification(t *testing.T) {
	st := newStack(t)
	obj := st.putFile("valid/events-2026-11-01.ndjson")
	st.setResult(sfnlocal.Result{Status: sfnlocal.StatusFailed, Error: "Snowflake.Auth", Cause: "no user trusts the role"})
	require.Empty(t, failedIDs(st.handle(notification(t, "m1", obj))))
	first := st.inputs()[0]

	// The state machine sent first.DeadLetter to the DLQ; after the fix it is redriven.
	st.setResult(sfnlocal.Result{Status: sfnlocal.StatusSucceeded})
	resp := st.handle(events.SQSMessage{MessageId: "redriven", Body: string(first.DeadLetter)})
	assert.Empty(t, failedIDs(resp))

	ins := st.inputs()
	require.Len(t, ins, 2, "the failed batch starts again")
	assert.Equal(t, first.Name+"-r1", ins[1].Name)
	assert.Equal(t, first.Files, ins[1].Files, "the redriven message names exactly the same file versions")

	// Redriven again after it succeeded: nothing new starts.
	assert.Empty(t, failedIDs(st.handle(events.SQSMessage{MessageId: "again", Body: string(first.DeadLetter)})))
	assert.Len(t, st.inputs(), 2)
}

func TestNoNewWorkWhenTimeRunsShort(t *testing.T) {
	st := newStack(t, func(c *Config) { c.TimeMargin = time.Hour })
	obj := st.putFile("valid/events-2026-11-01.ndjson")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	resp, err := st.handler.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{notification(t, "late", obj)}})
	require.NoError(t, err)
	assert.Equal(t, []string{"late"}, failedIDs(resp))
	assert.Empty(t, st.sfn.Executions())
}

func TestMetricsLineCountsOutcomes(t *testing.T) {
	st := newStack(t)
	var out bytes.Buffer
	st.handler.Metrics, st.handler.MetricsOut = obs.NewMetrics("validator", "test"), &out
	good := st.putFile("valid/events-2026-11-01.ndjson")
	bad := st.putFile("invalid/latin1.ndjson")
	st.handle(notification(t, "good", good), notification(t, "bad", bad))

	var line map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &line), out.String())
	assert.Equal(t, 1.0, line["FilesAccepted"])
	assert.Equal(t, 1.0, line["FilesRejected"])
	assert.Equal(t, 1.0, line["BatchesStarted"])
	assert.Equal(t, float64(good.Size), line["BytesAccepted"])
	assert.Equal(t, 1.0, line["ColdStart"])
}

// TestLossyNumbersWarnLoadsAndLogs: with LOSSY_NUMBERS=warn, a file whose numbers Snowflake
// would round is loaded, and the log says which number and how it is stored.
func TestLossyNumbersWarnLoadsAndLogs(t *testing.T) {
	st := newStack(t)
	cfg := gate.DefaultConfig()
	cfg.Precision = gate.PrecisionWarn
	g, err := gate.New(cfg)
	require.NoError(t, err)
	st.handler.Gate = g
	obj := st.putFile("invalid/rounded-number.ndjson") // rejected under the default, reject
	resp := st.handle(notification(t, "m1", obj))
	assert.Empty(t, failedIDs(resp))
	require.Len(t, st.inputs(), 1, "the file is loaded")
	logs := st.logs.String()
	assert.Contains(t, logs, `"msg":"numbers will be rounded by Snowflake"`)
	assert.Contains(t, logs, `"lossy_records":1`)
	assert.Contains(t, logs, "loaded as the DOUBLE 1.2345678901234568e+41")
}
