package s3event

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzParse feeds arbitrary bodies to Parse. Parse must never panic, must fail only with a
// *ParseError that names a rule, and every message it accepts with objects must survive
// Encode and Parse unchanged, which is what makes a redriven dead letter safe.
func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir(notificationsDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		body, err := os.ReadFile(filepath.Join(notificationsDir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	for _, seed := range []string{
		``, `null`, `[]`, `{}`, `{"Records":[]}`, `{"Records":[null]}`,
		`{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"x\"}"}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"{}"}]}`,
		`{"detail-type":"Object Created","source":"aws.s3","time":"2024-01-01T00:00:00Z","detail":{"bucket":{"name":"b"},"object":{"key":"k"},"reason":"PutObject"}}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		msg, err := Parse(body)
		if err != nil {
			var pe *ParseError
			require.True(t, errors.As(err, &pe), "error of type %T: %v", err, err)
			require.NotEmpty(t, pe.Reason)
			require.NotEmpty(t, pe.Error())
			require.Equal(t, Message{}, msg)
			return
		}
		if msg.Kind == KindTest {
			require.Empty(t, msg.Objects)
			return
		}
		require.Contains(t, []Kind{KindS3, KindSNS, KindEventBridge}, msg.Kind)
		require.NotEmpty(t, msg.Objects)
		for _, o := range msg.Objects {
			require.NotEmpty(t, o.Bucket)
			require.NotEmpty(t, o.Key)
			require.True(t, utf8.ValidString(o.Key))
			require.LessOrEqual(t, len(o.Key), MaxKeyBytes)
			require.GreaterOrEqual(t, o.Size, int64(0))
			require.NotEmpty(t, o.EventName)
		}

		encoded, err := Encode(msg.Objects)
		require.NoError(t, err)
		back, err := Parse(encoded)
		require.NoError(t, err, "re-encoded: %s", encoded)
		require.Equal(t, KindS3, back.Kind)
		require.Equal(t, msg.Objects, back.Objects, "re-encoded: %s", encoded)
	})
}
