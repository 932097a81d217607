package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/loader"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3local"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfnlocal"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/validator"
	scripts "github.com/keyless-etl/s3-snowflake-loader/sql"
	"github.com/keyless-etl/s3-snowflake-loader/statemachine"
)

// Names of the local deployment. They mirror what `sam deploy` creates; the account is the
// documentation account that no real resource lives in.
const (
	bucketName       = "loader-landing"
	incomingPrefix   = "incoming/"
	quarantinePrefix = "quarantine/"
	account          = "000000000000"
	snowflakeAccount = "LOCALDEV"
	stateMachineARN  = "arn:aws:states:us-east-1:" + account + ":stateMachine:s3-snowflake-loader"
	loaderARN        = "arn:aws:lambda:us-east-1:" + account + ":function:s3-snowflake-loader-loader"
	loaderRoleName   = "s3-snowflake-loader-LoaderRole"
	// The Lambda role's temporary credentials: S3 and Step Functions here accept any
	// signature; the Snowflake emulator verifies the one the driver makes with them.
	accessKeyID     = "ASIALOCALLOADERROLE1"
	secretAccessKey = "local-loader-role-secret"
	sessionToken    = "local-loader-role-session-token"
)

// loaderRoleARN is the IAM role the WIF user trusts; the emulator derives it from the STS
// identity the driver presents.
const loaderRoleARN = "arn:aws:iam::" + account + ":role/" + loaderRoleName

// Timings of the local deployment. They are shorter than the deployed ones so that a message
// handed back to SQS comes round in seconds, and retry waits of the state machine run 100
// times faster; the order of events is the same.
const (
	validatorTimeout  = 10 * time.Second
	visibilityTimeout = 10 * time.Second
	maxReceiveCount   = 5
	retrySpeedUp      = 100
	// loaderContainers is the loader's reserved concurrency (LoaderConcurrency): an
	// invocation beyond it is throttled, as in AWS (throttle.go).
	loaderContainers = 2
)

// stack is the pipeline on loopback.
type stack struct {
	opt     Options
	dir     string
	s3      *s3local.Server
	ingest  *sqslocal.Queue
	dlq     *sqslocal.Queue
	sqs     *sqsFront
	emu     *sfemu.Server
	sfProxy *http.Server
	sfHost  string
	sfPort  int
	sfn     *sfnlocal.Server
	mapping *sqslocal.Mapping
	faults  *faults
	machine *asl.Machine

	validatorLog, loaderLog *tally
	logFiles                map[string]*os.File

	loaders  chan *loaderContainer
	throttle throttled
	// muted turns the bucket's notifications off, as for objects that were in the bucket
	// before the notification configuration existed (what a backfill announces).
	muted    atomic.Bool
	bindings asl.Bindings
	mu       sync.Mutex
	runs     []runRecord
	all      []*loaderContainer
}

// runRecord is what the summary keeps of one execution; the history stays out of memory.
type runRecord struct {
	Status, Error string
	Retries       int
	Files, Rows   int64
}

// loaderContainer is one warm loader: its own Snowflake session, reused across invocations.
type loaderContainer struct {
	invoke func(ctx context.Context, payload []byte) ([]byte, error)
	logins func() int64
	close  func() error
}

func startStack(ctx context.Context, opt Options) (*stack, error) {
	st := &stack{opt: opt, dir: opt.Dir, faults: newFaults(opt.Faults, opt.Seed), validatorLog: newTally(), loaderLog: newTally(), logFiles: map[string]*os.File{}}
	ok := false
	defer func() {
		if !ok {
			st.close()
		}
	}()
	if err := os.MkdirAll(filepath.Join(st.dir, "logs"), 0o755); err != nil {
		return nil, err
	}

	st.dlq = sqslocal.NewQueue(sqslocal.QueueConfig{Name: "s3-snowflake-loader-dlq", Retention: 14 * 24 * time.Hour}, nil)
	st.ingest = sqslocal.NewQueue(sqslocal.QueueConfig{
		Name: "s3-snowflake-loader-ingest", VisibilityTimeout: visibilityTimeout,
		MaxReceiveCount: maxReceiveCount, DeadLetter: st.dlq,
	}, nil)
	if err := loadQueues(st.queueFile(), st.ingest, st.dlq); err != nil {
		return nil, err
	}

	var err error
	st.s3, err = s3local.Start(ctx, s3local.Options{
		Dir: filepath.Join(st.dir, "s3"), Buckets: []string{bucketName},
		Notify: st.notify, Wrap: st.faults.s3,
	})
	if err != nil {
		return nil, err
	}
	if st.sqs, err = startSQSFront(st.ingest, st.dlq); err != nil {
		return nil, err
	}
	if err := st.startSnowflake(ctx); err != nil {
		return nil, err
	}
	if st.sfn, err = sfnlocal.Start(stateMachineARN, st.execute); err != nil {
		return nil, err
	}
	st.setEnv()

	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration for the local clients: %w", err)
	}
	if err := st.startStateMachine(ctx, awsCfg); err != nil {
		return nil, err
	}
	if err := st.startValidator(ctx, awsCfg); err != nil {
		return nil, err
	}
	ok = true
	return st, nil
}

func (st *stack) queueFile() string { return filepath.Join(st.dir, "queues.json") }

// notify is S3's event notification: ObjectCreated under incoming/ goes to the ingest queue,
// exactly as the bucket's notification configuration in template.yaml sends it.
func (st *stack) notify(obj s3event.Object) {
	if st.muted.Load() || !obj.Created() || len(obj.Key) < len(incomingPrefix) || obj.Key[:len(incomingPrefix)] != incomingPrefix {
		return
	}
	body, err := s3event.Encode([]s3event.Object{obj})
	if err != nil {
		return
	}
	st.ingest.Send(string(body), nil)
}

func (st *stack) startSnowflake(ctx context.Context) error {
	var err error
	st.emu, err = sfemu.Start(ctx, sfemu.Config{
		Path:    filepath.Join(st.dir, "snowflake.duckdb"),
		Account: snowflakeAccount,
		Identities: []sfemu.Identity{{
			AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey,
			ARN: "arn:aws:sts::" + account + ":assumed-role/" + loaderRoleName + "/s3-snowflake-loader-loader",
		}},
		Logger: st.logger("snowflake.jsonl", nil),
		// The database grows with every run; its buffers should not grow the process. At 64 MB
		// a million-row run spills to the DuckDB file and takes about a tenth longer.
		MemoryLimit: "64MB",
	})
	if err != nil {
		return fmt.Errorf("start the Snowflake emulator: %w", err)
	}
	st.sfHost, st.sfPort = st.emu.Host(), st.emu.Port()
	if st.opt.Faults > 0 {
		srv, addr, err := st.faults.snowflakeProxy(st.emu.URL())
		if err != nil {
			return err
		}
		st.sfProxy = srv
		host, port, _ := net.SplitHostPort(addr)
		st.sfHost = host
		st.sfPort, _ = strconv.Atoi(port)
	}
	return st.emu.ExecScript(ctx, scripts.Setup, nil)
}

// setEnv sets the SDK's standard variables, as Lambda sets them for a function: the role's
// credentials, the region, and the endpoints that point every client at this machine.
func (st *stack) setEnv() {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                accessKeyID,
		"AWS_SECRET_ACCESS_KEY":            secretAccessKey,
		"AWS_SESSION_TOKEN":                sessionToken,
		"AWS_REGION":                       "us-east-1",
		"AWS_EC2_METADATA_DISABLED":        "true",
		"AWS_ENDPOINT_URL_S3":              st.s3.URL,
		"AWS_ENDPOINT_URL_SFN":             st.sfn.URL,
		"AWS_ENDPOINT_URL_SQS":             st.sqs.URL,
		"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
	} {
		_ = os.Setenv(k, v)
	}
}

// validatorEnv and loaderEnv are the environments template.yaml gives the functions, for this
// machine.
func (st *stack) validatorEnv(name string) string {
	return map[string]string{
		"STATE_MACHINE_ARN":     stateMachineARN,
		"DEAD_LETTER_QUEUE_URL": st.dlq.URL(),
		"INCOMING_PREFIX":       incomingPrefix,
		"QUARANTINE_PREFIX":     quarantinePrefix,
		"VALIDATOR_TIME_MARGIN": "2s",
	}[name]
}

func (st *stack) loaderEnv(name string) string {
	return map[string]string{
		"SNOWFLAKE_ACCOUNT":  snowflakeAccount,
		"SNOWFLAKE_HOST":     st.sfHost,
		"SNOWFLAKE_PORT":     strconv.Itoa(st.sfPort),
		"SNOWFLAKE_PROTOCOL": "http",
	}[name]
}

// startStateMachine loads the real definition and warms the loader containers its Lambda
// task invokes.
func (st *stack) startStateMachine(ctx context.Context, awsCfg aws.Config) error {
	var err error
	st.machine, err = asl.Load(statemachine.Definition, map[string]string{
		"LoaderFunctionArn": loaderARN, "DeadLetterQueueUrl": st.dlq.URL(),
	})
	if err != nil {
		return err
	}
	st.loaders = make(chan *loaderContainer, loaderContainers)
	for range loaderContainers {
		c, err := st.newLoader(ctx, awsCfg)
		if err != nil {
			return err
		}
		st.all = append(st.all, c)
		st.loaders <- c
	}
	st.bindings = asl.Bindings{
		Lambda: map[string]asl.LambdaFunc{loaderARN: st.faults.lambda(st.throttle.invoke(st.loaders))},
		SQSSend: func(_ context.Context, queueURL, body string, attrs map[string]string) error {
			if queueURL != st.dlq.URL() {
				return &asl.ServiceError{Name: "SQS.AmazonSQSException", Message: "The specified queue does not exist."}
			}
			st.dlq.Send(body, attrs)
			return nil
		},
	}
	return nil
}

// execute runs one execution that the local Step Functions endpoint started, and keeps what
// the summary needs of it.
func (st *stack) execute(ctx context.Context, name string, input []byte) sfnlocal.Result {
	exec, err := st.machine.Run(ctx, st.bindings, fastClock{}, name, input)
	if err != nil {
		return sfnlocal.Result{Status: sfnlocal.StatusFailed, Error: "States.Runtime", Cause: err.Error()}
	}
	rec := runRecord{Status: exec.Status, Error: exec.Error, Retries: exec.Retries}
	rec.Files, rec.Rows = rowsOf(exec)
	st.mu.Lock()
	st.runs = append(st.runs, rec)
	st.mu.Unlock()
	return sfnlocal.Result{Status: exec.Status, Output: exec.Output, Error: exec.Error, Cause: exec.Cause}
}

// newLoader starts one loader container: the loader's handler, built the way its main builds
// it, behind the Lambda runtime's own handler adapter.
func (st *stack) newLoader(ctx context.Context, awsCfg aws.Config) (*loaderContainer, error) {
	settings, err := loader.LoadSettings(st.loaderEnv)
	if err != nil {
		return nil, err
	}
	h, err := loader.Build(ctx, settings, awsCfg, st.logger("loader.jsonl", st.loaderLog))
	if err != nil {
		return nil, err
	}
	h.MetricsOut = st.logWriter("loader.jsonl")
	rt := lambda.NewHandler(h.Handle)
	return &loaderContainer{invoke: rt.Invoke, logins: h.Logins, close: h.Close}, nil
}

func (st *stack) startValidator(ctx context.Context, awsCfg aws.Config) error {
	settings, err := validator.LoadSettings(st.validatorEnv)
	if err != nil {
		return err
	}
	h, err := validator.Build(ctx, settings, awsCfg, st.logger("validator.jsonl", st.validatorLog))
	if err != nil {
		return err
	}
	// Lambda's stdout goes to CloudWatch; here the metric lines go to the validator's log.
	h.MetricsOut = st.logWriter("validator.jsonl")
	var handler sqslocal.Handler = h.Handle
	handler = st.faults.validator(handler)
	st.mapping = sqslocal.NewMapping(st.ingest, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return handler(ctx, ev)
	}, sqslocal.MappingConfig{
		BatchSize: 100, BatchingWindow: time.Second, ReportBatchItemFailures: true,
		MaxConcurrency: 2, FunctionTimeout: validatorTimeout, FunctionName: "s3-snowflake-loader-validator",
	}, nil)
	return nil
}

// logWriter opens (once) a log file under .local/logs for appending.
func (st *stack) logWriter(file string) io.Writer {
	if f, ok := st.logFiles[file]; ok {
		return f
	}
	f, err := os.OpenFile(filepath.Join(st.dir, "logs", file), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return io.Discard
	}
	st.logFiles[file] = f
	return f
}

// logger writes a function's JSON logs under .local/logs and tallies their outcomes.
func (st *stack) logger(file string, t *tally) *slog.Logger {
	var h slog.Handler = slog.NewJSONHandler(st.logWriter(file), &slog.HandlerOptions{Level: slog.LevelInfo})
	if t != nil {
		h = countingHandler{Handler: h, tally: t}
	}
	return slog.New(h)
}

// logins adds up the Snowflake logins of every loader container.
func (st *stack) logins() int64 {
	var n int64
	for _, c := range st.all {
		n += c.logins()
	}
	return n
}

func (st *stack) executions() []runRecord {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]runRecord(nil), st.runs...)
}

func (st *stack) close() {
	if st.ingest != nil && st.dlq != nil {
		_ = saveQueues(st.queueFile(), st.ingest, st.dlq)
	}
	for _, c := range st.all {
		_ = c.close()
	}
	// Servers stop in the reverse order of their start; those never started are nil.
	if st.sfn != nil {
		_ = st.sfn.Close()
	}
	if st.sqs != nil {
		_ = st.sqs.Close()
	}
	if st.s3 != nil {
		_ = st.s3.Close()
	}
	if st.sfProxy != nil {
		_ = st.sfProxy.Close()
	}
	if st.emu != nil {
		_ = st.emu.Close()
	}
	for _, f := range st.logFiles {
		_ = f.Close()
	}
}

// fastClock is the wall clock with retry waits compressed.
type fastClock struct{ asl.SystemClock }

func (fastClock) Sleep(ctx context.Context, d time.Duration) error {
	return asl.SystemClock{}.Sleep(ctx, d/retrySpeedUp)
}

// loaderOutput is the part of the loader's result the summary reads.
type loaderOutput struct {
	Result struct {
		FilesLoaded int64 `json:"files_loaded"`
		RowsLoaded  int64 `json:"rows_loaded"`
	} `json:"result"`
}

func rowsOf(exec *asl.Execution) (files, rows int64) {
	var out loaderOutput
	if exec.Status != asl.StatusSucceeded || json.Unmarshal(exec.Output, &out) != nil {
		return 0, 0
	}
	return out.Result.FilesLoaded, out.Result.RowsLoaded
}
