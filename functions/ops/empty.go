package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const emptyBucketHelp = `
Deletes every object version and every delete marker in a bucket, which is what S3 needs
before it lets a versioned bucket be deleted (the data bucket keeps every version, so a
plain 'aws s3 rm --recursive' only adds delete markers). Deletes 1,000 keys per request.

This loses the files for good: it refuses to run without -yes.`

func runEmptyBucket(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("empty-bucket", "-bucket B -yes", emptyBucketHelp, stderr)
	bucket := fs.String("bucket", "", "bucket to empty (required)")
	yes := fs.Bool("yes", false, "confirm that every version of every object is to be deleted")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *bucket == "":
		return usagef("-bucket is required")
	case !*yes:
		return usagef("this deletes every version of every object in %s: add -yes to confirm", *bucket)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(cfg)

	var deleted int
	pages := s3.NewListObjectVersionsPaginator(client, &s3.ListObjectVersionsInput{Bucket: bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list versions in %s: %w", *bucket, err)
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Versions)+len(page.DeleteMarkers))
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		// A page holds at most 1,000 versions plus markers; DeleteObjects takes 1,000 keys.
		for len(ids) > 0 {
			n := min(len(ids), 1000)
			out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: bucket,
				Delete: &types.Delete{Objects: ids[:n], Quiet: aws.Bool(true)},
			})
			if err != nil {
				return fmt.Errorf("delete versions in %s: %w", *bucket, err)
			}
			if len(out.Errors) > 0 {
				e := out.Errors[0]
				return fmt.Errorf("delete %s (version %s) in %s: %s: %s (and %d more errors)",
					aws.ToString(e.Key), aws.ToString(e.VersionId), *bucket, aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
			}
			deleted += n
			fmt.Fprintf(stderr, "\rdeleted %d versions", deleted)
			ids = ids[n:]
		}
	}
	if deleted > 0 {
		fmt.Fprintln(stderr)
	}
	fmt.Fprintf(stdout, "emptied s3://%s: deleted %d object versions and delete markers\n", *bucket, deleted)
	return nil
}
