package s3event

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notificationsDir holds the project's own sample notifications.
const notificationsDir = "../../../testdata/notifications"

func readNotification(t *testing.T, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(notificationsDir, name))
	require.NoError(t, err)
	return body
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return at.UTC()
}

// requireReason asserts that err is a *ParseError for the given rule and returns it.
func requireReason(t *testing.T, err error, reason Reason) *ParseError {
	t.Helper()
	require.Error(t, err)
	var pe *ParseError
	require.True(t, errors.As(err, &pe), "error %v is not a *ParseError", err)
	assert.Equal(t, reason, pe.Reason, "error: %v", err)
	return pe
}

func TestParseSamples(t *testing.T) {
	tests := []struct {
		file        string
		want        Message
		wantCreated []bool
	}{
		{
			file: "s3-put-versioned.json",
			want: Message{Kind: KindS3, Objects: []Object{{
				Bucket: "acme-events-prod", Key: "incoming/orders/2024-06-01/orders-0001.ndjson",
				Size: 48213, ETag: "5d41402abc4b2a76b9719d911017c592",
				VersionID: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", Sequencer: "00665ADA6E1F4B2C91",
				EventName: "ObjectCreated:Put", EventTime: utc(t, "2024-06-01T08:15:42.137Z"),
				PrincipalID: "AWS:AROA4QWLRXGQ7EXAMPLE:ingest-bot", SourceIP: "203.0.113.24", Region: "eu-west-1",
			}}},
			wantCreated: []bool{true},
		},
		{
			file: "s3-several-records.json",
			want: Message{Kind: KindS3, Objects: []Object{
				{
					Bucket: "acme-clickstream", Key: "incoming/clicks/2024-06-02/part-00017.json",
					Size: 1022, ETag: "0cc175b9c0f1b6a831c399e269772661", Sequencer: "00665D08AE0A1B2C3D",
					EventName: "ObjectCreated:Put", EventTime: utc(t, "2024-06-02T23:59:58.004Z"),
					PrincipalID: "AWS:AIDA6ODU5DHTEXAMPLE", SourceIP: "198.51.100.7", Region: "us-east-2",
				},
				{
					Bucket: "acme-clickstream", Key: "incoming/exports/2024-06-02/full.jsonl.gz",
					Size: 3221225472, ETag: "e2fc714c4727ee9395f324cd2e7f331f-384", Sequencer: "00665D08AFD3E4F5A6",
					EventName: "ObjectCreated:CompleteMultipartUpload", EventTime: utc(t, "2024-06-02T23:59:59.871Z"),
					PrincipalID: "AWS:AROA4QWLRXGQ7EXAMPLE:nightly-export", SourceIP: "10.20.3.41", Region: "us-east-2",
				},
				{
					// A copy carries no eTag, and this bucket has no versioning.
					Bucket: "acme-clickstream", Key: "incoming/clicks/2024-06-02/part-00017-replay.json",
					Size: 1022, Sequencer: "00665D08B1C2D3E4F5",
					EventName: "ObjectCreated:Copy", EventTime: utc(t, "2024-06-03T00:00:01.250Z"),
					PrincipalID: "AWS:AROA4QWLRXGQ7EXAMPLE:replayer", SourceIP: "10.20.3.41", Region: "us-east-2",
				},
			}},
			wantCreated: []bool{true, true, true},
		},
		{
			file: "s3-key-space-as-plus.json",
			want: Message{Kind: KindS3, Objects: []Object{{
				Bucket: "acme-finance-drop", Key: "incoming/daily report 2024-06-04.json",
				Size: 2048, ETag: "92eb5ffee6ae2fec3ad71c777531578f", Sequencer: "00665EB4E8A1B2C3D4",
				EventName: "ObjectCreated:Put", EventTime: utc(t, "2024-06-04T06:30:00Z"),
				PrincipalID: "AWS:AIDAQ3EXAMPLEUPLOAD", SourceIP: "192.0.2.55", Region: "eu-central-1",
			}}},
			wantCreated: []bool{true},
		},
		{
			file: "s3-key-literal-plus.json",
			want: Message{Kind: KindS3, Objects: []Object{{
				Bucket: "acme-finance-drop", Key: "incoming/c++/build+log v2.jsonl",
				Size: 731, ETag: "4a8a08f09d37b73795649038408b5f33", Sequencer: "00665EB530B1C2D3E4",
				EventName: "ObjectCreated:Put", EventTime: utc(t, "2024-06-04T06:31:12.5Z"),
				PrincipalID: "AWS:AIDAQ3EXAMPLEUPLOAD", SourceIP: "192.0.2.55", Region: "eu-central-1",
			}}},
			wantCreated: []bool{true},
		},
		{
			file: "s3-key-unicode.json",
			want: Message{Kind: KindS3, Objects: []Object{{
				Bucket: "acme-events-apne1", Key: "incoming/日本語/データ📦.jsonl",
				Size: 90210, ETag: "8277e0910d750195b448797616e091ad",
				VersionID: "Zt.4lK9qX2mP7vR1sW8yB3nD6fH0jL5c", Sequencer: "00665FB9D3C4B5A697",
				EventName: "ObjectCreated:Put", EventTime: utc(t, "2024-06-05T01:02:03.456Z"),
				PrincipalID: "AWS:AROA4QWLRXGQ7EXAMPLE:tokyo-uploader", SourceIP: "198.51.100.200", Region: "ap-northeast-1",
			}}},
			wantCreated: []bool{true},
		},
		{
			file: "s3-key-percent20.json",
			want: Message{Kind: KindS3, Objects: []Object{{
				Bucket: "acme-events-prod", Key: "incoming/Q2 export/part 1.json.gz",
				Size: 4096, ETag: "c4ca4238a0b923820dcc509a6f75849b", Sequencer: "0066619580A9B8C7D6",
				EventName: "ObjectCreated:Post", EventTime: utc(t, "2024-06-06T12:00:00.001Z"),
				PrincipalID: "AWS:AIDA6ODU5DHTEXAMPLE", SourceIP: "203.0.113.9", Region: "eu-west-1",
			}}},
			wantCreated: []bool{true},
		},
		{
			file: "sns-s3-put.json",
			want: Message{Kind: KindSNS, Objects: []Object{{
				Bucket: "acme-partner-inbox", Key: "incoming/clicks/2024-06-07T17:45.json",
				Size: 15872, ETag: "d3b07384d113edec49eaa6238ad5ff00",
				VersionID: "w2Y.nB7kT4qL9xZ1cV6mR3sP8dF0hJ5g", Sequencer: "006663469D5E6F7A8B",
				EventName: "ObjectCreated:Put", EventTime: utc(t, "2024-06-07T17:45:09.318Z"),
				PrincipalID: "AWS:AROA4QWLRXGQ7EXAMPLE:partner-sync", SourceIP: "198.51.100.61", Region: "us-west-2",
			}}},
			wantCreated: []bool{true},
		},
		{
			file: "eventbridge-object-created.json",
			want: Message{Kind: KindEventBridge, Objects: []Object{{
				// EventBridge keys are form-urlencoded as in S3 notifications: '+' is a space, %2B a '+'.
				Bucket: "acme-archive-eun1", Key: "incoming/exports/2024-06-08 full+delta.ndjson.gz",
				Size: 734003200, ETag: "a3cca2b2aa1e3b5b3b5aad99a8529074-70",
				VersionID: "hT6.xW2pL9kZ4mQ8vB1nC5sD0fG7jR3y", Sequencer: "0066641C5F8E9D0A1B",
				EventName: "ObjectCreated:CompleteMultipartUpload", EventTime: utc(t, "2024-06-08T04:20:31Z"),
				PrincipalID: "111122223333", SourceIP: "10.40.7.19", Region: "eu-north-1",
			}}},
			wantCreated: []bool{true},
		},
		{file: "s3-test-event.json", want: Message{Kind: KindTest}},
		{file: "sns-s3-test-event.json", want: Message{Kind: KindTest}},
		{
			file: "s3-object-removed.json",
			want: Message{Kind: KindS3, Objects: []Object{{
				Bucket: "acme-events-prod", Key: "incoming/orders/2024-06-01/orders-0001.ndjson",
				Sequencer: "006665801F2E3D4C5B",
				EventName: "ObjectRemoved:Delete", EventTime: utc(t, "2024-06-09T10:11:12.131Z"),
				PrincipalID: "AWS:AROA4QWLRXGQ7EXAMPLE:cleanup-job", SourceIP: "10.0.12.34", Region: "eu-west-1",
			}}},
			wantCreated: []bool{false},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Parse(readNotification(t, tc.file))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			created := make([]bool, 0, len(got.Objects))
			for _, o := range got.Objects {
				created = append(created, o.Created())
			}
			assert.Equal(t, len(tc.wantCreated), len(created))
			if len(tc.wantCreated) > 0 {
				assert.Equal(t, tc.wantCreated, created)
			}
		})
	}
}

func TestParseRejectsSamples(t *testing.T) {
	tests := []struct {
		file string
		want Reason
	}{
		{file: "not-a-notification.json", want: ReasonUnknownShape},
		{file: "not-json.txt", want: ReasonNotJSON},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			msg, err := Parse(readNotification(t, tc.file))
			requireReason(t, err, tc.want)
			assert.Equal(t, Message{}, msg)
		})
	}
}

// oneRecord builds a one-record S3 notification around the given record members.
func oneRecord(members string) string {
	return `{"Records":[{` + members + `}]}`
}

const (
	okHead   = `"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2024-01-02T03:04:05.678Z","eventName":"ObjectCreated:Put",`
	okBucket = `"bucket":{"name":"b"}`
)

func TestParseRecordRules(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      Reason // empty: the body is accepted
		wantField string
		wantKey   string
		wantName  string
	}{
		{name: "version 2.0", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"2.1"`, `"2.0"`, 1), wantKey: "k"},
		{name: "version 2.5 (major compared only)", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"2.1"`, `"2.5"`, 1), wantKey: "k"},
		{name: "version 2.10", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"2.1"`, `"2.10"`, 1), wantKey: "k"},
		{name: "version 3.0", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"2.1"`, `"3.0"`, 1), want: ReasonUnsupportedVersion, wantField: "eventVersion"},
		{name: "version 1.0", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"2.1"`, `"1.0"`, 1), want: ReasonUnsupportedVersion, wantField: "eventVersion"},
		{name: "version 20.1", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"2.1"`, `"20.1"`, 1), want: ReasonUnsupportedVersion, wantField: "eventVersion"},
		{name: "version missing", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"eventVersion":"2.1",`, ``, 1), want: ReasonMissingField, wantField: "eventVersion"},
		{name: "version a number", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"2.1"`, `2.1`, 1), want: ReasonInvalidField, wantField: "eventVersion"},
		{name: "missing bucket name", body: oneRecord(okHead + `"s3":{"bucket":{},"object":{"key":"k"}}`), want: ReasonMissingField, wantField: "s3.bucket.name"},
		{name: "missing key", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"size":3}}`), want: ReasonMissingField, wantField: "s3.object.key"},
		{name: "missing s3 member", body: oneRecord(okHead[:len(okHead)-1]), want: ReasonMissingField, wantField: "s3.bucket.name"},
		{name: "missing eventName", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"eventName":"ObjectCreated:Put",`, ``, 1), want: ReasonMissingField, wantField: "eventName"},
		{name: "missing eventTime", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"eventTime":"2024-01-02T03:04:05.678Z",`, ``, 1), want: ReasonMissingField, wantField: "eventTime"},
		{name: "eventTime placeholder", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"2024-01-02T03:04:05.678Z"`, `"date"`, 1), want: ReasonInvalidField, wantField: "eventTime"},
		{name: "size as string", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"k","size":"12"}}`), want: ReasonInvalidField, wantField: "s3.object.size"},
		{name: "size fractional", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"k","size":1.5}}`), want: ReasonInvalidField, wantField: "s3.object.size"},
		{name: "size negative", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"k","size":-1}}`), want: ReasonInvalidField, wantField: "s3.object.size"},
		{name: "size beyond int64", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"k","size":9223372036854775808}}`), want: ReasonInvalidField, wantField: "s3.object.size"},
		{name: "versionId null", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"k","versionId":null}}`), wantKey: "k"},
		{name: "bad escape", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"100%zz"}}`), want: ReasonInvalidKey, wantField: "s3.object.key"},
		{name: "truncated escape", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"a%4"}}`), want: ReasonInvalidKey, wantField: "s3.object.key"},
		{name: "key decodes to invalid UTF-8", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"bad%FF.json"}}`), want: ReasonInvalidKey, wantField: "s3.object.key"},
		{name: "key too long", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"` + strings.Repeat("a", MaxKeyBytes+1) + `"}}`), want: ReasonInvalidKey, wantField: "s3.object.key"},
		{name: "key at the limit", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"` + strings.Repeat("%C3%A9", MaxKeyBytes/2) + `"}}`), wantKey: strings.Repeat("é", MaxKeyBytes/2)},
		{name: "needless escapes", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"glacier%2Dtest%2Etxt"}}`), wantKey: "glacier-test.txt"},
		{name: "at sign", body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"a%40b"}}`), wantKey: "a@b"},
		{name: "s3: prefix dropped", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"ObjectCreated:Put"`, `"s3:ObjectCreated:Put"`, 1), wantKey: "k", wantName: "ObjectCreated:Put"},
		{name: "eventSource other", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"aws:s3"`, `"minio:s3"`, 1), want: ReasonNotS3, wantField: "eventSource"},
		{name: "eventSource missing", body: strings.Replace(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{"key":"k"}}`), `"eventSource":"aws:s3",`, ``, 1), want: ReasonMissingField, wantField: "eventSource"},
		{name: "record not an object", body: `{"Records":[42]}`, want: ReasonInvalidField},
		{name: "record null", body: `{"Records":[null]}`, want: ReasonMissingField, wantField: "eventSource"},
		{name: "Records empty", body: `{"Records":[]}`, want: ReasonNoRecords, wantField: "Records"},
		{name: "Records null", body: `{"Records":null}`, want: ReasonNoRecords, wantField: "Records"},
		{name: "Records an object", body: `{"Records":{"eventSource":"aws:s3"}}`, want: ReasonInvalidField, wantField: "Records"},
		{name: "Lambda SQS event", body: `{"Records":[{"messageId":"m1","body":"{}","eventSource":"aws:sqs","awsRegion":"us-east-1"}]}`, want: ReasonLambdaEvent, wantField: "eventSource"},
		{name: "Lambda SNS event", body: `{"Records":[{"EventVersion":"1.0","EventSource":"aws:sns","Sns":{"Message":"hi"}}]}`, want: ReasonLambdaEvent, wantField: "EventSource"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.body))
			if tc.want != "" {
				pe := requireReason(t, err, tc.want)
				assert.Equal(t, tc.wantField, pe.Field)
				wantRecord := 0
				if tc.wantField == "Records" {
					wantRecord = -1
				}
				assert.Equal(t, wantRecord, pe.Record)
				return
			}
			require.NoError(t, err)
			require.Len(t, got.Objects, 1)
			assert.Equal(t, tc.wantKey, got.Objects[0].Key)
			if tc.wantName != "" {
				assert.Equal(t, tc.wantName, got.Objects[0].EventName)
			}
		})
	}
}

func TestParseRecordIndexInError(t *testing.T) {
	good := `{` + okHead + `"s3":{` + okBucket + `,"object":{"key":"k"}}}`
	bad := `{` + okHead + `"s3":{` + okBucket + `,"object":{}}}`
	_, err := Parse([]byte(`{"Records":[` + good + `,` + good + `,` + bad + `]}`))
	pe := requireReason(t, err, ReasonMissingField)
	assert.Equal(t, 2, pe.Record)
	assert.Equal(t, "s3.object.key", pe.Field)
	assert.Contains(t, pe.Error(), "record 2: s3.object.key:")
}

func TestParseEnvelopeRules(t *testing.T) {
	s3Body := oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"k+1"}}`)
	sns := func(typ, message string) string {
		return `{"Type":"` + typ + `","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:111122223333:t","Message":` + message + `}`
	}
	quoted := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
	eventBridge := func(source, detailType, detail string) string {
		return `{"version":"0","id":"1","detail-type":"` + detailType + `","source":"` + source + `","account":"111122223333","time":"2024-01-02T03:04:05Z","region":"eu-west-1","resources":[],"detail":` + detail + `}`
	}
	ebObject := `{"bucket":{"name":"b"},"object":{"key":"k","size":3,"etag":"e","version-id":"v","sequencer":"01"},"requester":"r","source-ip-address":"1.2.3.4"`

	tests := []struct {
		name         string
		body         string
		want         Reason // empty: accepted
		wantKind     Kind
		wantEnvelope Kind
		wantEvent    string
		wantKey      string
	}{
		{name: "SNS wrapping S3", body: sns("Notification", quoted(s3Body)), wantKind: KindSNS, wantEvent: "ObjectCreated:Put", wantKey: "k 1"},
		{name: "SNS wrapping test event", body: sns("Notification", quoted(`{"Service":"Amazon S3","Event":"s3:TestEvent"}`)), wantKind: KindTest},
		{name: "SNS wrapping other JSON", body: sns("Notification", quoted(`{"message":"hello"}`)), want: ReasonNotS3, wantEnvelope: KindSNS},
		{name: "SNS wrapping text", body: sns("Notification", quoted(`hello`)), want: ReasonNotS3, wantEnvelope: KindSNS},
		{name: "SNS wrapping SNS", body: sns("Notification", quoted(sns("Notification", `"x"`))), want: ReasonNotS3, wantEnvelope: KindSNS},
		{name: "SNS wrapping EventBridge", body: sns("Notification", quoted(eventBridge("aws.s3", "Object Created", ebObject+`,"reason":"PutObject"}`))), want: ReasonNotS3, wantEnvelope: KindSNS},
		{name: "SNS wrapping a bad S3 record", body: sns("Notification", quoted(oneRecord(okHead+`"s3":{`+okBucket+`,"object":{}}`))), want: ReasonMissingField, wantEnvelope: KindSNS},
		{name: "SNS Message as object", body: sns("Notification", s3Body), want: ReasonInvalidField},
		{name: "SNS Message missing", body: `{"Type":"Notification"}`, want: ReasonMissingField},
		{name: "SNS subscription confirmation", body: sns("SubscriptionConfirmation", `"You have chosen to subscribe"`), want: ReasonNotS3},
		{name: "test event other name", body: `{"Service":"Amazon S3","Event":"s3:OtherEvent"}`, want: ReasonUnsupportedEvent},
		{name: "test event not a string", body: `{"Service":"Amazon S3","Event":7}`, want: ReasonInvalidField},
		{name: "EventBridge put", body: eventBridge("aws.s3", "Object Created", ebObject+`,"reason":"PutObject"}`), wantKind: KindEventBridge, wantEvent: "ObjectCreated:Put", wantKey: "k"},
		{name: "EventBridge POST Object", body: eventBridge("aws.s3", "Object Created", ebObject+`,"reason":"POST Object"}`), wantKind: KindEventBridge, wantEvent: "ObjectCreated:Post", wantKey: "k"},
		{name: "EventBridge copy", body: eventBridge("aws.s3", "Object Created", ebObject+`,"reason":"CopyObject"}`), wantKind: KindEventBridge, wantEvent: "ObjectCreated:Copy", wantKey: "k"},
		{name: "EventBridge multipart", body: eventBridge("aws.s3", "Object Created", ebObject+`,"reason":"CompleteMultipartUpload"}`), wantKind: KindEventBridge, wantEvent: "ObjectCreated:CompleteMultipartUpload", wantKey: "k"},
		{name: "EventBridge created, future reason", body: eventBridge("aws.s3", "Object Created", ebObject+`,"reason":"RenameObject"}`), wantKind: KindEventBridge, wantEvent: "ObjectCreated:RenameObject", wantKey: "k"},
		{name: "EventBridge created, no reason", body: eventBridge("aws.s3", "Object Created", ebObject+`}`), want: ReasonMissingField},
		{name: "EventBridge deleted permanently", body: eventBridge("aws.s3", "Object Deleted", ebObject+`,"reason":"DeleteObject","deletion-type":"Permanently Deleted"}`), wantKind: KindEventBridge, wantEvent: "ObjectRemoved:Delete", wantKey: "k"},
		{name: "EventBridge delete marker", body: eventBridge("aws.s3", "Object Deleted", ebObject+`,"reason":"DeleteObject","deletion-type":"Delete Marker Created"}`), wantKind: KindEventBridge, wantEvent: "ObjectRemoved:DeleteMarkerCreated", wantKey: "k"},
		{name: "EventBridge lifecycle expiration", body: eventBridge("aws.s3", "Object Deleted", ebObject+`,"reason":"Lifecycle Expiration","deletion-type":"Delete Marker Created"}`), wantKind: KindEventBridge, wantEvent: "LifecycleExpiration:DeleteMarkerCreated", wantKey: "k"},
		{name: "EventBridge restore completed", body: eventBridge("aws.s3", "Object Restore Completed", ebObject+`}`), wantKind: KindEventBridge, wantEvent: "ObjectRestore:Completed", wantKey: "k"},
		{name: "EventBridge key decoded", body: eventBridge("aws.s3", "Object Created", `{"bucket":{"name":"b"},"object":{"key":"a+b%20c%2B"},"reason":"PutObject"}`), wantKind: KindEventBridge, wantEvent: "ObjectCreated:Put", wantKey: "a b c+"},
		{name: "EventBridge other source", body: eventBridge("aws.ec2", "EC2 Instance State-change Notification", `{"instance-id":"i-1"}`), want: ReasonNotS3},
		{name: "EventBridge unknown detail-type", body: eventBridge("aws.s3", "Bucket Created", `{"bucket":{"name":"b"}}`), want: ReasonUnsupportedEvent},
		{name: "EventBridge no detail", body: `{"detail-type":"Object Created","source":"aws.s3","time":"2024-01-02T03:04:05Z"}`, want: ReasonMissingField},
		{name: "EventBridge no key", body: eventBridge("aws.s3", "Object Created", `{"bucket":{"name":"b"},"object":{},"reason":"PutObject"}`), want: ReasonMissingField},
		{name: "EventBridge size as string", body: eventBridge("aws.s3", "Object Created", `{"bucket":{"name":"b"},"object":{"key":"k","size":"5"},"reason":"PutObject"}`), want: ReasonInvalidField},
		{name: "EventBridge time placeholder", body: strings.Replace(eventBridge("aws.s3", "Object Created", ebObject+`,"reason":"PutObject"}`), "2024-01-02T03:04:05Z", "date", 1), want: ReasonInvalidField},
		{name: "two shapes at once", body: `{"Records":[],"detail-type":"Object Created"}`, want: ReasonUnknownShape},
		{name: "empty object", body: `{}`, want: ReasonUnknownShape},
		{name: "lower-case records", body: `{"records":[]}`, want: ReasonUnknownShape},
		{name: "array", body: `[{"eventSource":"aws:s3"}]`, want: ReasonNotObject},
		{name: "string", body: `"Records"`, want: ReasonNotObject},
		{name: "number", body: `42`, want: ReasonNotObject},
		{name: "null", body: `null`, want: ReasonNotObject},
		{name: "empty", body: ``, want: ReasonEmpty},
		{name: "white space", body: " \n\t ", want: ReasonEmpty},
		{name: "trailing comma", body: `{"Records":[],}`, want: ReasonNotJSON},
		{name: "two documents", body: s3Body + s3Body, want: ReasonNotJSON},
		{name: "too large", body: `{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, want: ReasonTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.body))
			if tc.want != "" {
				pe := requireReason(t, err, tc.want)
				assert.Equal(t, tc.wantEnvelope, pe.Envelope)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantKind, got.Kind)
			if tc.wantKind == KindTest {
				assert.Empty(t, got.Objects)
				return
			}
			require.Len(t, got.Objects, 1)
			assert.Equal(t, tc.wantEvent, got.Objects[0].EventName)
			assert.Equal(t, tc.wantKey, got.Objects[0].Key)
		})
	}
}

func TestParseEventBridgeFields(t *testing.T) {
	body := `{"version":"0","id":"6a1b","detail-type":"Object Created","source":"aws.s3","account":"111122223333",` +
		`"time":"2024-03-04T05:06:07+02:00","region":"sa-east-1","resources":["arn:aws:s3:::b"],` +
		`"detail":{"version":"0","bucket":{"name":"b"},"object":{"key":"dir/x y.json","size":6442450944,"etag":"e-2","version-id":"v1","sequencer":"0A"},` +
		`"request-id":"R","requester":"s3.amazonaws.com","source-ip-address":"192.0.2.1","reason":"CopyObject"}}`
	got, err := Parse([]byte(body))
	require.NoError(t, err)
	assert.Equal(t, Message{Kind: KindEventBridge, Objects: []Object{{
		Bucket: "b", Key: "dir/x y.json", Size: 6442450944, ETag: "e-2", VersionID: "v1", Sequencer: "0A",
		EventName: "ObjectCreated:Copy", EventTime: utc(t, "2024-03-04T03:06:07Z"),
		PrincipalID: "s3.amazonaws.com", SourceIP: "192.0.2.1", Region: "sa-east-1",
	}}}, got)
}

func TestParseErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{
			name: "syntax error names the byte",
			body: `{"Records":[}`,
			want: "s3event: body is not JSON: invalid character '}' looking for beginning of value at byte 13 (rule not-json)",
		},
		{
			name: "unknown members are listed",
			body: `{"orderId":1,"status":"x"}`,
			want: `s3event: JSON object with members "orderId", "status" is none of: an S3 notification (Records), an SNS envelope (Type, Message), an S3 test event (Event) or an EventBridge event (detail-type) (rule unknown-shape)`,
		},
		{
			name: "SNS fault names the envelope and the record",
			body: `{"Type":"Notification","Message":"{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventVersion\":\"3.0\"}]}"}`,
			want: `s3event: in sns Message: record 0: eventVersion: is "3.0"; only major version 2 is understood (rule unsupported-version)`,
		},
		{
			name: "a long key is cut in the message",
			body: oneRecord(okHead + `"s3":{` + okBucket + `,"object":{"key":"` + strings.Repeat("x", 100) + `%"}}`),
			want: `s3event: record 0: s3.object.key: "` + strings.Repeat("x", 64) + `"…(101 bytes) is not form-urlencoded: invalid URL escape "%" (rule invalid-key)`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.body))
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestCreated(t *testing.T) {
	tests := []struct {
		event string
		want  bool
	}{
		{"ObjectCreated:Put", true},
		{"ObjectCreated:Post", true},
		{"ObjectCreated:Copy", true},
		{"ObjectCreated:CompleteMultipartUpload", true},
		{"ObjectRemoved:Delete", false},
		{"ObjectRemoved:DeleteMarkerCreated", false},
		{"ObjectRestore:Completed", false},
		{"LifecycleExpiration:Delete", false},
		{"ObjectTagging:Put", false},
		{"ObjectCreated", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			assert.Equal(t, tc.want, Object{EventName: tc.event}.Created())
		})
	}
}
