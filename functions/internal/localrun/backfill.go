package localrun

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/announce"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
)

// Backfill announces every file under prefix in the local bucket to the ingest queue, as
// `task aws:backfill` does in AWS, and processes the queue. It returns how many files were
// announced and the run's summary. Files already loaded are loaded again as themselves:
// nothing is duplicated.
func Backfill(ctx context.Context, opt Options, prefix string) (int, *Summary, error) {
	if !strings.HasPrefix(prefix, incomingPrefix) {
		return 0, nil, fmt.Errorf("prefix %q must start with %s: the validator loads only files under it", prefix, incomingPrefix)
	}
	return announceAndRun(ctx, opt, func(ctx context.Context, st *stack) (int, error) {
		return st.backfill(ctx, prefix)
	})
}

// announceAndRun starts the stack with the WIF user in place, lets announce put messages on
// the ingest queue, and processes them.
func announceAndRun(ctx context.Context, opt Options, announceFn func(context.Context, *stack) (int, error)) (int, *Summary, error) {
	started := time.Now()
	ctx, st, done, err := open(ctx, opt)
	if err != nil {
		return 0, nil, err
	}
	defer done()
	if err := st.createUser(ctx); err != nil {
		return 0, nil, err
	}
	n, err := announceFn(ctx, st)
	if err != nil {
		return n, nil, err
	}
	if err := st.process(ctx); err != nil {
		return n, nil, err
	}
	s, err := st.summary(ctx, 0, time.Since(started))
	return n, s, err
}

// backfill lists the local bucket under prefix and sends one notification per file to the
// ingest queue, with the same code as the operator command.
func (st *stack) backfill(ctx context.Context, prefix string) (int, error) {
	objs, err := announce.List(ctx, st.s3.Client(), bucketName, prefix)
	if err != nil {
		return 0, err
	}
	return announce.Send(ctx, queueSender{st.ingest}, objs, announce.Options{Bucket: bucketName, QueueURL: st.ingest.URL()})
}

// queueSender takes SendMessageBatch calls straight into an in-process queue.
type queueSender struct{ q *sqslocal.Queue }

func (s queueSender) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		id := s.q.Send(aws.ToString(e.MessageBody), nil)
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String(id)})
	}
	return out, nil
}
