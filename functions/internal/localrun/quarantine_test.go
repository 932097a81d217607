package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
)

// TestQuarantineAndResubmit runs a rejected file through the local stack, lists and shows it
// the way an operator would, resubmits it and sees it checked again.
func TestQuarantineAndResubmit(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(data, "bad.ndjson"), []byte("{\"event_id\":\"1\",\"action\":\"fly\",\"timestamp\":\"2026-11-01T00:00:00Z\"}\n"), 0o644))
	opt := DefaultOptions()
	opt.Dir, opt.DataDir = t.TempDir(), data
	s := run(t, opt)
	require.Equal(t, 1, s.Files.Rejected)

	opt.DataDir = ""
	var list bytes.Buffer
	require.NoError(t, Quarantine(ctx, opt, "", &list))
	assert.Contains(t, list.String(), "incoming/data/bad.ndjson")
	assert.Contains(t, list.String(), "schema")
	assert.Contains(t, list.String(), "1 rejected")

	var show bytes.Buffer
	require.NoError(t, Quarantine(ctx, opt, "incoming/data/bad.ndjson", &show))
	var r gate.Report
	require.NoError(t, json.Unmarshal(show.Bytes(), &r))
	assert.Equal(t, "schema", r.Rule)
	assert.Equal(t, "incoming/data/bad.ndjson", r.Key)

	again, err := Resubmit(ctx, opt, "quarantine/data/bad.ndjson")
	require.NoError(t, err)
	assert.Equal(t, 1, again.Files.Rejected, "the file is checked again, and the schema still refuses it")
	assert.Zero(t, again.Executions.Started)

	err = Quarantine(ctx, opt, "incoming/data/fine.ndjson", &show)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no quarantine report")
}
