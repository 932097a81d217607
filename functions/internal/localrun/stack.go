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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/gofrs/flock"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
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

	// ctx is the run's context: executions end with it, as they would be stopped.
	ctx context.Context
	// lock keeps a second run off the same state folder.
	lock *flock.Flock
	// queuesLoaded says that the saved queues were read, so saving them loses nothing.
	queuesLoaded bool
	files        *fileResults
	// notDelivered counts objects created under incoming/ that no notification filter
	// matches.
	notDelivered atomic.Int64
	// loadingRows counts the records of the batches being loaded right now; requeued the
	// batches an interruption stopped; redriven the messages redriven at the end.
	loadingRows atomic.Int64
	requeued    atomic.Int64
	redriven    atomic.Int64
	// reuploaded holds the keys uploaded again with the bytes they already had.
	reuploadMu sync.Mutex
	reuploaded map[string]bool

	loadersClosed bool
	loginsAtClose int64
}

// runRecord is what the summary keeps of one execution; the history stays out of memory.
type runRecord struct {
	Name, Status, Error string
	Retries             int
	Files, Rows         int64
	// Started and Stopped time the execution, for the run report.
	Started, Stopped time.Time
}

// loaderContainer is one warm loader: its own Snowflake session, reused across invocations.
type loaderContainer struct {
	invoke func(ctx context.Context, payload []byte) ([]byte, error)
	logins func() int64
	close  func() error
}

func startStack(ctx context.Context, opt Options) (*stack, error) {
	st := &stack{
		opt: opt, dir: opt.Dir, ctx: ctx, faults: newFaults(opt.Faults, opt.Seed),
		validatorLog: newTally(), loaderLog: newTally(), logFiles: map[string]*os.File{}, files: newFileResults(),
	}
	st.validatorLog.files = st.files
	ok := false
	defer func() {
		if !ok {
			st.close()
		}
	}()
	if err := os.MkdirAll(filepath.Join(st.dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	if err := st.lockDir(); err != nil {
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
	st.queuesLoaded = true

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
	// The summary keeps what it needs of each execution; the payloads need not stay.
	st.sfn.Lean()
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

// notify is S3's event notification: ObjectCreated under incoming/ with one of the loaded
// suffixes goes to the ingest queue, exactly as the bucket's notification configuration in
// template.yaml sends it. Another suffix under incoming/ is never announced; the summary
// lists such files as not delivered, because in AWS they would silently stay where they are.
func (st *stack) notify(obj s3event.Object) {
	if st.muted.Load() || !obj.Created() || !strings.HasPrefix(obj.Key, incomingPrefix) {
		return
	}
	if !s3local.Delivered(s3local.IngestFilters, obj.Key) {
		st.notDelivered.Add(1)
		st.files.set(obj.Key, obj.VersionID, func(f *FileResult) { f.Status = StatusNotDelivered })
		return
	}
	body, err := s3event.Encode([]s3event.Object{obj})
	if err != nil {
		return
	}
	st.ingest.Send(string(body), nil)
}

func (st *stack) startSnowflake(ctx context.Context) error {
	// The emulator's stage is an S3 location over TLS, as Snowflake's internal stages are,
	// so the loader's PUT runs the driver's S3 upload; Go's TLS trusts its certificate
	// through SSL_CERT_FILE, read once, before the first TLS connection of the process.
	cert, err := sfemu.StageCertFile()
	if err != nil {
		return fmt.Errorf("start the Snowflake emulator: %w", err)
	}
	_ = os.Setenv("SSL_CERT_FILE", cert)
	st.emu, err = sfemu.Start(ctx, sfemu.Config{
		StageLocation: "S3",
		Path:          filepath.Join(st.dir, "snowflake.duckdb"),
		Account:       snowflakeAccount,
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
		return st.snowflakeOpenError(err)
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
	if err := st.emu.ExecScript(ctx, scripts.Setup, nil); err != nil {
		return err
	}
	return st.createRouteTables(ctx)
}

// createRouteTables creates the tables that --allowed-tables (ALLOWED_TABLES) lets routes
// name, with RAW_DATA's columns and grants, as sql/setup.sql asks a person to do in
// Snowflake; locally nobody else would.
func (st *stack) createRouteTables(ctx context.Context) error {
	const rawTable = "LOADER_DB.RAW.RAW_DATA"
	start := strings.Index(scripts.Setup, "CREATE TABLE IF NOT EXISTS "+rawTable+" (")
	end := strings.Index(scripts.Setup[max(start, 0):], ");")
	if start < 0 || end < 0 {
		return fmt.Errorf("sql/setup.sql no longer creates %s as expected", rawTable)
	}
	create := scripts.Setup[start : start+end+2]
	for _, t := range strings.Split(st.opt.Validator["ALLOWED_TABLES"], ",") {
		t = strings.ToUpper(strings.TrimSpace(t))
		if t == "" || t == "RAW_DATA" {
			continue
		}
		// route.Parse has checked that t is an unquoted identifier.
		table := "LOADER_DB.RAW." + t
		script := strings.Replace(create, rawTable, table, 1) + "\nGRANT SELECT, INSERT, DELETE ON TABLE " + table + " TO ROLE LOADER_ROLE;"
		if err := st.emu.ExecScript(ctx, script, nil); err != nil {
			return fmt.Errorf("create the routed table %s: %w", table, err)
		}
	}
	return nil
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
func (st *stack) validatorEnv() func(string) string {
	return st.opt.validatorEnv(map[string]string{
		"STATE_MACHINE_ARN":     stateMachineARN,
		"DEAD_LETTER_QUEUE_URL": st.dlq.URL(),
		"INCOMING_PREFIX":       incomingPrefix,
		"QUARANTINE_PREFIX":     quarantinePrefix,
		"VALIDATOR_TIME_MARGIN": "2s",
	})
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
		SQSSend: func(ctx context.Context, queueURL, body string, attrs map[string]string) error {
			// A stopped run sends nothing: the batch goes back to the ingest queue instead.
			if err := ctx.Err(); err != nil {
				return err
			}
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
// the summary needs of it. Executions run under the run's context: when the run is stopped,
// an execution still loading is aborted (its transaction is not committed) and its batch goes
// back to the ingest queue, where the next run finds it.
func (st *stack) execute(_ context.Context, name string, input []byte) sfnlocal.Result {
	var in batch.Input
	_ = json.Unmarshal(input, &in)
	var records int64
	for _, f := range in.Files {
		records += f.Records - int64(len(f.Skip))
	}
	st.loadingRows.Add(records)
	if st.opt.onExecution != nil {
		st.opt.onExecution()
	}
	exec, err := st.machine.Run(st.ctx, st.bindings, fastClock{}, name, input)
	st.loadingRows.Add(-records)
	if err != nil {
		return sfnlocal.Result{Status: sfnlocal.StatusFailed, Error: "States.Runtime", Cause: err.Error()}
	}
	if exec.Status == asl.StatusAborted {
		if len(in.DeadLetter) > 0 {
			st.ingest.Send(deadLetterBody(in.DeadLetter), nil)
			st.requeued.Add(1)
		}
		return sfnlocal.Result{Status: sfnlocal.StatusFailed, Error: exec.Error, Cause: exec.Cause}
	}
	rec := runRecord{Name: name, Status: exec.Status, Error: exec.Error, Retries: exec.Retries, Started: exec.StartTime, Stopped: exec.StopTime}
	out := outputOf(exec)
	rec.Files, rec.Rows = out.Result.FilesLoaded, out.Result.RowsLoaded
	for _, f := range out.Result.Files {
		status := f.Status
		// The loader sees a new upload of a key as a newer version; when the bytes are the
		// ones already there, nothing changed for the person who ran the same data again.
		if status == StatusReplaced && st.sameContent(f.Key) {
			status = StatusUnchanged
		}
		st.files.set(f.Key, f.VersionID, func(r *FileResult) { r.Status, r.Rows = status, f.Rows })
	}
	if exec.Status != asl.StatusSucceeded {
		for _, f := range in.Files {
			st.files.set(f.Key, f.VersionID, func(r *FileResult) { r.Status = StatusFailed })
		}
	}
	st.mu.Lock()
	st.runs = append(st.runs, rec)
	st.mu.Unlock()
	return sfnlocal.Result{Status: exec.Status, Error: exec.Error, Cause: exec.Cause}
}

// deadLetterBody is the batch's S3 notification as a message body, the same body the state
// machine's dead-letter path would send: the input holds it as a JSON object or as a string.
func deadLetterBody(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
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
	rt := lambda.NewHandler(h)
	return &loaderContainer{invoke: rt.Invoke, logins: h.Logins, close: h.Close}, nil
}

func (st *stack) startValidator(ctx context.Context, awsCfg aws.Config) error {
	settings, err := validator.LoadSettings(st.validatorEnv())
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
	if st.loadersClosed {
		return st.loginsAtClose
	}
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
	// Queues that were never read (a damaged file) are never written: the file keeps what
	// it held until a person decides.
	if st.queuesLoaded {
		if err := saveQueues(st.queueFile(), st.ingest, st.dlq); err != nil && st.opt.Progress != nil {
			fmt.Fprintf(st.opt.Progress, "could not save the queues to %s: %v\n", st.queueFile(), err)
		}
	}
	st.closeLoaders()
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
	if st.lock != nil {
		_ = st.lock.Unlock()
	}
}

// closeLoaders ends the loader containers' Snowflake sessions. The summary does so before it
// reads the tables: each session's temporary stage table counts against the emulator's
// memory limit, and a large DAILY_SUMMARY needs that memory.
func (st *stack) closeLoaders() {
	if st.loadersClosed {
		return
	}
	st.loadersClosed = true
	for _, c := range st.all {
		st.loginsAtClose += c.logins()
		_ = c.close()
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
		Files       []struct {
			Key       string `json:"key"`
			VersionID string `json:"version_id"`
			Rows      int64  `json:"rows"`
			Status    string `json:"status"`
		} `json:"files"`
	} `json:"result"`
}

func outputOf(exec *asl.Execution) loaderOutput {
	var out loaderOutput
	if exec.Status != asl.StatusSucceeded || json.Unmarshal(exec.Output, &out) != nil {
		return loaderOutput{}
	}
	return out
}
