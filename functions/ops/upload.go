package main

import (
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
)

const bulkUploadHelp = `
Generates demo event files (NDJSON: one shop event per line, view, click, add_to_cart,
purchase or refund, valid against the shipped schema) and uploads them to S3, several at a
time. Each upload is an ordinary S3 PUT: under the incoming prefix it triggers the pipeline
exactly as a producer would, so this is the way to load-test the validator, the batching
and the loader.

Keys are <prefix>bulk-<UTC time>-<n>.ndjson (.ndjson.gz with -gzip), so two runs never
overwrite each other. File n holds the events of seed+n: the summary prints the seed, and
-seed with that value uploads the very same events again, under new keys.

Each file is written to a temporary file first and then uploaded, so memory stays flat for
any -records. Progress (files, MB, rate, time left) is drawn on stderr; the summary goes to
stdout. The first failed upload stops the run.`

const genHelp = `
Writes demo event files (NDJSON, valid against the shipped schema) into a local folder,
for example to feed 'go run ./functions/local --data DIR' or to inspect what bulk-upload
sends. Files are events-<n>.ndjson (.ndjson.gz with -gzip); file n holds the events of
seed+n, so the same -seed always writes the same bytes.`

// genOptions say which files to generate.
type genOptions struct {
	files, records int
	gzip           bool
	seed           int64
}

func (o *genOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&o.files, "files", 10, "number of files")
	fs.IntVar(&o.records, "records", 1000, "events per file (about 180 bytes each)")
	fs.BoolVar(&o.gzip, "gzip", false, "gzip each file (name ends in .gz)")
	fs.Int64Var(&o.seed, "seed", 0, "first random seed; 0 picks one from the clock (printed in the summary)")
}

func (o *genOptions) check() error {
	switch {
	case o.files < 1:
		return usagef("-files must be at least 1")
	case o.records < 1:
		return usagef("-records must be at least 1")
	}
	if o.seed == 0 {
		o.seed = time.Now().UnixNano()
	}
	return nil
}

func (o genOptions) name(stem string, i int) string {
	return fmt.Sprintf("%s-%05d%s", stem, i+1, o.ext())
}

func (o genOptions) ext() string {
	if o.gzip {
		return ".ndjson.gz"
	}
	return ".ndjson"
}

// write generates file i into w and returns the bytes written to w.
func (o genOptions) write(w io.Writer, i int) (int64, error) {
	opt := gendata.Options{Seed: o.seed + int64(i), Records: o.records}
	if !o.gzip {
		return gendata.WriteNDJSON(w, opt)
	}
	cw := &countingWriter{w: w}
	zw := gzip.NewWriter(cw)
	if _, err := gendata.WriteNDJSON(zw, opt); err != nil {
		return cw.n, err
	}
	err := zw.Close()
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", "-out DIR [-files N] [-records M] [-gzip] [-seed S]", genHelp, stderr)
	out := fs.String("out", "", "folder to write into (created if missing) (required)")
	var opt genOptions
	opt.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("-out is required")
	}
	if err := opt.check(); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	bar := newProgress(stderr, opt.files)
	defer bar.stop()
	for i := range opt.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := writeFile(filepath.Join(*out, opt.name("events", i)), func(w io.Writer) (int64, error) { return opt.write(w, i) })
		if err != nil {
			return err
		}
		bar.add(n)
	}
	bar.stop()
	fmt.Fprintf(stdout, "wrote %d files, %d events, %s to %s in %s; seed %d\n",
		opt.files, opt.files*opt.records, megabytes(bar.bytes()), *out, bar.elapsed().Round(time.Millisecond), opt.seed)
	return nil
}

func writeFile(path string, fill func(io.Writer) (int64, error)) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("write %s: %w", path, err)
	}
	return n, nil
}

func runBulkUpload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bulk-upload", "-bucket B [-prefix incoming/] [-files N] [-records M] [-concurrency C] [-gzip] [-seed S]", bulkUploadHelp, stderr)
	bucket := fs.String("bucket", "", "S3 bucket to upload to, e.g. the stack's BucketName output (required)")
	prefix := fs.String("prefix", "incoming/", "key prefix; incoming/ is what the pipeline watches")
	concurrency := fs.Int("concurrency", 8, "uploads in flight at once")
	var opt genOptions
	opt.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *bucket == "" {
		return usagef("-bucket is required")
	}
	if *concurrency < 1 {
		return usagef("-concurrency must be at least 1")
	}
	if err := opt.check(); err != nil {
		return err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(cfg)
	stem := *prefix + "bulk-" + time.Now().UTC().Format("20060102T150405Z")

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	bar := newProgress(stderr, opt.files)
	defer bar.stop()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(*concurrency, opt.files) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					continue
				}
				n, err := uploadOne(ctx, client, *bucket, opt.name(stem, i), opt, i)
				if err != nil {
					cancel(err)
					continue
				}
				bar.add(n)
			}
		})
	}
	for i := range opt.files {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	bar.stop()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("stopped after %d of %d files: %w", bar.count(), opt.files, err)
	}
	secs := bar.elapsed().Seconds()
	fmt.Fprintf(stdout, "uploaded %d files, %d events, %s to s3://%s/%s in %.1fs (%.1f MB/s); seed %d\n",
		opt.files, opt.files*opt.records, megabytes(bar.bytes()), *bucket, stem+"-NNNNN"+opt.ext(),
		secs, float64(bar.bytes())/1e6/max(secs, 1e-3), opt.seed)
	return nil
}

// uploadOne generates file i into a temporary file and PUTs it: a file gives the SDK a
// known length and a seekable body, which it needs to sign the payload and to retry.
func uploadOne(ctx context.Context, client *s3.Client, bucket, key string, opt genOptions, i int) (int64, error) {
	tmp, err := os.CreateTemp("", "ops-upload-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	n, err := opt.write(tmp, i)
	if err != nil {
		return 0, fmt.Errorf("generate %s: %w", key, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	contentType := "application/x-ndjson"
	if opt.gzip {
		contentType = "application/gzip"
	}
	_, err = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          tmp,
		ContentLength: aws.Int64(n),
		ContentType:   aws.String(contentType),
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 0, err
		}
		return 0, fmt.Errorf("upload s3://%s/%s: %w", bucket, key, err)
	}
	return n, nil
}
