package awserr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
)

func responseError(status int, err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err,
	}}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{name: "no such key", err: &types.NoSuchKey{}, want: NotFound},
		{name: "no such version", err: &smithy.GenericAPIError{Code: "NoSuchVersion"}, want: NotFound},
		{name: "head 404", err: responseError(404, errors.New("not found")), want: NotFound},
		{name: "precondition", err: responseError(412, &smithy.GenericAPIError{Code: "PreconditionFailed"}), want: Precondition},
		{name: "slow down", err: responseError(503, &smithy.GenericAPIError{Code: "SlowDown"}), want: Transient},
		{name: "step functions throttling", err: &smithy.GenericAPIError{Code: "ThrottlingException"}, want: Transient},
		{name: "500", err: responseError(500, errors.New("boom")), want: Transient},
		{name: "429", err: responseError(429, errors.New("slow")), want: Transient},
		{name: "timeout", err: fmt.Errorf("get: %w", context.DeadlineExceeded), want: Transient},
		{name: "body cut short", err: fmt.Errorf("read: %w", io.ErrUnexpectedEOF), want: Transient},
		{name: "access denied", err: responseError(403, &smithy.GenericAPIError{Code: "AccessDenied"}), want: Permanent},
		{name: "invalid arn", err: &smithy.GenericAPIError{Code: "InvalidArn"}, want: Permanent},
		{name: "plain", err: errors.New("something else"), want: Permanent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Classify(tc.err), Classify(tc.err).String())
		})
	}
}
