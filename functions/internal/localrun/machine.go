package localrun

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/loader"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfnlocal"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/validator"
	"github.com/keyless-etl/s3-snowflake-loader/statemachine"
)

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
