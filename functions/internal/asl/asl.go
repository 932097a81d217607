// Package asl runs Amazon States Language definitions locally, with AWS's retry, catch and data-flow semantics.
//
// No maintained Go interpreter of the language exists, so this is a focused one: it runs the
// states and integrations statemachine/*.asl.json use (Task with lambda:invoke and
// sqs:sendMessage, Pass, Choice, Wait, Succeed, Fail) with the JSONPath query language, and
// Load refuses anything else, naming the state and the field, instead of running it half-right.
// Lambda tasks call the function's handler in process; errors reach Retry and Catch under the
// names the Lambda Go runtime and Step Functions would give them (see LambdaError).
//
// Only tests and the local runner use this package; Lambda binaries never link it.
package asl

import (
	"context"
	"encoding/json"
	"time"
)

// Execution statuses, as Step Functions reports them.
const (
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusAborted   = "ABORTED"
)

// Error names the interpreter itself raises, as Step Functions names them.
const (
	ErrAll             = "States.ALL"
	ErrTaskFailed      = "States.TaskFailed"
	ErrTimeout         = "States.Timeout"
	ErrRuntime         = "States.Runtime"
	ErrResultPathMatch = "States.ResultPathMatchFailure"
	ErrNoChoiceMatched = "States.NoChoiceMatched"
	ErrLambdaUnknown   = "Lambda.Unknown"
	ErrLambdaNotFound  = "Lambda.ResourceNotFoundException"
	ErrSQSClient       = "SQS.SdkClientException"
	ErrSQSService      = "SQS.AmazonSQSException"
)

// Clock is the time an execution sees. Wait states and retry delays sleep on it, so a fake
// clock runs a definition with minutes of backoff instantly.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, and then returns ctx's error.
	Sleep(ctx context.Context, d time.Duration) error
}

// DeadlineClock is a Clock that also decides when a Task's TimeoutSeconds runs out. A fake
// clock implements it to make a task time out without waiting; with a plain Clock the
// interpreter uses context.WithTimeout.
type DeadlineClock interface {
	Clock
	WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc)
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LambdaFunc is a function's handler as the Lambda runtime runs it: the invocation payload in,
// the response payload out. An error is reported the way the Go runtime reports it (see
// LambdaError), unless it is a *ServiceError.
type LambdaFunc func(ctx context.Context, payload []byte) ([]byte, error)

// Bindings connect a definition's tasks to code.
type Bindings struct {
	// Lambda holds handlers by function ARN, as FunctionName reads after substitution. An ARN
	// missing here fails the task with Lambda.ResourceNotFoundException, as AWS would.
	Lambda map[string]LambdaFunc
	// SQSSend sends one message. attrs holds each message attribute's StringValue.
	SQSSend func(ctx context.Context, queueURL, body string, attrs map[string]string) error
	// Rand returns a number in [0, 1) for FULL jitter; nil means math/rand.
	Rand func() float64
}

// ServiceError is an error a binding returns to stand for a failure of the AWS service rather
// than of the function: the task fails with Name as its error and Message as its cause,
// untouched, the way Step Functions reports Lambda.TooManyRequestsException or an SQS fault.
type ServiceError struct {
	Name    string
	Message string
}

func (e *ServiceError) Error() string { return e.Name + ": " + e.Message }

// Execution is the record of one run of a state machine.
type Execution struct {
	Name   string
	ID     string
	Status string // StatusSucceeded, StatusFailed or StatusAborted
	Input  json.RawMessage
	// Output is the execution's output when it succeeded.
	Output json.RawMessage
	// Error and Cause say why it failed (or, when aborted, the context's error).
	Error, Cause string
	StartTime    time.Time
	StopTime     time.Time
	// Attempts counts how many times each state ran, retries included.
	Attempts map[string]int
	// Retries counts retries over all states; Delays holds the wait before each, in order.
	Retries int
	Delays  []time.Duration
	History []Event
}

// Event is one entry of an execution's history. Types follow Step Functions' history event
// types (ExecutionStarted, TaskStateEntered, TaskScheduled, TaskSucceeded, TaskFailed,
// TaskTimedOut, TaskStateExited, ExecutionFailed, ...).
type Event struct {
	ID        int
	Type      string
	Timestamp time.Time
	State     string          `json:",omitempty"`
	Resource  string          `json:",omitempty"`
	Input     json.RawMessage `json:",omitempty"`
	Output    json.RawMessage `json:",omitempty"`
	Error     string          `json:",omitempty"`
	Cause     string          `json:",omitempty"`
}
