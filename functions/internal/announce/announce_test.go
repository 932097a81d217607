package announce

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
)

func TestAnnounced(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"incoming/a.json", true},
		{"incoming/a.ndjson.gz", true},
		{"incoming/a.jsonl", true},
		{"incoming/a.JSON", false}, // S3's suffix filters are case-sensitive
		{"incoming/a.csv", false},
		{"incoming/", false},
		{"incoming/a.json.bak", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			assert.Equal(t, tt.want, Announced(tt.key))
		})
	}
}

// TestNotificationIsWhatTheValidatorReads checks that the message is an S3 notification the
// validator's parser accepts, naming the object's version, ETag, size and time.
func TestNotificationIsWhatTheValidatorReads(t *testing.T) {
	modified := time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)
	body, err := Notification("data-bucket", Object{Key: "incoming/a b+c.json", VersionID: "v7", Size: 42, ETag: "abc", LastModified: modified})
	require.NoError(t, err)
	msg, err := s3event.Parse([]byte(body))
	require.NoError(t, err)
	require.Len(t, msg.Objects, 1)
	o := msg.Objects[0]
	assert.Equal(t, "data-bucket", o.Bucket)
	assert.Equal(t, "incoming/a b+c.json", o.Key, "the key survives S3's URL encoding")
	assert.Equal(t, "v7", o.VersionID)
	assert.Equal(t, "abc", o.ETag)
	assert.Equal(t, int64(42), o.Size)
	assert.True(t, o.Created())
	assert.True(t, modified.Equal(o.EventTime))
}
