package sqslocal_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
)

func TestEventIsWhatLambdaDelivers(t *testing.T) {
	clock := sqslocal.NewFakeClock(epoch)
	q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, clock)
	q.Send("hello", map[string]string{
		"test_attribute_name_2": "test_attribute_value_2",
		"test_attribute_name_1": "test_attribute_value_1",
	})
	msgs := q.Receive(10, 0)
	require.Len(t, msgs, 1)

	raw, err := json.Marshal(q.Event(msgs))
	require.NoError(t, err)
	var got map[string][]map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Len(t, got["Records"], 1)
	rec := got["Records"][0]

	assert.Equal(t, msgs[0].ID, rec["messageId"])
	assert.Equal(t, msgs[0].ReceiptHandle, rec["receiptHandle"])
	assert.Equal(t, "hello", rec["body"])
	assert.Equal(t, "5d41402abc4b2a76b9719d911017c592", rec["md5OfBody"])
	// The digest of these two attributes is the sample value SQS documents.
	assert.Equal(t, "d53f3b558fe951154770f25cb63dbba9", rec["md5OfMessageAttributes"])
	assert.Equal(t, "aws:sqs", rec["eventSource"])
	assert.Equal(t, "arn:aws:sqs:us-east-1:000000000000:ingest", rec["eventSourceARN"])
	assert.Equal(t, "us-east-1", rec["awsRegion"])
	assert.Equal(t, map[string]any{
		"ApproximateReceiveCount":          "1",
		"SentTimestamp":                    millis(epoch),
		"SenderId":                         sqslocal.SenderID,
		"ApproximateFirstReceiveTimestamp": millis(epoch),
	}, rec["attributes"])
	assert.Equal(t, map[string]any{
		"stringValue":      "test_attribute_value_1",
		"stringListValues": []any{},
		"binaryListValues": []any{},
		"dataType":         "String",
	}, rec["messageAttributes"].(map[string]any)["test_attribute_name_1"])
}

func TestEventWithoutMessageAttributes(t *testing.T) {
	q := sqslocal.NewQueue(sqslocal.QueueConfig{Name: "ingest"}, sqslocal.NewFakeClock(epoch))
	q.Send("{}", nil)
	ev := q.Event(q.Receive(1, 0))
	require.Len(t, ev.Records, 1)
	assert.Empty(t, ev.Records[0].Md5OfMessageAttributes)
	assert.Empty(t, ev.Records[0].MessageAttributes)
}
