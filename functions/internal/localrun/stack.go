package localrun

import (
	"context"
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

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/gofrs/flock"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3local"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfnlocal"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
	scripts "github.com/keyless-etl/s3-snowflake-loader/sql"
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
