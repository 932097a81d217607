package s3event

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeWritesS3Shape(t *testing.T) {
	objs := []Object{
		{
			Bucket: "acme-events-prod", Key: "incoming/Q2 export/c++ & <more>/データ.json",
			Size: 48213, ETag: "5d41402abc4b2a76b9719d911017c592", VersionID: "3HL4kqtJ", Sequencer: "00665ADA6E1F4B2C91",
			EventName: "ObjectCreated:Put", EventTime: time.Date(2024, 6, 1, 8, 15, 42, 137_000_000, time.UTC),
			PrincipalID: "AWS:AROAEXAMPLE:bot", SourceIP: "203.0.113.24", Region: "eu-west-1",
		},
		{
			// An empty object still has its size written, as S3 does for created objects.
			Bucket: "b", Key: "empty.json", EventName: "ObjectCreated:Copy",
			EventTime: time.Date(2024, 6, 1, 8, 0, 0, 0, time.FixedZone("CEST", 2*3600)),
		},
		{
			Bucket: "b", Key: "gone.json", Sequencer: "01", EventName: "ObjectRemoved:Delete",
			EventTime: time.Date(2024, 6, 1, 9, 0, 0, 123_456_789, time.UTC),
		},
	}
	got, err := Encode(objs)
	require.NoError(t, err)
	want := `{"Records":[` +
		`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1","eventTime":"2024-06-01T08:15:42.137Z","eventName":"ObjectCreated:Put",` +
		`"userIdentity":{"principalId":"AWS:AROAEXAMPLE:bot"},"requestParameters":{"sourceIPAddress":"203.0.113.24"},` +
		`"s3":{"s3SchemaVersion":"1.0","bucket":{"name":"acme-events-prod"},"object":{"key":"incoming/Q2+export/c%2B%2B+%26+%3Cmore%3E/%E3%83%87%E3%83%BC%E3%82%BF.json",` +
		`"size":48213,"eTag":"5d41402abc4b2a76b9719d911017c592","versionId":"3HL4kqtJ","sequencer":"00665ADA6E1F4B2C91"}}},` +
		`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"","eventTime":"2024-06-01T06:00:00.000Z","eventName":"ObjectCreated:Copy",` +
		`"userIdentity":{"principalId":""},"requestParameters":{"sourceIPAddress":""},` +
		`"s3":{"s3SchemaVersion":"1.0","bucket":{"name":"b"},"object":{"key":"empty.json","size":0}}},` +
		`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"","eventTime":"2024-06-01T09:00:00.123456789Z","eventName":"ObjectRemoved:Delete",` +
		`"userIdentity":{"principalId":""},"requestParameters":{"sourceIPAddress":""},` +
		`"s3":{"s3SchemaVersion":"1.0","bucket":{"name":"b"},"object":{"key":"gone.json","sequencer":"01"}}}` +
		`]}`
	assert.Equal(t, want, string(got))
	assert.True(t, json.Valid(got))
}

func TestEncodeKey(t *testing.T) {
	tests := []struct {
		key  string
		want string
	}{
		{"plain/key-1_2.json", "plain/key-1_2.json"},
		{"red flower.jpg", "red+flower.jpg"},
		{"c++", "c%2B%2B"},
		{"100%", "100%25"},
		{"a@b", "a%40b"},
		{"x*y~z", "x*y%7Ez"},
		{"q?a=1&b=2#f", "q%3Fa%3D1%26b%3D2%23f"},
		{"你家娃🐱.png", "%E4%BD%A0%E5%AE%B6%E5%A8%83%F0%9F%90%B1.png"},
		{"tab\there", "tab%09here"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			assert.Equal(t, tc.want, encodeKey(tc.key))
			back, err := decodeKey(tc.want)
			require.Nil(t, err)
			assert.Equal(t, tc.key, back)
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	ok := Object{Bucket: "b", Key: "k", EventName: "ObjectCreated:Put", EventTime: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		name   string
		mutate func(o *Object)
		want   string
	}{
		{"no bucket", func(o *Object) { o.Bucket = "" }, "bucket is empty"},
		{"no key", func(o *Object) { o.Key = "" }, "key is empty"},
		{"no event name", func(o *Object) { o.EventName = "" }, "event name is empty"},
		{"prefixed event name", func(o *Object) { o.EventName = "s3:ObjectCreated:Put" }, "s3: prefix"},
		{"negative size", func(o *Object) { o.Size = -1 }, "size -1 is negative"},
		{"key too long", func(o *Object) { o.Key = strings.Repeat("k", MaxKeyBytes+1) }, "longer than the 1024 S3 allows"},
		{"key not UTF-8", func(o *Object) { o.Key = "bad\xff" }, "not valid UTF-8"},
		{"etag not UTF-8", func(o *Object) { o.ETag = "\xfe" }, "etag is not valid UTF-8"},
		{"year beyond 9999", func(o *Object) { o.EventTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside the years"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mutate(&o)
			_, err := Encode([]Object{ok, o})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "encode object 1")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := Encode(nil)
	assert.ErrorContains(t, err, "no objects")
}

// TestEncodeRoundTripProperty checks Parse(Encode(objs)) == objs over generated objects
// whose keys mix every character class S3 encodes differently.
func TestEncodeRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(20240601, 17))
	for i := range 2000 {
		objs := make([]Object, 1+rng.IntN(4))
		for j := range objs {
			objs[j] = randomObject(rng)
		}
		body, err := Encode(objs)
		require.NoError(t, err, "case %d: %#v", i, objs)
		got, err := Parse(body)
		require.NoError(t, err, "case %d: %s", i, body)
		require.Equal(t, KindS3, got.Kind)
		require.Equal(t, objs, got.Objects, "case %d: %s", i, body)
	}
}

// TestEncodeRoundTripSamples re-encodes every accepted sample and reads it back.
func TestEncodeRoundTripSamples(t *testing.T) {
	entries, err := os.ReadDir(notificationsDir)
	require.NoError(t, err)
	accepted := 0
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			msg, err := Parse(readNotification(t, e.Name()))
			if err != nil || len(msg.Objects) == 0 {
				t.Skip("not a notification with objects")
			}
			accepted++
			body, err := Encode(msg.Objects)
			require.NoError(t, err)
			back, err := Parse(body)
			require.NoError(t, err)
			assert.Equal(t, KindS3, back.Kind)
			assert.Equal(t, msg.Objects, back.Objects)
		})
	}
	assert.GreaterOrEqual(t, accepted, 9, "samples with objects")
}

var (
	keyAlphabet = []rune("abcXYZ019 +%/@&=?#:;,.-_*~!$'()[]{}<>\"\\|^`\t\n\x00\x7féü日本語你家娃🐱📦\u2028")
	eventNames  = []string{"ObjectCreated:Put", "ObjectCreated:Post", "ObjectCreated:Copy", "ObjectCreated:CompleteMultipartUpload",
		"ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated", "ObjectRestore:Completed", "LifecycleExpiration:Delete"}
)

func randomObject(rng *rand.Rand) Object {
	key := make([]rune, 1+rng.IntN(40))
	for i := range key {
		key[i] = keyAlphabet[rng.IntN(len(keyAlphabet))]
	}
	maybe := func(s string) string {
		if rng.IntN(3) == 0 {
			return ""
		}
		return s
	}
	var size int64
	switch rng.IntN(3) {
	case 1:
		size = rng.Int64N(1 << 20)
	case 2:
		size = rng.Int64()
	}
	nanos := int(rng.Int64N(1000)) * int(time.Millisecond)
	if rng.IntN(4) == 0 {
		nanos = int(rng.Int64N(int64(time.Second)))
	}
	return Object{
		Bucket:      "bucket-" + string(rune('a'+rng.IntN(26))),
		Key:         string(key),
		Size:        size,
		ETag:        maybe("d41d8cd98f00b204e9800998ecf8427e"),
		VersionID:   maybe("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"),
		Sequencer:   maybe("00665ADA6E1F4B2C91"),
		EventName:   eventNames[rng.IntN(len(eventNames))],
		EventTime:   time.Unix(rng.Int64N(253402300799), int64(nanos)).UTC(),
		PrincipalID: maybe("AWS:AROAEXAMPLE:" + string(key[:1])),
		SourceIP:    maybe("192.0.2.1"),
		Region:      maybe("eu-west-1"),
	}
}
