package s3event

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Parse runs once per SQS message in the validator; these measure it on the shapes that
// arrive most often and on the dead-letter message of a full batch.

func BenchmarkParse(b *testing.B) {
	for _, file := range []string{"s3-put-versioned.json", "s3-several-records.json", "sns-s3-put.json", "eventbridge-object-created.json"} {
		body, err := os.ReadFile(filepath.Join(notificationsDir, file))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(file, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeParse100(b *testing.B) {
	objs := make([]Object, 100)
	for i := range objs {
		objs[i] = Object{
			Bucket: "acme-events-prod", Key: "incoming/orders/2024-06-01/orders part " + string(rune('A'+i%26)) + ".ndjson",
			Size: 48213, ETag: "5d41402abc4b2a76b9719d911017c592", VersionID: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
			Sequencer: "00665ADA6E1F4B2C91", EventName: "ObjectCreated:Put",
			EventTime:   time.Date(2024, 6, 1, 8, 15, 42, 137_000_000, time.UTC),
			PrincipalID: "AWS:AROA4QWLRXGQ7EXAMPLE:ingest-bot", SourceIP: "203.0.113.24", Region: "eu-west-1",
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		body, err := Encode(objs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}
