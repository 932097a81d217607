package localrun

import (
	"context"
	"sync/atomic"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
)

// throttled is the loader's reserved concurrency as Lambda enforces it: an invocation that
// finds every container busy is refused at once with TooManyRequestsException (the
// ReservedFunctionConcurrentInvocationLimitExceeded reason), not queued. Step Functions
// reports that to the state machine as Lambda.TooManyRequestsException, which its own retrier
// waits out, so the local stack exercises the same path as a throttled burst in AWS.
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html
type throttled struct {
	running, peak, refused atomic.Int64
}

// invoke runs fn on a free container, or refuses the invocation when none is free.
func (th *throttled) invoke(containers chan *loaderContainer) asl.LambdaFunc {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var c *loaderContainer
		select {
		case c = <-containers:
		default:
			th.refused.Add(1)
			return nil, &asl.ServiceError{
				Name:    "Lambda.TooManyRequestsException",
				Message: "Rate Exceeded. (Service: Lambda, Status Code: 429, Reason: ReservedFunctionConcurrentInvocationLimitExceeded)",
			}
		}
		defer func() { containers <- c }()
		n := th.running.Add(1)
		defer th.running.Add(-1)
		for {
			p := th.peak.Load()
			if n <= p || th.peak.CompareAndSwap(p, n) {
				break
			}
		}
		return c.invoke(ctx, payload)
	}
}
