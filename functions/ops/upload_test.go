package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3local"
)

// startS3 serves S3 in process and points the SDK's default configuration at it.
func startS3(t *testing.T, buckets ...string) *s3local.Server {
	t.Helper()
	srv, err := s3local.Start(context.Background(), s3local.Options{Buckets: buckets})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	awsEnv(t, srv.Env())
	return srv
}

// want returns the bytes gendata produces for one seed, uncompressed.
func want(t *testing.T, seed int64, records int) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := gendata.WriteNDJSON(&buf, gendata.Options{Seed: seed, Records: records})
	require.NoError(t, err)
	return buf.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

func TestBulkUpload(t *testing.T) {
	tests := []struct {
		name   string
		gzip   bool
		suffix string
	}{
		{name: "ndjson", suffix: ".ndjson"},
		{name: "gzip", gzip: true, suffix: ".ndjson.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startS3(t, "data-bucket")
			args := []string{"bulk-upload", "-bucket", "data-bucket", "-prefix", "incoming/", "-files", "5", "-records", "7", "-concurrency", "3", "-seed", "42"}
			if tt.gzip {
				args = append(args, "-gzip")
			}
			res := runOps(t, args...)
			require.Equal(t, 0, res.code, "stderr: %s", res.stderr)

			client := srv.Client()
			list, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("data-bucket")})
			require.NoError(t, err)
			require.Len(t, list.Contents, 5)
			for i, obj := range list.Contents {
				key := aws.ToString(obj.Key)
				assert.True(t, strings.HasPrefix(key, "incoming/bulk-"), key)
				assert.True(t, strings.HasSuffix(key, tt.suffix), key)
				got, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("data-bucket"), Key: obj.Key})
				require.NoError(t, err)
				body, err := io.ReadAll(got.Body)
				require.NoError(t, err)
				if tt.gzip {
					body = gunzip(t, body)
				}
				assert.Equal(t, 7, bytes.Count(body, []byte("\n")), "%s has 7 lines", key)
				// Keys sort in file order, and file i holds the events of seed 42+i.
				assert.Equal(t, string(want(t, 42+int64(i), 7)), string(body), key)
			}
			assert.Contains(t, res.stdout, "uploaded 5 files, 35 events")
			assert.Contains(t, res.stdout, "seed 42")
			assert.Contains(t, res.stderr, "5/5 files", "the progress line ends complete")
		})
	}
}

func TestBulkUploadStopsOnFailure(t *testing.T) {
	startS3(t, "data-bucket")
	res := runOps(t, "bulk-upload", "-bucket", "missing", "-files", "20", "-records", "3", "-concurrency", "2")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "stopped after 0 of 20 files")
	assert.Contains(t, res.stderr, "NoSuchBucket")
}

func TestGen(t *testing.T) {
	tests := []struct {
		name  string
		gzip  bool
		files []string
	}{
		{name: "ndjson", files: []string{"events-00001.ndjson", "events-00002.ndjson", "events-00003.ndjson"}},
		{name: "gzip", gzip: true, files: []string{"events-00001.ndjson.gz", "events-00002.ndjson.gz", "events-00003.ndjson.gz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			args := []string{"gen", "-out", dir, "-files", "3", "-records", "4", "-seed", "9"}
			if tt.gzip {
				args = append(args, "-gzip")
			}
			res := runOps(t, args...)
			require.Equal(t, 0, res.code, "stderr: %s", res.stderr)

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			assert.Equal(t, tt.files, names)
			for i, name := range names {
				body, err := os.ReadFile(filepath.Join(dir, name))
				require.NoError(t, err)
				if tt.gzip {
					body = gunzip(t, body)
				}
				assert.Equal(t, string(want(t, 9+int64(i), 4)), string(body), name)
			}
			assert.Contains(t, res.stdout, "wrote 3 files, 12 events")
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "no command", args: nil, wantCode: 2, wantErr: "Commands:"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantErr: `unknown command "frobnicate"`},
		{name: "top-level help", args: []string{"-h"}, wantCode: 0, wantErr: "bulk-upload"},
		{name: "command help", args: []string{"sfn-redrive", "-h"}, wantCode: 0, wantErr: "loads to the same result"},
		{name: "missing bucket", args: []string{"bulk-upload"}, wantCode: 2, wantErr: "-bucket is required"},
		{name: "bad flag value", args: []string{"gen", "-out", "x", "-files", "0"}, wantCode: 2, wantErr: "-files must be at least 1"},
		{name: "stray argument", args: []string{"gen", "-out", "x", "files"}, wantCode: 2, wantErr: `unexpected argument "files"`},
		{name: "missing source queue", args: []string{"dlq-redrive"}, wantCode: 2, wantErr: "-source-arn is required"},
		{name: "bad status", args: []string{"sfn-failed", "-state-machine", "arn", "-status", "RUNNING"}, wantCode: 2, wantErr: `"RUNNING" is not FAILED`},
		{name: "empty bucket needs confirmation", args: []string{"empty-bucket", "-bucket", "b"}, wantCode: 2, wantErr: "add -yes to confirm"},
		{name: "zip needs files", args: []string{"zip", "-o", "x.zip"}, wantCode: 2, wantErr: "at least one file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runOps(t, tt.args...)
			assert.Equal(t, tt.wantCode, res.code)
			assert.Contains(t, res.stderr, tt.wantErr)
		})
	}
}
