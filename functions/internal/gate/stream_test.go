package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
)

func TestReportJSON(t *testing.T) {
	res := Result{
		Rule: RuleSchema, Records: 10, BadRecords: 2,
		Findings: []Finding{
			{Rule: RuleSchema, Record: 3, Line: 3, Offset: 140, Message: "at '': missing property 'action' [/required]"},
			{Rule: RuleSchema, Record: 7, Line: 7, Offset: 400, Message: "at '/amount': minimum: got -1, want 0 [/properties/amount/minimum]"},
		},
	}
	at := time.Date(2026, 11, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	rep := NewReport("landing", "incoming/e.ndjson", "v-1", `"abc"`, 1234, res, at)
	got, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"bucket": "landing",
		"key": "incoming/e.ndjson",
		"version_id": "v-1",
		"etag": "\"abc\"",
		"size": 1234,
		"rule": "schema",
		"message": "rejected: 2 of 10 records fail the schema; first: line 3, byte 140, record 3: at '': missing property 'action' [/required]",
		"records": 10,
		"bad_records": 2,
		"total_errors": 2,
		"errors": [
			{"rule": "schema", "record": 3, "line": 3, "offset": 140, "message": "at '': missing property 'action' [/required]"},
			{"rule": "schema", "record": 7, "line": 7, "offset": 400, "message": "at '/amount': minimum: got -1, want 0 [/properties/amount/minimum]"}
		],
		"checked_at": "2026-11-02T02:04:05Z"
	}`, string(got))

	// A file-level rejection counts its own finding, and a finding without a position
	// keeps "offset" but drops "record" and "line".
	rep = NewReport("landing", "incoming/e.csv", "", "", 5, reject(RuleSuffix, `"incoming/e.csv" does not end in .json`), at)
	got, err = json.Marshal(rep)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"bucket": "landing", "key": "incoming/e.csv", "size": 5, "rule": "suffix",
		"message": "rejected by the suffix gate: \"incoming/e.csv\" does not end in .json",
		"records": 0, "bad_records": 0, "total_errors": 1,
		"errors": [{"rule": "suffix", "offset": 0, "message": "\"incoming/e.csv\" does not end in .json"}],
		"checked_at": "2026-11-02T02:04:05Z"
	}`, string(got))
}

func TestConcurrentChecks(t *testing.T) {
	g := newGate(t, func(c *Config) { c.MaxBadRecords = 1; c.RouteField = "device" })
	files := map[string][]byte{
		"incoming/good.ndjson":   events(t, 200),
		"incoming/route.ndjson":  events(t, 50), // devices differ between records
		"incoming/one-bad.jsonl": []byte(view + "\n" + `{"event_id":"x"}` + "\n" + view + "\n"),
		"incoming/bad.json":      []byte(`[{"event_id":1},{"event_id":2}]`),
		"incoming/broken.ndjson": []byte(view + "\n{\"a\":\n"),
	}
	for i := range 3 {
		var b bytes.Buffer
		_, err := gendata.WriteArray(&b, gendata.Options{Seed: int64(i), Records: 300})
		require.NoError(t, err)
		files[fmt.Sprintf("incoming/array-%d.json.gz", i)] = gz(t, b.Bytes())
	}
	want := map[string]Result{}
	for key, body := range files {
		want[key] = check(t, g, key, body)
	}

	var wg sync.WaitGroup
	var mismatches atomic.Int64
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 5 {
				for key, body := range files {
					res, err := g.Check(context.Background(), key, int64(len(body)), bytes.NewReader(body))
					if err != nil || !assert.ObjectsAreEqual(want[key], res) {
						mismatches.Add(1)
						t.Errorf("worker %d round %d %s: err %v, got %+v", w, round, key, err, res)
					}
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, mismatches.Load())
	assert.False(t, want["incoming/route.ndjson"].Accepted)
	assert.True(t, want["incoming/one-bad.jsonl"].Accepted)
	assert.Equal(t, []int64{2}, want["incoming/one-bad.jsonl"].Skip)
}

func TestGzipBomb(t *testing.T) {
	const gib = 1 << 30
	src := gendata.NewBomb(gib)
	defer src.Close()
	// The stored size of such a bomb is about 1 MiB; claim it.
	g := newGate(t, nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := g.Check(context.Background(), "incoming/bomb.ndjson.gz", 1<<20, src)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	src.Close()

	assert.False(t, res.Accepted)
	assert.Equal(t, RuleCompressionRatio, res.Rule)
	assert.Less(t, res.Bytes, int64(16<<20), "the gate stopped within a few MiB")
	assert.Less(t, src.Produced(), int64(gib/8), "far less than the bomb was ever inflated")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "memory stays bounded")
}

var errReset = errors.New("connection reset by peer")

type failingReader struct {
	data []byte
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, errReset
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestFailedReadIsAnError(t *testing.T) {
	g := newGate(t, nil)
	body := events(t, 2000)
	for _, key := range []string{"incoming/e.ndjson", "incoming/e.ndjson.gz"} {
		data := body
		if key == "incoming/e.ndjson.gz" {
			data = gz(t, body)
		}
		_, err := g.Check(context.Background(), key, int64(len(data)), &failingReader{data: data[:len(data)/2]})
		assert.ErrorIs(t, err, errReset, key)
		assert.ErrorContains(t, err, key)
	}
}

func TestCanceledContext(t *testing.T) {
	g := newGate(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	body := events(t, 10)
	_, err := g.Check(ctx, "incoming/e.ndjson", int64(len(body)), bytes.NewReader(body))
	assert.ErrorIs(t, err, context.Canceled)
}
