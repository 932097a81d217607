package validator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/awserr"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
)

// maxInputBytes keeps an execution input well under Step Functions' 256 KiB limit; a batch
// whose input would be larger is halved.
const maxInputBytes = 192 << 10

// maxRestarts bounds how many times a batch whose earlier executions failed is started again
// under a new name (see start).
const maxRestarts = 20

// startBatches groups the accepted files of the messages that succeeded so far into load
// batches per table and starts one execution per batch. A batch that cannot be started sends
// every message that contributed a file back to SQS.
func (h *Handler) startBatches(ctx context.Context, msgs []*message) {
	byTable := map[string][]batch.File{}
	owners := map[string][]*message{} // member key -> messages that named it
	for _, m := range msgs {
		if m.failed {
			continue
		}
		for i, f := range m.files {
			t := m.tables[i]
			k := ownerKey(t, f)
			if len(owners[k]) == 0 {
				byTable[t] = append(byTable[t], f)
			}
			owners[k] = append(owners[k], m)
		}
	}
	// A batch that cannot be started sends back every message that named one of its files.
	fail := func(table string, files []batch.File) {
		for _, f := range files {
			for _, m := range owners[ownerKey(table, f)] {
				m.failed = true
			}
		}
	}
	for table, files := range byTable {
		for _, members := range batch.Split(files, h.Config.Caps) {
			ins, err := h.inputs(table, members)
			if err != nil {
				h.Logger.ErrorContext(ctx, "could not build the execution input", "table", table, "error", err.Error())
				fail(table, members)
				continue
			}
			for _, in := range ins {
				if err := h.start(ctx, in); err != nil {
					fail(table, in.Files)
				}
			}
		}
	}
}

// ownerKey identifies one file version bound for one table.
func ownerKey(table string, f batch.File) string {
	return strings.Join([]string{table, f.Bucket, f.Key, f.VersionID, f.ETag}, "\x00")
}

// inputs builds the execution input of a batch, halving it while it is too large.
func (h *Handler) inputs(table string, files []batch.File) ([]batch.Input, error) {
	dead, err := deadLetterNotification(files)
	if err != nil {
		return nil, err
	}
	in := batch.Input{
		Version: batch.Version, Table: table, Name: batch.ExecutionName(table, files),
		Files: files, DeadLetter: dead,
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if len(body) <= maxInputBytes || len(files) == 1 {
		return []batch.Input{in}, nil
	}
	half := len(files) / 2
	first, err := h.inputs(table, files[:half])
	if err != nil {
		return nil, err
	}
	second, err := h.inputs(table, files[half:])
	return append(first, second...), err
}

// deadLetterNotification is the batch's files as an S3 notification: what the state machine
// sends to the dead-letter queue, and what the validator reads when it is redriven.
func deadLetterNotification(files []batch.File) (json.RawMessage, error) {
	objs := make([]s3event.Object, len(files))
	for i, f := range files {
		objs[i] = s3event.Object{
			Bucket: f.Bucket, Key: f.Key, Size: f.Size, ETag: f.ETag, VersionID: f.VersionID,
			Sequencer: f.Sequencer, EventName: f.EventName, EventTime: f.EventTime,
			PrincipalID: f.Principal, SourceIP: f.SourceIP,
		}
		if objs[i].EventName == "" {
			objs[i].EventName = "ObjectCreated:Put"
		}
	}
	body, err := s3event.Encode(objs)
	if err != nil {
		return nil, fmt.Errorf("encode the dead-letter notification: %w", err)
	}
	return body, nil
}

// start starts the execution of one batch. A name already taken by a running or succeeded
// execution means this batch was started before (a re-delivered notification): nothing more to
// do. A name taken by an execution that failed means the batch is coming back on purpose (a
// dead-letter redrive after a fix, or a retry by SQS), so it starts again under the next name.
func (h *Handler) start(ctx context.Context, in batch.Input) error {
	base := in.Name
	log := h.Logger.With("table", in.Table, "files", len(in.Files))
	for restart := 0; restart <= maxRestarts; restart++ {
		if restart > 0 {
			in.Name = fmt.Sprintf("%s-r%d", base, restart)
		}
		body, err := json.Marshal(in)
		if err != nil {
			return err
		}
		out, err := h.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
			StateMachineArn: aws.String(h.Config.StateMachineARN),
			Name:            aws.String(in.Name),
			Input:           aws.String(string(body)),
		})
		if err == nil {
			h.count(obs.BatchesStarted, 1)
			log.InfoContext(ctx, "load started", "execution", in.Name, "execution_arn", aws.ToString(out.ExecutionArn), "outcome", "started")
			return nil
		}
		var exists *sfntypes.ExecutionAlreadyExists
		if !errors.As(err, &exists) {
			return h.startFailed(ctx, in.Name, err)
		}
		status, err := h.executionStatus(ctx, in.Name)
		if err != nil {
			return h.startFailed(ctx, in.Name, err)
		}
		switch status {
		case sfntypes.ExecutionStatusRunning, sfntypes.ExecutionStatusSucceeded, sfntypes.ExecutionStatusPendingRedrive:
			log.InfoContext(ctx, "load already started for these files", "execution", in.Name, "status", string(status), "outcome", "duplicate")
			return nil
		}
		log.InfoContext(ctx, "earlier load of these files ended without success; starting again", "execution", in.Name, "status", string(status))
	}
	return h.startFailed(ctx, in.Name, fmt.Errorf("%d earlier executions of this batch failed", maxRestarts+1))
}

func (h *Handler) startFailed(ctx context.Context, name string, err error) error {
	h.Logger.ErrorContext(ctx, "could not start the load; SQS will deliver its messages again",
		"execution", name, "outcome", "retry", "error_class", awserr.Classify(err).String(), "error", err.Error())
	return err
}

// executionStatus looks up an execution of this state machine by name.
func (h *Handler) executionStatus(ctx context.Context, name string) (sfntypes.ExecutionStatus, error) {
	out, err := h.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionARN(h.Config.StateMachineARN, name))})
	if err != nil {
		return "", err
	}
	return out.Status, nil
}

// executionARN derives an execution's ARN from its state machine's:
// arn:aws:states:REGION:ACCOUNT:stateMachine:NAME -> arn:aws:states:REGION:ACCOUNT:execution:NAME:EXEC.
func executionARN(stateMachineARN, name string) string {
	return strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}
