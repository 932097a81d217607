package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/announce"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/quarantine"
)

const quarantineHelp = `
Lists the files the validator rejected recently, newest first: when, the rule the file
broke and its first problem (line and record), read from the .report.json the validator
writes beside each quarantined copy. 'quarantine-show KEY' prints one whole report.`

func runQuarantineList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quarantine", "-bucket BUCKET [-since 24h] [-limit 50]", quarantineHelp, stderr)
	bucket := fs.String("bucket", "", "the data bucket, e.g. the stack's DataBucketName output (required)")
	since := fs.Duration("since", 24*time.Hour, "list reports written within this long")
	limit := fs.Int("limit", 50, "list at most this many, newest first")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *bucket == "" {
		return usagef("-bucket is required")
	}
	c, err := s3Client(ctx)
	if err != nil {
		return err
	}
	l := quarantine.DefaultLayout(*bucket)
	entries, err := quarantine.Recent(ctx, c, l, time.Now().Add(-*since), *limit)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		fmt.Fprintf(stdout, "No file was rejected in the last %s (no report under s3://%s/%s).\n", *since, l.Bucket, l.Quarantine)
		return nil
	}
	quarantine.WriteList(stdout, entries)
	fmt.Fprintf(stdout, "\n%d rejected in the last %s. 'task aws:quarantine-show KEY=<file>' prints a report; after fixing the cause (not the file), 'task aws:resubmit KEY=<file>' loads it.\n", len(entries), *since)
	return nil
}

func runQuarantineShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quarantine-show", "-bucket BUCKET KEY", "Prints the quarantine report of one rejected file, named by its upload key (incoming/...), its quarantined copy or its report.", stderr)
	bucket := fs.String("bucket", "", "the data bucket (required)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *bucket == "" || fs.NArg() != 1 {
		return usagef("give -bucket and one KEY")
	}
	c, err := s3Client(ctx)
	if err != nil {
		return err
	}
	_, raw, err := quarantine.Read(ctx, c, quarantine.DefaultLayout(*bucket), fs.Arg(0))
	if err != nil {
		return err
	}
	return quarantine.WriteReport(stdout, raw)
}

const resubmitHelp = `
Announces a rejected file again, as S3 announced its upload, once the cause of its rejection
is fixed outside the file (a schema change, a new route or table, a raised limit). The
validator checks it again: it loads, or it is quarantined again with a fresh report. A file
whose content was wrong needs no resubmit: upload the corrected file, which S3 announces.`

func runResubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("resubmit", "-bucket BUCKET -queue-url URL KEY", resubmitHelp, stderr)
	bucket := fs.String("bucket", "", "the data bucket (required)")
	queueURL := fs.String("queue-url", "", "the ingest queue, e.g. the stack's IngestQueueUrl output (required)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *bucket == "" || *queueURL == "" || fs.NArg() != 1 {
		return usagef("give -bucket, -queue-url and one KEY")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	return resubmit(ctx, s3.NewFromConfig(cfg), sqs.NewFromConfig(cfg), quarantine.DefaultLayout(*bucket), *queueURL, fs.Arg(0), stdout)
}

func resubmit(ctx context.Context, c quarantine.Client, q announce.Sender, l quarantine.Layout, queueURL, key string, stdout io.Writer) error {
	obj, r, changed, err := quarantine.Original(ctx, c, l, key)
	if err != nil {
		return err
	}
	if _, err := announce.Send(ctx, q, []announce.Object{obj}, announce.Options{Bucket: l.Bucket, QueueURL: queueURL}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Announced s3://%s/%s again (rejected for %s: %s).\n", l.Bucket, obj.Key, r.Rule, quarantine.FirstProblem(r))
	if changed {
		fmt.Fprintln(stdout, "The file was uploaded again since it was rejected: its current content is checked, and was announced by its upload already.")
	}
	fmt.Fprintln(stdout, "Follow it with 'task aws:logs': it loads, or a new report replaces the old one.")
	return nil
}

func s3Client(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return s3.NewFromConfig(cfg), nil
}
