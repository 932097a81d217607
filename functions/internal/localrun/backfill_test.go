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
