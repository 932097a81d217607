// Package awserr sorts AWS SDK errors into the few classes the pipeline acts on.
package awserr

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Class is what a caller should do about an error.
type Class int

const (
	// Permanent errors will fail the same way again: access denied, a wrong ARN, bad input.
	Permanent Class = iota
	// Transient errors may pass on a later try: throttling, 5xx, timeouts, dropped connections.
	Transient
	// NotFound means the object, version or resource does not exist (any more).
	NotFound
	// Precondition means a conditional request found the object changed (HTTP 412).
	Precondition
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case NotFound:
		return "not_found"
	case Precondition:
		return "precondition"
	default:
		return "permanent"
	}
}

var notFoundCodes = map[string]bool{
	"NoSuchKey": true, "NoSuchVersion": true, "NotFound": true, "NoSuchBucket": true,
	"ExecutionDoesNotExist": true, "StateMachineDoesNotExist": true,
}

var transientCodes = map[string]bool{
	"SlowDown": true, "Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestThrottled": true, "RequestThrottledException": true, "TooManyRequestsException": true,
	"ProvisionedThroughputExceededException": true, "RequestLimitExceeded": true,
	"ServiceUnavailable": true, "InternalError": true, "InternalFailure": true, "RequestTimeout": true,
	"RequestTimeoutException": true, "RequestTimeTooSkewed": true, "ServiceException": true,
}

// Classify sorts err. A nil error is not classified (Permanent is returned but callers check
// for nil first).
func Classify(err error) Class {
	if err == nil {
		return Permanent
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch code := api.ErrorCode(); {
		case notFoundCodes[code]:
			return NotFound
		case code == "PreconditionFailed":
			return Precondition
		case transientCodes[code]:
			return Transient
		}
	}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) {
		switch status := resp.HTTPStatusCode(); {
		case status == http.StatusNotFound:
			return NotFound
		case status == http.StatusPreconditionFailed:
			return Precondition
		case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
			return Transient
		case status >= 400:
			return Permanent
		}
	}
	// Errors the SDK's own retryer would retry, once its attempts are spent, are still worth
	// another try later.
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool() {
		return Transient
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF), errors.As(err, &netErr):
		return Transient
	}
	return Permanent
}
