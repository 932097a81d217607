// Package localrun runs the whole pipeline on one machine, with the same handler code and SDK
// clients as in AWS: S3 and SQS in process, the real state machine definition run by the local
// interpreter, and Snowflake through the real driver against the emulator over DuckDB.
package localrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
	scripts "github.com/keyless-etl/s3-snowflake-loader/sql"
)

// Options is what a person chooses on the command line.
type Options struct {
	// Dir holds the state that persists between runs: the DuckDB file, S3 objects, queued
	// messages and logs.
	Dir string
	// DataDir, when set, uploads the JSON files found there instead of the demo dataset.
	DataDir string
	// Files and Records size the generated part of the demo dataset.
	Files, Records int
	// Faults is the rate of transient faults at S3 reads, Snowflake statements and Lambda
	// invocations.
	Faults float64
	// Demo is "" (the main job), "fail" (Part I: no WIF user) or "success" (Part II).
	Demo string
	// Redrive moves the dead-letter queue back to the ingest queue before processing.
	Redrive bool
	Seed    int64
	// Progress receives a progress line now and then; nil shows none.
	Progress io.Writer
	// Timeout bounds the whole run.
	Timeout time.Duration
}

// DefaultOptions is the main job with no flags.
func DefaultOptions() Options {
	return Options{Dir: ".local", Files: 50, Records: 200, Seed: 1, Timeout: 30 * time.Minute}
}

// Validate checks the options before anything starts.
func (o Options) Validate() error {
	var problems []string
	if o.Files < 0 || o.Records < 1 && o.Files > 0 {
		problems = append(problems, "--files must be 0 or more and --records at least 1")
	}
	if o.Faults < 0 || o.Faults >= 1 {
		problems = append(problems, fmt.Sprintf("--faults %.2f must be at least 0 and below 1", o.Faults))
	}
	switch o.Demo {
	case "", "fail", "success":
	default:
		problems = append(problems, fmt.Sprintf("--demo %q must be fail or success", o.Demo))
	}
	if o.DataDir != "" {
		if fi, err := os.Stat(o.DataDir); err != nil || !fi.IsDir() {
			problems = append(problems, fmt.Sprintf("--data %s is not a folder", o.DataDir))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Run runs the pipeline once and returns what happened.
func Run(ctx context.Context, opt Options) (*Summary, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if opt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.Timeout)
		defer cancel()
	}
	started := time.Now()
	// The report reads the validator's log of this run only: what it appends from here on.
	logOffset := fileSize(filepath.Join(opt.Dir, "logs", "validator.jsonl"))
	st, err := startStack(ctx, opt)
	if err != nil {
		return nil, err
	}
	defer st.close()

	stop := st.showProgress(started)
	defer stop()
	uploaded := 0
	switch {
	case opt.Demo == "fail":
		// Part I: the Lambda's role is not trusted by any Snowflake user yet.
		if err := st.emu.ExecScript(ctx, "DROP USER IF EXISTS LAMBDA_LOADER_BOT;", nil); err != nil {
			return nil, err
		}
		if uploaded, err = st.uploadSamples(ctx); err != nil {
			return nil, err
		}
	case opt.Demo == "success":
		// Part II: create the WIF user, then redrive what Part I dead-lettered.
		if err := st.createUser(ctx); err != nil {
			return nil, err
		}
		if _, err := st.dlq.Redrive(ctx, st.ingest, 0); err != nil {
			return nil, err
		}
	default:
		if err := st.createUser(ctx); err != nil {
			return nil, err
		}
		if opt.Redrive {
			if _, err := st.dlq.Redrive(ctx, st.ingest, 0); err != nil {
				return nil, err
			}
		} else if uploaded, err = st.uploadDataset(ctx); err != nil {
			return nil, err
		}
	}

	err = st.process(ctx)
	stop()
	if err != nil {
		return nil, err
	}
	s, err := st.summary(ctx, uploaded, time.Since(started))
	if err != nil {
		return nil, err
	}
	if s.Report, err = st.writeReport(ctx, s, logOffset); err != nil {
		return nil, fmt.Errorf("the run finished, but its report could not be written: %w", err)
	}
	return s, nil
}

// fileSize is the size of the file at path, 0 when there is none.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (st *stack) createUser(ctx context.Context) error {
	return st.emu.ExecScript(ctx, scripts.LambdaWID, map[string]string{"role_arn": loaderRoleARN})
}

// process delivers every queued message to the validator and waits for the executions it
// starts to end.
func (st *stack) process(ctx context.Context) error {
	if err := st.mapping.Drain(ctx); err != nil {
		return fmt.Errorf("processing the ingest queue: %w", err)
	}
	st.sfn.Wait()
	return ctx.Err()
}

// uploadDataset puts the demo dataset (or the files of --data) under incoming/.
func (st *stack) uploadDataset(ctx context.Context) (int, error) {
	if st.opt.DataDir != "" {
		return st.uploadDir(ctx, st.opt.DataDir, "incoming/data/")
	}
	n, err := st.uploadSamples(ctx)
	if err != nil {
		return n, err
	}
	// Files go up in chunks, each processed before the next, as a steady stream of uploads
	// would be: the queue, and with it memory, stays the same size however many files a run
	// has.
	for first := 0; first < st.opt.Files; first += uploadChunk {
		last := min(first+uploadChunk, st.opt.Files)
		if err := st.uploadGenerated(ctx, first, last); err != nil {
			return n + first, err
		}
		if last < st.opt.Files {
			if err := st.mapping.Drain(ctx); err != nil {
				return n + last, err
			}
		}
	}
	return n + st.opt.Files, nil
}

// uploadChunk is how many generated files go up before the queue is worked off.
const uploadChunk = 500

// uploadGenerated uploads generated files first to last-1, eight at a time.
func (st *stack) uploadGenerated(ctx context.Context, first, last int) error {
	client := st.s3.Client()
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := first; i < last; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			var buf bytes.Buffer
			_, err := gendata.WriteNDJSON(&buf, gendata.Options{Seed: st.opt.Seed*1_000_003 + int64(i), Records: st.opt.Records})
			if err == nil {
				key := fmt.Sprintf("incoming/generated/events-%05d.ndjson", i+1)
				_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucketName), Key: aws.String(key), Body: bytes.NewReader(buf.Bytes())})
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	return firstErr
}

// uploadSamples puts the sample files of testdata/data (valid and invalid ones) under
// incoming/samples/.
func (st *stack) uploadSamples(ctx context.Context) (int, error) {
	dir, err := samplesDir()
	if err != nil {
		return 0, err
	}
	return st.uploadDir(ctx, dir, "incoming/samples/")
}

func (st *stack) uploadDir(ctx context.Context, dir, prefix string) (int, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(paths)
	client := st.s3.Client()
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucketName), Key: aws.String(prefix + filepath.ToSlash(rel)), Body: f})
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("upload %s: %w", p, err)
		}
	}
	return len(paths), nil
}

// samplesDir finds testdata/data from the working directory or one of its parents, so the
// runner works from the repository root and from a package's test.
func samplesDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "testdata", "data")
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testdata/data not found: run from the repository")
		}
		dir = parent
	}
}
