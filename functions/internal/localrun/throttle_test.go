package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfnlocal"
)

// startTestStack starts the local stack in a fresh folder with the WIF user created.
func startTestStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	opt := DefaultOptions()
	opt.Dir = t.TempDir()
	st, err := startStack(ctx, opt)
	require.NoError(t, err)
	t.Cleanup(st.close)
	require.NoError(t, st.createUser(ctx))
	return st
}

// putGenerated uploads n generated files of records events under prefix and returns their keys.
func putGenerated(t *testing.T, st *stack, prefix string, n, records int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		var buf bytes.Buffer
		_, err := gendata.WriteNDJSON(&buf, gendata.Options{Seed: int64(i + 1), Records: records})
		require.NoError(t, err)
		keys[i] = fmt.Sprintf("%sevents-%03d.ndjson", prefix, i+1)
		_, err = st.s3.Client().PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(bucketName), Key: aws.String(keys[i]), Body: bytes.NewReader(buf.Bytes()),
		})
		require.NoError(t, err)
	}
	return keys
}

// rowCount counts RAW_DATA's rows, and its distinct (key, record) pairs, under a key prefix.
func rowCount(t *testing.T, st *stack, prefix string) (rows, distinct int64) {
	t.Helper()
	_, out, err := st.emu.Query(context.Background(),
		"SELECT COUNT(*), COUNT(DISTINCT S3_KEY || '#' || RECORD_NUMBER) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY LIKE '"+prefix+"%'")
	require.NoError(t, err)
	require.Len(t, out, 1)
	var n [2]int64
	for i := range n {
		_, err := fmt.Sscan(fmt.Sprint(out[0][i]), &n[i])
		require.NoError(t, err)
	}
	return n[0], n[1]
}

// TestThrottledLoaderWaitsItsTurn starts 50 one-file batches at the same moment against a
// loader limited to 2 at once. The local Lambda refuses the others with
// Lambda.TooManyRequestsException, as Lambda does beyond reserved concurrency; the state
// machine's throttling retrier waits them out, so every batch loads and none is dead-lettered.
func TestThrottledLoaderWaitsItsTurn(t *testing.T) {
	const batches, records = 50, 20
	st := startTestStack(t)
	st.muted.Store(true)
	ctx := context.Background()
	keys := putGenerated(t, st, "incoming/burst/", batches, records)

	inputs := make([]batch.Input, len(keys))
	for i, key := range keys {
		head, err := st.s3.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucketName), Key: aws.String(key)})
		require.NoError(t, err)
		f := batch.File{
			Bucket: bucketName, Key: key, ETag: aws.ToString(head.ETag), Size: aws.ToInt64(head.ContentLength),
			EventName: "ObjectCreated:Put", EventTime: time.Now().UTC(), Records: records,
		}
		dead, err := s3event.Encode([]s3event.Object{{Bucket: f.Bucket, Key: f.Key, ETag: f.ETag, Size: f.Size, EventName: f.EventName, EventTime: f.EventTime}})
		require.NoError(t, err)
		files := []batch.File{f}
		inputs[i] = batch.Input{Version: batch.Version, Table: "RAW_DATA", Name: batch.ExecutionName("RAW_DATA", files), Files: files, DeadLetter: dead}
	}

	client := st.sfn.Client()
	var wg sync.WaitGroup
	errs := make([]error, len(inputs))
	start := make(chan struct{})
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := json.Marshal(in)
			if err == nil {
				<-start
				_, err = client.StartExecution(ctx, &sfn.StartExecutionInput{
					StateMachineArn: aws.String(stateMachineARN), Name: aws.String(in.Name), Input: aws.String(string(body)),
				})
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	st.sfn.Wait()

	execs := st.sfn.Executions()
	require.Len(t, execs, batches)
	for _, e := range execs {
		assert.Equal(t, sfnlocal.StatusSucceeded, e.Status, "%s: %s %s", e.Name, e.Error, e.Cause)
	}
	visible, inFlight := st.dlq.Depth()
	assert.Zero(t, visible+inFlight, "nothing is dead-lettered")
	assert.Positive(t, st.throttle.refused.Load(), "invocations beyond the limit were throttled")
	assert.LessOrEqual(t, st.throttle.peak.Load(), int64(loaderContainers), "never more loaders at once than reserved")
	var retries int
	for _, r := range st.executions() {
		retries += r.Retries
	}
	assert.GreaterOrEqual(t, retries, int(st.throttle.refused.Load()), "each throttled invocation was retried")
	rows, distinct := rowCount(t, st, "incoming/burst/")
	assert.Equal(t, int64(batches*records), rows)
	assert.Equal(t, rows, distinct)
	sum, err := st.summary(ctx, batches, time.Second)
	require.NoError(t, err)
	assert.Equal(t, int(st.throttle.refused.Load()), sum.Executions.Throttled, "the summary counts the throttled invocations")
	var text strings.Builder
	sum.WriteText(&text)
	assert.Contains(t, text.String(), fmt.Sprintf("%d of them waited for a free loader", sum.Executions.Throttled))
	t.Logf("%d batches, %d invocations throttled, %d retries, at most %d loaders at once", batches, st.throttle.refused.Load(), retries, st.throttle.peak.Load())
}
