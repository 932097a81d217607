package sfnlocal

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const machine = "arn:aws:states:us-east-1:123456789012:stateMachine:loader"

func TestStartDescribeThroughTheSDK(t *testing.T) {
	srv, err := Start(machine, func(_ context.Context, name string, input []byte) Result {
		if name == "bad" {
			return Result{Status: StatusFailed, Error: "Snowflake.Auth", Cause: "no user"}
		}
		return Result{Status: StatusSucceeded, Output: input}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	c, ctx := srv.Client(), context.Background()

	out, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("good"), Input: aws.String(`{"a":1}`)})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:states:us-east-1:123456789012:execution:loader:good", aws.ToString(out.ExecutionArn))
	_, err = c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("bad"), Input: aws.String(`{}`)})
	require.NoError(t, err)
	srv.Wait()

	_, err = c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("good"), Input: aws.String(`{"a":1}`)})
	var exists *types.ExecutionAlreadyExists
	require.True(t, errors.As(err, &exists), "a finished execution's name is taken: %v", err)

	d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:loader:bad")})
	require.NoError(t, err)
	assert.Equal(t, types.ExecutionStatusFailed, d.Status)
	assert.Equal(t, "Snowflake.Auth", aws.ToString(d.Error))

	_, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:loader:none")})
	var missing *types.ExecutionDoesNotExist
	assert.True(t, errors.As(err, &missing))

	srv.Inject(Fault{Action: "StartExecution", Count: 1, Status: 400, Type: "ThrottlingException"})
	_, err = c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("later"), Input: aws.String(`{}`)},
		func(o *sfn.Options) { o.RetryMaxAttempts = 1 })
	require.Error(t, err)
	assert.Len(t, srv.Executions(), 2)
}

func TestLeanForgetsPayloadsOfEndedExecutions(t *testing.T) {
	release := make(chan struct{})
	srv, err := Start(machine, func(_ context.Context, name string, input []byte) Result {
		if name == "slow" {
			<-release
		}
		return Result{Status: StatusSucceeded, Output: input}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	srv.Lean()
	c, ctx := srv.Client(), context.Background()
	start := func(name, input string) error {
		_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(input)})
		return err
	}
	require.NoError(t, start("slow", `{"files":["a"]}`))
	require.NoError(t, start("quick", `{"files":["b"]}`))
	assert.Len(t, srv.Executions(), 2)

	// A running execution keeps its input: a repeat with the same input is the same call.
	require.NoError(t, start("slow", `{"files":["a"]}`))
	close(release)
	srv.Wait()
	assert.Equal(t, 0, srv.Running())

	for _, e := range srv.Executions() {
		assert.Equal(t, StatusSucceeded, e.Status, e.Name)
		assert.Nil(t, e.Input, "%s: input forgotten once ended", e.Name)
		assert.Nil(t, e.Output, "%s: output forgotten once ended", e.Name)
	}
	var exists *types.ExecutionAlreadyExists
	assert.True(t, errors.As(start("quick", `{"files":["b"]}`), &exists), "an ended execution's name stays taken")
}
