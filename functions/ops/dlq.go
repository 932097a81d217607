package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const dlqRedriveHelp = `
Moves the messages of the dead-letter queue back to the ingest queue with SQS's own
message move task (the console's "Start DLQ redrive"), then follows it until it ends,
drawing moved/total on stderr.

A dead-lettered message is an S3 notification of the files of a batch that could not be
loaded (or a notification the validator failed on). Back in the ingest queue it is an
ordinary notification: the validator checks the files again, at the S3 version recorded,
and starts a new load. Loads are idempotent per S3 object version, so a file loaded in the
meantime is not loaded twice. Redrive after fixing the cause (e.g. task snow:lambda-wid
after a Snowflake.Auth failure), or the messages come back.

Pass -destination-arn with the ingest queue (task aws:dlq-redrive does): without it SQS
sends each message back to the queue it was dead-lettered from, and the batches the state
machine wrote to the dead-letter queue itself have no such queue. Stopping this command (Ctrl-C) does not stop the move task; cancel it with
'aws sqs cancel-message-move-task --task-handle <handle>'.`

func runDLQRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dlq-redrive", "-source-arn DLQ_ARN [-destination-arn INGEST_ARN] [-rate N]", dlqRedriveHelp, stderr)
	source := fs.String("source-arn", "", "ARN of the dead-letter queue, e.g. the stack's DeadLetterQueueArn output (required)")
	dest := fs.String("destination-arn", "", "ARN of the ingest queue to move to, e.g. the stack's IngestQueueArn output; empty sends messages back to the queue SQS dead-lettered them from")
	rate := fs.Int("rate", 0, "messages per second, at most 500; 0 lets SQS choose (fastest)")
	interval := fs.Duration("interval", 5*time.Second, "how often to check the move task's progress")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *source == "":
		return usagef("-source-arn is required")
	case *rate < 0 || *rate > 500:
		return usagef("-rate must be between 0 and 500")
	case *interval <= 0:
		return usagef("-interval must be positive")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	client := sqs.NewFromConfig(cfg)

	in := &sqs.StartMessageMoveTaskInput{SourceArn: source}
	if *dest != "" {
		in.DestinationArn = dest
	}
	if *rate > 0 {
		in.MaxNumberOfMessagesPerSecond = aws.Int32(int32(*rate))
	}
	started, err := client.StartMessageMoveTask(ctx, in)
	if err != nil {
		return fmt.Errorf("start moving messages from %s: %w", *source, err)
	}
	handle := aws.ToString(started.TaskHandle)
	fmt.Fprintf(stderr, "started move task %s\n", handle)

	for {
		task, err := latestMoveTask(ctx, client, *source)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return fmt.Errorf("stopped following move task %s; it keeps running in SQS", handle)
			}
			return err
		}
		status := aws.ToString(task.Status)
		fmt.Fprintf(stderr, "\r%s: moved %s messages    ", status, movedOf(task))
		switch status {
		case "COMPLETED":
			fmt.Fprintln(stderr)
			fmt.Fprintf(stdout, "moved %d messages from %s to %s\n", task.ApproximateNumberOfMessagesMoved, *source, destination(task))
			return nil
		case "FAILED", "CANCELLED":
			fmt.Fprintln(stderr)
			reason := aws.ToString(task.FailureReason)
			if reason == "" {
				reason = "no reason given"
			}
			return fmt.Errorf("move task %s after %d messages: %s", status, task.ApproximateNumberOfMessagesMoved, reason)
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr)
			return fmt.Errorf("stopped following move task %s; it keeps running in SQS", handle)
		case <-time.After(*interval):
		}
	}
}

// latestMoveTask returns the most recent move task of the source queue: the one just
// started. ListMessageMoveTasks only shows a task's handle while it runs, so matching on the
// handle would lose the task at the moment it completes.
func latestMoveTask(ctx context.Context, client *sqs.Client, source string) (types.ListMessageMoveTasksResultEntry, error) {
	out, err := client.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(source), MaxResults: aws.Int32(1)})
	if err != nil {
		return types.ListMessageMoveTasksResultEntry{}, fmt.Errorf("list move tasks of %s: %w", source, err)
	}
	if len(out.Results) == 0 {
		return types.ListMessageMoveTasksResultEntry{}, fmt.Errorf("SQS lists no move task for %s", source)
	}
	return out.Results[0], nil
}

func movedOf(t types.ListMessageMoveTasksResultEntry) string {
	if t.ApproximateNumberOfMessagesToMove == nil {
		return fmt.Sprint(t.ApproximateNumberOfMessagesMoved)
	}
	return fmt.Sprintf("%d/%d", t.ApproximateNumberOfMessagesMoved, *t.ApproximateNumberOfMessagesToMove)
}

func destination(t types.ListMessageMoveTasksResultEntry) string {
	if d := aws.ToString(t.DestinationArn); d != "" {
		return d
	}
	return "their source queues"
}
