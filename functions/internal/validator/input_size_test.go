package validator

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
)

// stepFunctionsInputLimit is Step Functions' limit on an execution input: 256 KiB of UTF-8.
// https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
const stepFunctionsInputLimit = 256 << 10

// worstCaseFile is the largest batch entry a file can make: S3's longest key (1,024 bytes) of
// characters a notification must percent-encode, the longest version id, and the most skipped
// records the validator allows, none of them adjacent, with 10-digit record numbers.
func worstCaseFile(i int) batch.File {
	key := "incoming/" + strings.Repeat("é", (1024-len("incoming/")-4)/2) + string(rune('a'+i%26)) + ".js"
	skip := make(batch.Skips, batch.MaxSkips)
	for j := range skip {
		skip[j] = 1_000_000_000 + int64(2*j)
	}
	return batch.File{
		Bucket: strings.Repeat("b", 63), Key: key, VersionID: strings.Repeat("v", 32), ETag: strings.Repeat("e", 32) + "-10000",
		Size: 256 << 20, Sequencer: strings.Repeat("F", 32), EventName: "ObjectCreated:CompleteMultipartUpload",
		EventTime: time.Date(2026, 12, 31, 23, 59, 59, 999_000_000, time.UTC), Principal: "AWS:" + strings.Repeat("A", 120),
		SourceIP: "2001:0db8:85a3:0000:0000:8a2e:0370:7334", Bytes: 1 << 30, Records: 1_100_000_000, Skip: skip,
	}
}

// TestWorstCaseInputFits checks that no batch the validator starts can exceed Step Functions'
// input limit: one worst-case file fits alone, and a full batch of them is split until each
// input fits.
func TestWorstCaseInputFits(t *testing.T) {
	tests := []struct {
		name  string
		files int
	}{
		{name: "one file", files: 1},
		{name: "a full batch", files: batch.DefaultCaps().MaxFiles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := make([]batch.File, tt.files)
			for i := range files {
				files[i] = worstCaseFile(i)
			}
			ins, err := (&Handler{}).inputs("RAW_DATA", files)
			require.NoError(t, err)
			var total int
			for _, in := range ins {
				body, err := json.Marshal(in)
				require.NoError(t, err)
				assert.LessOrEqual(t, len(body), stepFunctionsInputLimit, "%d files", len(in.Files))
				total += len(in.Files)
				if tt.files == 1 {
					t.Logf("worst-case single-file input: %d bytes of %d", len(body), stepFunctionsInputLimit)
				}
			}
			assert.Equal(t, tt.files, total, "every file is in one input")
		})
	}
}

func TestMaxBadRecordsIsBounded(t *testing.T) {
	arn := "arn:aws:states:us-east-1:123456789012:stateMachine:loader"
	s, err := LoadSettings(env(map[string]string{"STATE_MACHINE_ARN": arn, "MAX_BAD_RECORDS": "10000"}))
	require.NoError(t, err)
	assert.Equal(t, int64(batch.MaxSkips), s.Gate.MaxBadRecords)

	_, err = LoadSettings(env(map[string]string{"STATE_MACHINE_ARN": arn, "MAX_BAD_RECORDS": "10001"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "MAX_BAD_RECORDS")
	assert.Contains(t, err.Error(), "must be at most 10000")
}
