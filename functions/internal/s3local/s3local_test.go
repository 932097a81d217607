package s3local

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
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

func TestNotifications(t *testing.T) {
	ctx := context.Background()
	var got []s3event.Object
	var mu sync.Mutex
	srv, err := Start(ctx, Options{Buckets: []string{"data"}, Notify: func(o s3event.Object) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, o)
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	c := srv.Client()

	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("incoming/a b+ü.json"), Body: strings.NewReader(`{"a":1}`)})
	require.NoError(t, err)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("data"), Key: aws.String("quarantine/copy.json"), CopySource: aws.String("data/incoming/a%20b%2B%C3%BC.json")})
	require.NoError(t, err)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("incoming/a b+ü.json")})
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2, "a read creates nothing")
	assert.Equal(t, "incoming/a b+ü.json", got[0].Key)
	assert.Equal(t, "ObjectCreated:Put", got[0].EventName)
	assert.Equal(t, int64(7), got[0].Size)
	assert.Equal(t, strings.Trim(aws.ToString(put.ETag), `"`), got[0].ETag)
	assert.Equal(t, aws.ToString(put.VersionId), got[0].VersionID)
	assert.Equal(t, "AWS:"+AccessKeyID, got[0].PrincipalID)
	assert.Equal(t, "127.0.0.1", got[0].SourceIP)
	assert.Equal(t, "ObjectCreated:Copy", got[1].EventName)
	assert.Less(t, got[0].Sequencer, got[1].Sequencer)
}

// TestCopiedFolderKeepsETags checks that objects keep their ETags when their files get new
// times, as `cp -r` of a state folder gives them, and that a changed file gets the ETag of
// its new content.
func TestCopiedFolderKeepsETags(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := Start(ctx, Options{Dir: dir, Buckets: []string{"data"}})
	require.NoError(t, err)
	c := srv.Client()
	for _, k := range []string{"incoming/a.json", "incoming/b.json"} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(k), Body: strings.NewReader(`{"key":"` + k + `"}`)})
		require.NoError(t, err)
	}
	etag := func(c *s3.Client, key string) string {
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String(key)})
		require.NoError(t, err)
		return aws.ToString(head.ETag)
	}
	before := etag(c, "incoming/a.json")
	require.NoError(t, srv.Close())

	later := time.Now().Add(time.Hour)
	for _, k := range []string{"a.json", "b.json"} {
		require.NoError(t, os.Chtimes(filepath.Join(dir, "buckets", "data", "incoming", k), later, later))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "buckets", "data", "incoming", "b.json"), []byte(`{"changed":true}`), 0o644))

	again, err := Start(ctx, Options{Dir: dir, Buckets: []string{"data"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = again.Close() })
	assert.Equal(t, before, etag(again.Client(), "incoming/a.json"), "same bytes, same ETag")
	sum := md5.Sum([]byte(`{"changed":true}`))
	assert.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, etag(again.Client(), "incoming/b.json"), "new bytes, their MD5")
}
