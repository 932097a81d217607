package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEmptyBucketDeletesVersionsAndMarkers(t *testing.T) {
	ctx := context.Background()
	srv := startS3(t, "data-bucket")
	client := srv.Client()
	for _, body := range []string{"v1", "v2"} {
		for _, key := range []string{"incoming/a.json", "quarantine/b.json"} {
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data-bucket"), Key: aws.String(key), Body: strings.NewReader(body)})
			require.NoError(t, err)
		}
	}
	_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("data-bucket"), Key: aws.String("incoming/a.json")})
	require.NoError(t, err)
	before, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("data-bucket")})
	require.NoError(t, err)
	require.Len(t, before.Versions, 4)
	require.Len(t, before.DeleteMarkers, 1)

	res := runOps(t, "empty-bucket", "-bucket", "data-bucket", "-yes")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "deleted 5 object versions and delete markers")

	after, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("data-bucket")})
	require.NoError(t, err)
	assert.Empty(t, after.Versions)
	assert.Empty(t, after.DeleteMarkers)
}
