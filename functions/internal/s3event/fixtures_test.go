package s3event

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixturesEnv names the folder of real-world event samples the conformance tests read.
// The samples belong to other projects and to AWS documentation, so they are not copied
// into this repository; CI points the variable at them.
const fixturesEnv = "S3EVENT_FIXTURES"

func fixturesDir(t *testing.T) string {
	t.Helper()
	dir, ok := os.LookupEnv(fixturesEnv)
	if !ok {
		t.Skip(fixturesEnv + " is not set; the conformance suite needs the folder of real-world samples")
	}
	require.DirExists(t, dir, fixturesEnv+" must name the folder of samples")
	return dir
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(fixturesDir(t), filepath.FromSlash(name)))
	require.NoError(t, err)
	return body
}

// outcome is what Parse must make of one body: a message, or a rejection under a rule.
type outcome struct {
	message  Message
	reason   Reason
	field    string
	envelope Kind
}

func accepted(kind Kind, objs ...Object) outcome {
	return outcome{message: Message{Kind: kind, Objects: objs}}
}

func rejected(reason Reason) outcome {
	return outcome{reason: reason}
}

func (o outcome) check(t *testing.T, body []byte) {
	t.Helper()
	got, err := Parse(body)
	if o.reason != "" {
		pe := requireReason(t, err, o.reason)
		assert.Equal(t, o.envelope, pe.Envelope, "envelope of %v", err)
		if o.field != "" {
			assert.Equal(t, o.field, pe.Field, "field of %v", err)
		}
		return
	}
	require.NoError(t, err)
	assert.Equal(t, o.message, got)
}

// fixtureCase says what each file must yield. whole is Parse of the file as it stands.
// A Lambda SQS event also lists, in order, the outcome of each record's body; a bare array
// of records lists the outcome of each record wrapped in a notification of its own.
type fixtureCase struct {
	file    string
	whole   outcome
	bodies  []outcome
	records []outcome
}

func fixtureCases(t *testing.T) []fixtureCase {
	at := func(s string) time.Time { return utc(t, s) }

	happyFace := Object{
		Bucket: "sourcebucket", Key: "Happy Face.jpg", Size: 1024, ETag: "d41d8cd98f00b204e9800998ecf8427e",
		VersionID: "version", Sequencer: "Happy Sequencer", EventName: "ObjectCreated:Put",
		EventTime: at("1970-01-01T00:00:00.123Z"), PrincipalID: "EXAMPLE", SourceIP: "127.0.0.1", Region: "us-east-1",
	}
	glacierTest := Object{
		Bucket: "example-bucket", Key: "glacier-test.txt", Size: 1024, ETag: "0123456789abcdef0123456789abcdef",
		VersionID: "abcdeH0Xp66ep__QDjR76LK7Gc9X4wKO", Sequencer: "0A1B2C3D4E5F678901", EventName: "ObjectRestore:Completed",
		EventTime: at("2023-05-10T15:00:00.123Z"), PrincipalID: "EXAMPLE", SourceIP: "127.0.0.1", Region: "us-west-2",
	}
	powertoolsPut := Object{
		Bucket: "lambda-artifacts-deafc19498e3f2df", Key: "b21b84d653bb07b05b1e6b33684dc11b", Size: 1305107,
		ETag: "b21b84d653bb07b05b1e6b33684dc11b", Sequencer: "0C0F6F405D6ED209E1", EventName: "ObjectCreated:Put",
		EventTime: at("2019-09-03T19:37:27.192Z"), PrincipalID: "AWS:AIDAINPONIXQXHT3IKHL2", SourceIP: "205.255.255.255", Region: "us-east-2",
	}
	arbor := func(event, etag, sequencer, when string, size int64) Object {
		return Object{
			Bucket: "bucket-name", Key: "1.2.3.4-1514864593.00", Size: size, ETag: etag, Sequencer: sequencer,
			EventName: event, EventTime: at(when), PrincipalID: "AWS:AIDAJAL75C3RB3PKI7HKQ", SourceIP: "61.88.11.160", Region: "us-west-2",
		}
	}
	docsBridge := func(event, etag, version, sequencer, requester, ip string, size int64) Object {
		return Object{
			Bucket: "DOC-EXAMPLE-BUCKET1", Key: "example-key", Size: size, ETag: etag, VersionID: version, Sequencer: sequencer,
			EventName: event, EventTime: at("2021-11-12T00:00:00Z"), PrincipalID: requester, SourceIP: ip, Region: "ca-central-1",
		}
	}
	powertoolsBridge := func(event, etag, requester, ip, region, when string, size int64) Object {
		return Object{
			Bucket: "example-bucket", Key: "IMG_m7fzo3.jpg", Size: size, ETag: etag, Sequencer: "006408CAD69598B05E",
			EventName: event, EventTime: at(when), PrincipalID: requester, SourceIP: ip, Region: region,
		}
	}
	lambdaEvent := rejected(ReasonLambdaEvent)

	return []fixtureCase{
		// AWS documentation.
		{file: "aws-docs/eventbridge-object-created.json", whole: accepted(KindEventBridge,
			docsBridge("ObjectCreated:Put", "b1946ac92492d2347c6235b4d2611184", "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", "617f08299329d189", "123456789012", "1.2.3.4", 5))},
		{file: "aws-docs/eventbridge-object-deleted.json", whole: accepted(KindEventBridge,
			docsBridge("ObjectRemoved:DeleteMarkerCreated", "d41d8cd98f00b204e9800998ecf8427e", "1QW9g1Z99LUNbvaaYVpW9xDlOLU.qxgF", "617f0837b476e463", "123456789012", "1.2.3.4", 0))},
		{file: "aws-docs/eventbridge-object-deleted-lifecycle.json", whole: accepted(KindEventBridge,
			docsBridge("LifecycleExpiration:DeleteMarkerCreated", "d41d8cd98f00b204e9800998ecf8427e", "mtB0cV.jejK63XkRNceanNMC.qXPWLeK", "617b398000000000", "s3.amazonaws.com", "", 0))},
		{file: "aws-docs/eventbridge-object-restore-completed.json", whole: accepted(KindEventBridge,
			docsBridge("ObjectRestore:Completed", "b1946ac92492d2347c6235b4d2611184", "KKsjUC1.6gIjqtvhfg5AdMI0eCePIiT3", "", "s3.amazonaws.com", "", 5))},
		{file: "aws-docs/s3-notification-v2.1-objectcreated-put.json", whole: accepted(KindS3, Object{
			Bucket: "mybucket", Key: "HappyFace.jpg", Size: 1024, ETag: "d41d8cd98f00b204e9800998ecf8427e",
			VersionID: "096fKKXTRTtl3on89fVO.nfljtsv6qko", Sequencer: "0055AED6DCD90281E5", EventName: "ObjectCreated:Put",
			EventTime: at("1970-01-01T00:00:00Z"), PrincipalID: "AIDAJDPLRKLG7UEXAMPLE", SourceIP: "127.0.0.1", Region: "us-west-2",
		})},
		// The structure template writes size as a string and prose in eventTime.
		{file: "aws-docs/s3-notification-v2.2-structure-template.json", whole: outcome{reason: ReasonInvalidField, field: "s3.object.size"}},
		// Published with a trailing comma after the sequencer.
		{file: "aws-docs/s3-notification-v2.3-lifecycleexpiration-delete.INVALID-trailing-comma.json", whole: rejected(ReasonNotJSON)},
		{file: "aws-docs/s3-test-event.json", whole: accepted(KindTest)},

		// aws-lambda-go: keys with needless escapes, event names with the s3: prefix.
		{file: "aws-lambda-go/s3-event.json", whole: accepted(KindS3, happyFace)},
		{file: "aws-lambda-go/s3-event-with-decoded.json", whole: accepted(KindS3, happyFace)},
		{file: "aws-lambda-go/s3-glacier-event.json", whole: accepted(KindS3, glacierTest)},
		{file: "aws-lambda-go/s3-restore-event.json", whole: accepted(KindS3, glacierTest)},
		{file: "aws-lambda-go/s3-replication-event.json", whole: accepted(KindS3, Object{
			Bucket: "amzn-s3-demo-bucket1", Key: "replication-test.png", Size: 520080, ETag: "e12345ca7e88a38428305d3ff7fcb99f",
			VersionID: "abcdeH0Xp66ep__QDjR76LK7Gc9X4wKO", Sequencer: "0066DA1CBF104C0D51", EventName: "Replication:OperationFailedReplication",
			EventTime: at("2024-09-05T21:04:32.527Z"), PrincipalID: "s3.amazonaws.com", SourceIP: "s3.amazonaws.com", Region: "us-east-1",
		})},
		{file: "aws-lambda-go/s3-lifecycle-event.json", whole: accepted(KindS3, Object{
			Bucket: "example-bucket", Key: "lifecycle-test.dat", Size: 10485760, ETag: "abcd1234ef5678901234567890abcdef",
			VersionID: "lifecycleVersion123", Sequencer: "0066LIFECYCLE890", EventName: "LifecycleTransition",
			EventTime: at("2023-08-20T14:25:00.321Z"), PrincipalID: "s3.amazonaws.com", SourceIP: "s3.amazonaws.com", Region: "us-west-2",
		})},
		{file: "aws-lambda-go/s3-intelligenttier-event.json", whole: accepted(KindS3, Object{
			Bucket: "example-bucket", Key: "intelligent-tier-test.dat", Size: 5242880, ETag: "d41d8cd98f00b204e9800998ecf8427e",
			VersionID: "versionExample123", Sequencer: "0066ABC1234567890", EventName: "IntelligentTiering:TransitionAccess",
			EventTime: at("2023-11-15T10:30:00.789Z"), PrincipalID: "s3.amazonaws.com", SourceIP: "s3.amazonaws.com", Region: "us-east-1",
		})},
		{file: "aws-lambda-go/s3-test-event-from-s3_test.go.json", whole: accepted(KindTest)},
		// A Lambda SNS event has a top-level Records array too; it is not an S3 notification.
		{file: "aws-lambda-go/sns-event.json", whole: outcome{reason: ReasonLambdaEvent, field: "EventSource"}},
		{file: "aws-lambda-go/sqs-event.json", whole: lambdaEvent, bodies: []outcome{rejected(ReasonNotJSON)}},

		// aws-lambda-rust-runtime.
		{file: "aws-lambda-rust-runtime/example-s3-event.json", whole: accepted(KindS3, happyFace)},
		{file: "aws-lambda-rust-runtime/example-sqs-event-obj.json", whole: lambdaEvent, bodies: []outcome{rejected(ReasonUnknownShape)}},

		// Powertools for AWS Lambda (Python).
		{file: "powertools-python/s3Event.json", whole: accepted(KindS3, powertoolsPut)},
		{file: "powertools-python/s3EventGlacier.json", whole: accepted(KindS3, powertoolsPut)},
		{file: "powertools-python/s3EventDecodedKey.json", whole: accepted(KindS3, happyFace)},
		{file: "powertools-python/s3EventDeleteObject.json", whole: accepted(KindS3, Object{
			Bucket: "lambda-artifacts-deafc19498e3f2df", Key: "b21b84d653bb07b05b1e6b33684dc11b", Sequencer: "0C0F6F405D6ED209E1",
			EventName: "ObjectRemoved:Delete", EventTime: at("2019-09-03T19:37:27.192Z"),
			PrincipalID: "AWS:AIDAINPONIXQXHT3IKHL2", SourceIP: "205.255.255.255", Region: "us-east-2",
		})},
		{file: "powertools-python/s3EventBridgeNotificationObjectCreatedEvent.json", whole: accepted(KindEventBridge,
			powertoolsBridge("ObjectCreated:Put", "4e68adba0abe2dc8653dc3354e14c01d", "123456789012", "34.252.34.74", "eu-west-1", "2023-03-08T17:50:14Z", 184662))},
		{file: "powertools-python/s3EventBridgeNotificationObjectDeletedEvent.json", whole: accepted(KindEventBridge,
			powertoolsBridge("ObjectRemoved:DeleteMarkerCreated", "", "123456789012", "34.252.34.74", "ca-central-1", "2021-11-12T00:00:00Z", 0))},
		{file: "powertools-python/s3EventBridgeNotificationObjectExpiredEvent.json", whole: accepted(KindEventBridge,
			powertoolsBridge("LifecycleExpiration:DeleteMarkerCreated", "4e68adba0abe2dc8653dc3354e14c01d", "s3.amazonaws.com", "", "ca-central-1", "2021-11-12T00:00:00Z", 184662))},
		{file: "powertools-python/s3EventBridgeNotificationObjectRestoreCompletedEvent.json", whole: accepted(KindEventBridge,
			powertoolsBridge("ObjectRestore:Completed", "4e68adba0abe2dc8653dc3354e14c01d", "s3.amazonaws.com", "", "ca-central-1", "2021-11-12T00:00:00Z", 184662))},
		{file: "powertools-python/s3SqsEvent.json", whole: lambdaEvent, bodies: []outcome{accepted(KindS3, Object{
			Bucket: "xxx", Key: "test.pdf", Size: 104681, ETag: "2e3ad1e983318bbd8e73b080e2997980",
			VersionID: "yd3d4HaWOT2zguDLvIQLU6ptDTwKBnQV", Sequencer: "00643717F9F8B85354", EventName: "ObjectCreated:Put",
			EventTime: at("2023-04-12T20:43:38.021Z"), PrincipalID: "A1YQ72UWCM96UF", SourceIP: "93.108.161.96", Region: "us-east-1",
		})}},
		// SNS envelopes whose Message is some other publisher's JSON.
		{file: "powertools-python/snsSqsEvent.json", whole: lambdaEvent, bodies: []outcome{{reason: ReasonNotS3, envelope: KindSNS}}},
		{file: "powertools-python/snsSqsFifoEvent.json", whole: lambdaEvent, bodies: []outcome{{reason: ReasonNotS3, envelope: KindSNS}}},
		{file: "powertools-python/sqsDlqTriggerEvent.json", whole: lambdaEvent, bodies: []outcome{rejected(ReasonNotJSON)}},
		// The first body is text, the second JSON of another shape; the invalid base64 of a
		// message attribute does not matter, since only bodies are read.
		{file: "powertools-python/sqsEvent.json", whole: lambdaEvent, bodies: []outcome{rejected(ReasonNotJSON), rejected(ReasonUnknownShape)}},

		// Payloads captured from real accounts.
		{file: "third-party-real/arbor-kafka-bind/sns-envelope-s3-objectcreated-put.json", whole: accepted(KindSNS,
			arbor("ObjectCreated:Put", "9e30708dc09064bb76d8460c08cbabcb", "005A934FE6C0A58C72", "2018-02-26T00:08:07Z", 336))},
		{file: "third-party-real/arbor-kafka-bind/sns-envelope-s3-objectcreated-copy-no-etag.json", whole: accepted(KindSNS,
			arbor("ObjectCreated:Copy", "", "005A8F907BD60CAFF1", "2018-02-23T03:54:35.970Z", 336))},
		{file: "third-party-real/arbor-kafka-bind/sns-envelope-s3-objectcreated-multipart-6GiB.json", whole: accepted(KindSNS,
			arbor("ObjectCreated:CompleteMultipartUpload", "767e7a8379c0f62c39e0ceeea0e13de9-768", "005A935416CD0A0275", "2018-02-26T00:31:34.009Z", 6442450944))},
		{file: "third-party-real/arbor-kafka-bind/sns-envelope-s3-objectremoved-delete.json", whole: accepted(KindSNS,
			arbor("ObjectRemoved:Delete", "", "005A937AB75B924C8A", "2018-02-26T03:10:47.522Z", 0))},
		{file: "third-party-real/arbor-kafka-bind/sns-envelope-s3-testevent.json", whole: accepted(KindTest)},
		{file: "third-party-real/umccr-data-portal-apis/sqs-event-s3-testevent.json", whole: lambdaEvent, bodies: []outcome{accepted(KindTest)}},
		{file: "third-party-real/umccr-data-portal-apis/sqs-event-s3-objectcreated-put-versioned-gz.json", whole: lambdaEvent, bodies: []outcome{accepted(KindS3, Object{
			Bucket: "primary-data-dev", Key: "cancer_report_tables/hrd/SBJ00001__SBJ00001_MDX000001_L0000001_rerun-hrdetect.json.gz",
			Size: 170, ETag: "1870ed1a461dad0af6fd8da246399999", VersionID: "La_q0lNQXDZtGvlb_WBf3o6yUVcch4T2", Sequencer: "12347C27880044A321",
			EventName: "ObjectCreated:Put", EventTime: at("2021-04-18T12:35:17.716Z"),
			PrincipalID: "AWS:ABCD4IXYHPYNJHCREIMFQ:john.doe@example.org", SourceIP: "012.34.56.789", Region: "ap-southeast-2",
		})}},
		// A logged slice of records, not a wire message: refused whole, each record readable.
		{file: "third-party-real/e2u-lambda-s3-logrotate/s3-records-bare-array-unicode-emoji-key.json", whole: rejected(ReasonNotObject), records: []outcome{accepted(KindS3, Object{
			Bucket: "xxxx", Key: "你家娃🐱.png", Size: 1603233, ETag: "xxxx", Sequencer: "xxxxx", EventName: "ObjectCreated:Put",
			EventTime: at("2020-04-21T02:05:27.824Z"), PrincipalID: "AWS:xxxx", SourceIP: "1.1.1.1", Region: "ap-southeast-1",
		})}},
	}
}

// lambdaSQSEvent is the part of a Lambda SQS event the conformance test needs: the bodies.
type lambdaSQSEvent struct {
	Records []struct {
		Body string `json:"body"`
	} `json:"Records"`
}

func TestFixtureFiles(t *testing.T) {
	fixturesDir(t)
	for _, tc := range fixtureCases(t) {
		t.Run(tc.file, func(t *testing.T) {
			body := readFixture(t, tc.file)
			tc.whole.check(t, body)

			if tc.bodies != nil {
				var ev lambdaSQSEvent
				require.NoError(t, json.Unmarshal(body, &ev))
				require.Len(t, ev.Records, len(tc.bodies))
				for i, want := range tc.bodies {
					want.check(t, []byte(ev.Records[i].Body))
				}
			}
			if tc.records != nil {
				var records []json.RawMessage
				require.NoError(t, json.Unmarshal(body, &records))
				require.Len(t, records, len(tc.records))
				for i, want := range tc.records {
					want.check(t, []byte(`{"Records":[`+string(records[i])+`]}`))
				}
			}
		})
	}
}

// snapshotFiles are LocalStack's recordings of real AWS. They are read by the snapshot
// tests below rather than through fixtureCases.
var snapshotFiles = []string{
	"localstack-aws-recorded/test_s3_notifications_sqs.snapshot.json",
	"localstack-aws-recorded/test_s3_notifications_sns.snapshot.json",
	"localstack-aws-recorded/test_s3_notifications_eventbridge.snapshot.json",
}

// TestFixtureCoverage keeps the conformance table complete: a sample added to the folder
// must be given an expectation here.
func TestFixtureCoverage(t *testing.T) {
	dir := fixturesDir(t)
	known := map[string]bool{}
	for _, tc := range fixtureCases(t) {
		known[tc.file] = true
	}
	for _, f := range snapshotFiles {
		known[f] = true
	}
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		found = append(found, filepath.ToSlash(rel))
		return err
	})
	require.NoError(t, err)
	for _, f := range found {
		assert.True(t, known[f], "sample %s has no expectation in the conformance table", f)
		delete(known, f)
	}
	assert.Empty(t, known, "expectations for samples that are not in the folder")
}
