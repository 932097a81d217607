package localrun

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfnlocal"
)

// TestBackfillLoadsEveryRowOnce uploads files while the bucket's notifications are off, as
// for files that were there before the stack, then backfills twice: the first backfill loads
// every row, the second loads them again as themselves, and every row is in RAW_DATA once.
func TestBackfillLoadsEveryRowOnce(t *testing.T) {
	const files, records = 12, 25
	st := startTestStack(t)
	ctx := context.Background()
	st.muted.Store(true)
	putGenerated(t, st, "incoming/old/", files, records)
	// S3 announces only the suffixes the bucket notifies for; a backfill does the same.
	_, err := st.s3.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucketName), Key: aws.String("incoming/old/notes.txt"), Body: bytes.NewReader([]byte("hello"))})
	require.NoError(t, err)
	st.muted.Store(false)
	visible, _ := st.ingest.Depth()
	require.Zero(t, visible, "nothing was announced while notifications were off")

	for round := 1; round <= 2; round++ {
		n, err := st.backfill(ctx, "incoming/old/")
		require.NoError(t, err)
		assert.Equal(t, files, n, "round %d announces every file, and only files S3 would announce", round)
		require.NoError(t, st.process(ctx))
		rows, distinct := rowCount(t, st, "incoming/old/")
		assert.Equal(t, int64(files*records), rows, "round %d", round)
		assert.Equal(t, rows, distinct, "round %d: no row twice", round)
		t.Logf("backfill round %d: %d files announced, %d executions so far, %d rows in RAW_DATA, %d distinct", round, n, len(st.sfn.Executions()), rows, distinct)
	}
	for _, e := range st.sfn.Executions() {
		assert.Equal(t, sfnlocal.StatusSucceeded, e.Status, "%s: %s", e.Name, e.Cause)
	}
	visible, inFlight := st.dlq.Depth()
	assert.Zero(t, visible+inFlight)
}

// TestBackfillAfterARunChangesNothing backfills what a normal run already loaded, as
// `go run ./functions/local backfill` does: the files are announced again without the
// sequencers of their first notifications, and RAW_DATA keeps every row once.
func TestBackfillAfterARunChangesNothing(t *testing.T) {
	opt := DefaultOptions()
	opt.Dir, opt.Files, opt.Records = t.TempDir(), 6, 30
	first := run(t, opt)
	require.Positive(t, first.Snowflake.RawRows)

	n, again, err := Backfill(context.Background(), opt, "incoming/")
	require.NoError(t, err)
	// Every file the run checked, less those a bucket in AWS would not have announced (the
	// local bucket announces every upload; the suffix gate rejected those).
	assert.Equal(t, first.Files.Accepted+first.Files.Rejected-first.Files.Reasons["suffix"], n)
	assert.Equal(t, first.Snowflake.RawRows, again.Snowflake.RawRows, "no row twice")
	assert.Equal(t, first.Snowflake.FileLoads, again.Snowflake.FileLoads)
	assert.Zero(t, again.Executions.Failed)
	assert.Zero(t, again.DeadLetter.Depth)
	t.Logf("run: %d files accepted, %d rejected, %d rows; backfill: %d announced, %d executions, %d rows",
		first.Files.Accepted, first.Files.Rejected, first.Snowflake.RawRows, n, again.Executions.Started, again.Snowflake.RawRows)

	_, _, err = Backfill(context.Background(), opt, "quarantine/")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must start with incoming/")
}
