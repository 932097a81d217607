package s3local

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerRoundTrip(t *testing.T) {
	tests := []struct {
		name          string
		dir           string
		wantVersioned bool
	}{
		{name: "in memory, versioned", wantVersioned: true},
		{name: "on disk, unversioned", dir: t.TempDir()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			srv, err := Start(ctx, Options{Dir: tc.dir, Buckets: []string{"data"}})
			require.NoError(t, err)
			t.Cleanup(func() { _ = srv.Close() })
			c := srv.Client()

			put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("incoming/a b.json"), Body: strings.NewReader(`{"a":1}`)})
			require.NoError(t, err)
			assert.Equal(t, tc.wantVersioned, aws.ToString(put.VersionId) != "")

			got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("incoming/a b.json"), VersionId: put.VersionId})
			require.NoError(t, err)
			body, err := io.ReadAll(got.Body)
			require.NoError(t, err)
			assert.Equal(t, `{"a":1}`, string(body))
			assert.Equal(t, aws.ToString(put.ETag), aws.ToString(got.ETag))
		})
	}
}
