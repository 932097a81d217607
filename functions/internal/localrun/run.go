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
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/validator"
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
	// RedriveAtEnd, with faults, redrives what reached the dead-letter queue once the run is
	// done, until the queue is empty or stops shrinking.
	RedriveAtEnd bool
	Seed         int64
	// Validator holds the validator's settings as the Lambda's environment would
	// (SCHEMA_URI, MAX_BAD_RECORDS, ROUTES, ...); the local deployment's own names win.
	Validator map[string]string
	// Progress receives a progress line now and then; nil shows none.
	Progress io.Writer
	// ProgressWidth, when set, says that Progress is a terminal and how wide it is now: the
	// line is redrawn in place and cut to fit. Unset, progress is a plain line now and then.
	ProgressWidth func() int
	// Timeout bounds the whole run.
	Timeout time.Duration

	// onExecution, when set, is called as each execution starts (tests stop a run there).
	onExecution func()
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
	// Written so that NaN, which compares false with everything, fails too.
	if !(o.Faults >= 0 && o.Faults < 1) {
		problems = append(problems, fmt.Sprintf("--faults %v must be a number at least 0 and below 1", o.Faults))
	}
	if o.RedriveAtEnd && o.Faults == 0 {
		problems = append(problems, "--redrive-at-end goes with --faults: without injected faults nothing is dead-lettered that a redrive would fix")
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
	if _, err := validator.LoadSettings(o.validatorEnv(map[string]string{"STATE_MACHINE_ARN": stateMachineARN})); err != nil {
		problems = append(problems, "the validator's settings: "+strings.TrimPrefix(err.Error(), "validator configuration: "))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// validatorEnv is the validator's environment: the deployment's names, then the settings
// a person chose.
func (o Options) validatorEnv(deployment map[string]string) func(string) string {
	return func(name string) string {
		if v, ok := deployment[name]; ok {
			return v
		}
		return o.Validator[name]
	}
}

// ErrInterrupted says that the run was stopped (Ctrl-C or --timeout) before anything was
// uploaded or processed: nothing changed.
var ErrInterrupted = errors.New("interrupted before any file was processed; nothing changed")

// Run runs the pipeline once and returns what happened. When ctx ends (Ctrl-C) or the
// timeout passes, it stops at once: what was committed stays, what was not stays queued for
// the next run, and the summary says so (Summary.Interrupted).
func Run(ctx context.Context, opt Options) (*Summary, error) {
	started := time.Now()
	ctx, st, done, err := open(ctx, opt)
	if err != nil {
		return nil, err
	}
	defer done()

	stop := st.showProgress(started)
	defer stop()
	uploaded, err := st.work(ctx)
	stop()
	if err != nil && ctx.Err() == nil {
		return nil, err
	}
	// The summary reads the tables after the run; an interrupted run still gets one, so it
	// must not use the context that ended.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	s, serr := st.summary(sctx, uploaded, time.Since(started))
	if serr != nil {
		return nil, serr
	}
	if ctx.Err() != nil {
		s.Interrupted = true
		s.InterruptedBy = "Ctrl-C"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			s.InterruptedBy = fmt.Sprintf("the --timeout of %s", opt.Timeout)
		}
	}
	if s.Report, err = st.writeReport(s); err != nil {
		return nil, fmt.Errorf("the run finished, but its report could not be written: %w", err)
	}
	return s, nil
}

// open checks opt, bounds ctx by opt.Timeout and starts the stack under it. It returns the
// bounded context and done, which closes the stack and then ends the context. A stack that
// could not start because ctx ended is ErrInterrupted.
func open(ctx context.Context, opt Options) (context.Context, *stack, func(), error) {
	if err := opt.Validate(); err != nil {
		return ctx, nil, nil, err
	}
	cancel := func() {}
	if opt.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, opt.Timeout)
	}
	st, err := startStack(ctx, opt)
	if err != nil {
		if ctx.Err() != nil {
			err = ErrInterrupted
		}
		cancel()
		return ctx, nil, nil, err
	}
	return ctx, st, func() { st.close(); cancel() }, nil
}

// work uploads what the run was asked to, and processes it.
func (st *stack) work(ctx context.Context) (uploaded int, err error) {
	opt := st.opt
	switch {
	case opt.Demo == "fail":
		// Part I: the Lambda's role is not trusted by any Snowflake user yet.
		if err := st.emu.ExecScript(ctx, "DROP USER IF EXISTS LAMBDA_LOADER_BOT;", nil); err != nil {
			return 0, err
		}
		if uploaded, err = st.uploadSamples(ctx); err != nil {
			return uploaded, err
		}
	case opt.Demo == "success":
		// Part II: create the WIF user, then redrive what Part I dead-lettered.
		if err := st.createUser(ctx); err != nil {
			return 0, err
		}
		if _, err := st.dlq.Redrive(ctx, st.ingest, 0); err != nil {
			return 0, err
		}
	default:
		if err := st.createUser(ctx); err != nil {
			return 0, err
		}
		if opt.Redrive {
			if _, err := st.dlq.Redrive(ctx, st.ingest, 0); err != nil {
				return 0, err
			}
		} else if uploaded, err = st.uploadDataset(ctx); err != nil {
			return uploaded, err
		}
	}
	if err := st.process(ctx); err != nil {
		return uploaded, err
	}
	if opt.RedriveAtEnd {
		return uploaded, st.redriveUntilEmpty(ctx)
	}
	return uploaded, nil
}

// redriveUntilEmpty redrives the dead-letter queue until it is empty, at most
// maxRedriveRounds times: injected faults are transient, so each round is a fresh chance,
// but a failure that outlasts them all needs a person.
func (st *stack) redriveUntilEmpty(ctx context.Context) error {
	for range maxRedriveRounds {
		depth, _ := st.dlq.Depth()
		if depth == 0 {
			return nil
		}
		if _, err := st.dlq.Redrive(ctx, st.ingest, 0); err != nil {
			return err
		}
		st.redriven.Add(int64(depth))
		if err := st.process(ctx); err != nil {
			return err
		}
	}
	return nil
}

const maxRedriveRounds = 5

func (st *stack) createUser(ctx context.Context) error {
	return st.emu.ExecScript(ctx, scripts.LambdaWID, map[string]string{"role_arn": loaderRoleARN})
}

// process delivers every queued message to the validator and waits for the executions it
// starts to end.
func (st *stack) process(ctx context.Context) error {
	err := st.mapping.Drain(ctx)
	// Executions end with the run's context, so this wait is short when the run is stopped.
	st.sfn.Wait()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("processing the ingest queue: %w", err)
	}
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
			// Loads wait for the two loader containers; without a bound, executions of a
			// large dataset would pile up, each holding its batch.
			if err := st.waitForLoads(ctx, maxPendingLoads); err != nil {
				return n + last, err
			}
		}
	}
	return n + st.opt.Files, nil
}

// uploadChunk is how many generated files go up before the queue is worked off;
// maxPendingLoads is how many executions may still be running when the next chunk goes up.
const (
	uploadChunk     = 500
	maxPendingLoads = 8
)

// waitForLoads waits until at most n executions are running.
func (st *stack) waitForLoads(ctx context.Context, n int) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for st.sfn.Running() > n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

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
				err = st.noteSameContent(ctx, key, bytes.NewReader(buf.Bytes()))
			}
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
		key := prefix + filepath.ToSlash(rel)
		if err := st.noteSameContent(ctx, key, f); err != nil {
			f.Close()
			return 0, fmt.Errorf("read %s: %w", p, err)
		}
		_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucketName), Key: aws.String(key), Body: f})
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
