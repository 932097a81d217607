package asl

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// LambdaError reports a handler's error the way the Lambda Go runtime
// (github.com/aws/aws-lambda-go/lambda, errors.go) does, which is what Step Functions matches:
// a messages.InvokeResponse_Error value is passed through with its Type and Message; any
// other error is named after its Go type, the element type for a pointer ("errorString" for
// errors.New, "wrapError" for fmt.Errorf with %w). The runtime uses a plain type assertion,
// so a *messages.InvokeResponse_Error or a wrapped one is named "InvokeResponse_Error"; return
// the value itself. cause is the JSON error payload the runtime sends, which Step Functions
// passes on as the Cause.
func LambdaError(err error) (errorType, cause string) {
	if err == nil {
		return "", ""
	}
	resp := lambdaErrorResponse(err)
	return resp.Type, string(safeMarshal(resp))
}

// lambdaErrorResponse mirrors aws-lambda-go's function of the same name.
func lambdaErrorResponse(invokeError error) *messages.InvokeResponse_Error {
	if ive, ok := invokeError.(messages.InvokeResponse_Error); ok {
		return &ive
	}
	return &messages.InvokeResponse_Error{
		Message: invokeError.Error(),
		Type:    errorTypeName(invokeError),
	}
}

// lambdaPanicResponse mirrors aws-lambda-go's handling of a panicking handler, without the
// stack trace the runtime adds to the payload.
func lambdaPanicResponse(v any) *messages.InvokeResponse_Error {
	if ive, ok := v.(messages.InvokeResponse_Error); ok {
		return &ive
	}
	return &messages.InvokeResponse_Error{
		Message: fmt.Sprintf("%v", v),
		Type:    errorTypeName(v),
	}
}

func errorTypeName(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Ptr {
		return t.Elem().Name()
	}
	return t.Name()
}

// safeMarshal mirrors the runtime: an error payload that cannot be encoded becomes a
// Runtime.SerializationError.
func safeMarshal(resp *messages.InvokeResponse_Error) []byte {
	b, err := json.Marshal(resp)
	if err != nil {
		b, _ = json.Marshal(&messages.InvokeResponse_Error{Type: "Runtime.SerializationError", Message: err.Error()})
	}
	return b
}

// runHandler calls a handler as the runtime does, turning a panic into an error payload.
func runHandler(ctx context.Context, h LambdaFunc, payload []byte) (out []byte, panicked *messages.InvokeResponse_Error, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked = lambdaPanicResponse(v)
		}
	}()
	out, err = h(ctx, payload)
	return out, nil, err
}

// invokeLambda is the lambda:invoke integration: it sends Payload to the function and
// returns what the integration returns, the response wrapped with the invocation's metadata.
func (r *run) invokeLambda(ctx context.Context, params any) (any, *failure) {
	p, _ := params.(map[string]any)
	fn, ok := p["FunctionName"].(string)
	if !ok {
		return nil, parameterError("FunctionName must be a string, not %s", text(p["FunctionName"]))
	}
	payload := []byte("{}")
	if v, ok := p["Payload"]; ok {
		b, err := encode(v)
		if err != nil {
			return nil, parameterError("The Payload cannot be encoded: %v", err)
		}
		payload = b
	}
	h, ok := r.b.Lambda[fn]
	if !ok {
		return nil, &failure{name: ErrLambdaNotFound, cause: fmt.Sprintf("Function not found: %s (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException)", fn)}
	}
	requestID := newUUID()
	lctx := lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID, InvokedFunctionArn: fn})
	out, panicked, err := runHandler(lctx, h, payload)
	var resp *messages.InvokeResponse_Error
	switch {
	case panicked != nil:
		resp = panicked
	case err != nil:
		var se *ServiceError
		if errors.As(err, &se) {
			return nil, &failure{name: se.Name, cause: se.Message}
		}
		resp = lambdaErrorResponse(err)
	}
	if resp != nil {
		cause := string(safeMarshal(resp))
		if resp.Type == "" {
			return nil, &failure{name: ErrLambdaUnknown, cause: "The cause could not be determined because Lambda did not return an error type. Returned payload: " + cause}
		}
		return nil, &failure{name: resp.Type, cause: cause}
	}

	// The integration parses a JSON response; anything else is kept as a string.
	var body any
	if trimmed := bytes.TrimSpace(out); len(trimmed) > 0 {
		if v, err := decode(trimmed); err == nil {
			body = v
		} else {
			body = string(out)
		}
	}
	headers := map[string]string{
		"Content-Length":         strconv.Itoa(len(out)),
		"Content-Type":           "application/json",
		"X-Amz-Executed-Version": "$LATEST",
		"x-amzn-RequestId":       requestID,
	}
	all := map[string]any{}
	plain := map[string]any{}
	for k, v := range headers {
		all[k] = []any{v}
		plain[k] = v
	}
	return map[string]any{
		"ExecutedVersion": "$LATEST",
		"Payload":         body,
		"SdkHttpMetadata": map[string]any{
			"AllHttpHeaders": all,
			"HttpHeaders":    plain,
			"HttpStatusCode": int64(200),
		},
		"SdkResponseMetadata": map[string]any{"RequestId": requestID},
		"StatusCode":          int64(200),
	}, nil
}

// sendMessage is the sqs:sendMessage integration. A MessageBody that is not a string is sent
// as its JSON text, as Step Functions does; empty bodies and attribute values are refused, as
// SQS refuses them.
func (r *run) sendMessage(ctx context.Context, params any) (any, *failure) {
	p, _ := params.(map[string]any)
	queueURL, ok := p["QueueUrl"].(string)
	if !ok {
		return nil, parameterError("QueueUrl must be a string, not %s", text(p["QueueUrl"]))
	}
	body, ok := p["MessageBody"].(string)
	if !ok {
		b, err := encode(p["MessageBody"])
		if err != nil {
			return nil, parameterError("The MessageBody cannot be encoded: %v", err)
		}
		body = string(b)
	}
	if body == "" {
		return nil, sqsInvalid("The request must contain a non-empty MessageBody.")
	}
	attrs := map[string]string{}
	if raw, ok := p["MessageAttributes"]; ok {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, sqsInvalid("MessageAttributes must be an object.")
		}
		for name, v := range m {
			attr, _ := v.(map[string]any)
			dataType, _ := attr["DataType"].(string)
			value, isString := attr["StringValue"].(string)
			if !strings.HasPrefix(dataType, "String") && !strings.HasPrefix(dataType, "Number") {
				return nil, sqsInvalid(fmt.Sprintf("The message attribute '%s' has an invalid message attribute type %q; this interpreter sends String and Number attributes.", name, dataType))
			}
			if !isString || value == "" {
				return nil, sqsInvalid(fmt.Sprintf("Message (user) attribute '%s' must contain a non-empty value of type '%s'.", name, dataType))
			}
			attrs[name] = value
		}
	}
	if r.b.SQSSend == nil {
		return nil, parameterError("No SQSSend binding is configured for %s.", ResourceSQSSendMessage)
	}
	if err := r.b.SQSSend(ctx, queueURL, body, attrs); err != nil {
		return nil, sqsFailure(err)
	}
	sum := md5.Sum([]byte(body))
	return map[string]any{
		"MD5OfMessageBody":    hex.EncodeToString(sum[:]),
		"MessageId":           newUUID(),
		"SdkHttpMetadata":     map[string]any{"HttpStatusCode": int64(200)},
		"SdkResponseMetadata": map[string]any{"RequestId": newUUID()},
	}, nil
}

// parameterError is a States.Runtime failure found while calling an integration. The call
// runs on its own goroutine, so invoke adds the state's preamble once the call has returned.
func parameterError(format string, args ...any) *failure {
	return &failure{name: ErrRuntime, cause: fmt.Sprintf(format, args...)}
}

func sqsInvalid(msg string) *failure {
	return &failure{name: ErrSQSService, cause: msg + " (Service: AmazonSQS; Status Code: 400; Error Code: InvalidParameterValue)"}
}

// sqsFailure names an SQS error: a *ServiceError as given, an AWS API error after its code
// (SQS.<code>), and anything else, such as a refused connection, as a client-side failure.
func sqsFailure(err error) *failure {
	var se *ServiceError
	if errors.As(err, &se) {
		return &failure{name: se.Name, cause: se.Message}
	}
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) && api.ErrorCode() != "" {
		return &failure{name: "SQS." + api.ErrorCode(), cause: err.Error()}
	}
	return &failure{name: ErrSQSClient, cause: err.Error()}
}
