package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/announce"
)

const backfillHelp = `
Announces files that are already in the bucket, as S3 would announce a new upload: it lists
the objects under -prefix whose names end in a suffix the bucket notifies for (.json, .ndjson,
.jsonl, optionally .gz) and sends one S3 event notification per file to the ingest queue, in
groups of 10 (SendMessageBatch), at most -rate per second. The validator then checks and
loads them like fresh uploads; rejected files go to quarantine/ with a report.

Use it for files uploaded before the stack existed, or whose notifications were lost, or to
load again after a fix. Running it twice loads nothing twice: a load of a file that is
already loaded replaces its rows with the same rows. It is not free: every announced file is
read and checked again and its rows are written again, which runs the Snowflake warehouse
(see the README's Cost section). -dry-run lists what would be announced and sends nothing.`

func runBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backfill", "-bucket BUCKET -prefix incoming/... -queue-url URL [-rate N] [-dry-run]", backfillHelp, stderr)
	bucket := fs.String("bucket", "", "the data bucket, e.g. the stack's DataBucketName output (required)")
	prefix := fs.String("prefix", "", "key prefix to announce, under incoming/, e.g. incoming/2026/ (required)")
	queueURL := fs.String("queue-url", "", "the ingest queue, e.g. the stack's IngestQueueUrl output (required unless -dry-run)")
	perSecond := fs.Float64("rate", 50, "notifications per second; 0 sends as fast as SQS takes them")
	dryRun := fs.Bool("dry-run", false, "list the files that would be announced and send nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *bucket == "":
		return usagef("-bucket is required")
	case !strings.HasPrefix(*prefix, "incoming/"):
		return usagef("-prefix %q must start with incoming/: the validator loads only files under incoming/", *prefix)
	case *queueURL == "" && !*dryRun:
		return usagef("-queue-url is required (or -dry-run)")
	case *perSecond < 0:
		return usagef("-rate must be 0 or more")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	return backfill(ctx, s3.NewFromConfig(cfg), sqs.NewFromConfig(cfg), backfillOptions{
		bucket: *bucket, prefix: *prefix, queueURL: *queueURL, perSecond: *perSecond, dryRun: *dryRun,
	}, stdout, stderr)
}

type backfillOptions struct {
	bucket, prefix, queueURL string
	perSecond                float64
	dryRun                   bool
}

func backfill(ctx context.Context, s3c announce.Lister, q announce.Sender, opt backfillOptions, stdout, stderr io.Writer) error {
	objs, err := announce.List(ctx, s3c, opt.bucket, opt.prefix)
	if err != nil {
		return err
	}
	var total int64
	for _, o := range objs {
		total += o.Size
	}
	where := "s3://" + opt.bucket + "/" + opt.prefix
	if len(objs) == 0 {
		fmt.Fprintf(stdout, "Nothing to announce under %s: %v.\n", where, announce.ErrNothing)
		return nil
	}
	fmt.Fprintf(stdout, "%d files (%s) under %s.\n", len(objs), megabytes(total), where)
	if opt.dryRun {
		for i, o := range objs {
			if i == 10 {
				fmt.Fprintf(stdout, "  ... and %d more\n", len(objs)-10)
				break
			}
			fmt.Fprintf(stdout, "  %s (%s)\n", o.Key, megabytes(o.Size))
		}
		fmt.Fprintf(stdout, "Dry run: nothing sent. Without DRY_RUN these %d files are announced to the ingest queue.\n", len(objs))
		return nil
	}
	bar := newProgress(stderr, len(objs))
	defer bar.stop()
	sent, err := announce.Send(ctx, q, objs, announce.Options{
		Bucket: opt.bucket, QueueURL: opt.queueURL, PerSecond: opt.perSecond,
		Done: func(done []announce.Object) {
			for _, o := range done {
				bar.add(o.Size)
			}
		},
	})
	bar.stop()
	fmt.Fprintf(stdout, "Announced %d of %d files to the ingest queue in %s. Follow them with 'task aws:logs'; rejected files appear in 'task aws:quarantine'.\n",
		sent, len(objs), bar.elapsed().Round(100_000_000))
	return err
}
