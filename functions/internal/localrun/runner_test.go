package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInterruptKeepsCommittedWorkAndQueuesTheRest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole local stack")
	}
	validFiles, validRows := sampleRecords(t)
	const generated, perFile = 1200, 5
	wantRows := validRows + generated*perFile
	dir := t.TempDir()

	t.Run("before anything is uploaded", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Run(ctx, Options{Dir: t.TempDir(), Files: generated, Records: perFile, Seed: 3, Timeout: time.Minute})
		assert.ErrorIs(t, err, ErrInterrupted)
	})

	// Stop the run as the third load starts: the first loads may have committed, that one
	// is stopped mid-way, and most files have not been validated yet.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	started := 0
	opt := Options{Dir: dir, Files: generated, Records: perFile, Seed: 3, Timeout: 5 * time.Minute}
	opt.onExecution = func() {
		mu.Lock()
		defer mu.Unlock()
		if started++; started == 3 {
			cancel()
		}
	}
	s, err := Run(ctx, opt)
	require.NoError(t, err, "an interrupted run still ends with a summary")
	assert.True(t, s.Interrupted)
	assert.Equal(t, "Ctrl-C", s.InterruptedBy)
	assert.Less(t, s.Snowflake.RawRows, wantRows, "the run stopped before it was done")
	assert.Equal(t, s.RowsLoaded, s.Snowflake.RawRows, "what was committed is in RAW_DATA")
	assert.Positive(t, s.Queued+s.Requeued, "the rest is queued")
	var text bytes.Buffer
	s.WriteText(&text)
	assert.Contains(t, text.String(), "Run stopped by Ctrl-C")

	raw, err := os.ReadFile(filepath.Join(dir, "queues.json"))
	require.NoError(t, err)
	var saved savedQueues
	require.NoError(t, json.Unmarshal(raw, &saved))
	assert.NotEmpty(t, saved.Ingest, "the notifications not processed are saved for the next run")
	assert.Empty(t, saved.DeadLetter, "a stopped load is not a failed one")

	// The next run, on the same data, loads the rest: every row once.
	again := run(t, Options{Dir: dir, Files: generated, Records: perFile, Seed: 3})
	assert.False(t, again.Interrupted)
	assert.Equal(t, 0, again.DeadLetter.Depth)
	assert.Equal(t, 0, again.Queued)
	assert.Equal(t, wantRows, again.Snowflake.RawRows)
	assert.Equal(t, int64(validFiles+generated), again.Snowflake.FileLoads)
	emu := snowflakeAfter(t, dir)
	dups := rows(t, emu, "SELECT COUNT(*) FROM (SELECT S3_KEY, RECORD_NUMBER FROM LOADER_DB.RAW.RAW_DATA GROUP BY 1, 2 HAVING COUNT(*) > 1)")
	assert.Equal(t, int64(0), dups[0][0], "no record is loaded twice")
}

// syncBuffer is a bytes.Buffer the progress goroutine and the test may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole local stack")
	}
	t.Run("not a terminal: plain lines", func(t *testing.T) {
		var out syncBuffer
		run(t, Options{Dir: t.TempDir(), Files: 5, Records: 5, Seed: 1, Progress: &out})
		got := out.String()
		require.NotEmpty(t, got)
		assert.NotContains(t, got, "\r")
		assert.NotContains(t, got, "\x1b")
		for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
			assert.Contains(t, line, "rows ")
		}
	})
	t.Run("a terminal: one line redrawn, no wider than the terminal", func(t *testing.T) {
		var out syncBuffer
		const width = 40
		run(t, Options{Dir: t.TempDir(), Files: 5, Records: 5, Seed: 1, Progress: &out, ProgressWidth: func() int { return width }})
		got := out.String()
		require.True(t, strings.HasPrefix(got, "\r"))
		assert.Equal(t, 1, strings.Count(got, "\n"), "one line, ended when the run ends")
		for _, draw := range strings.Split(strings.TrimSpace(got), "\r") {
			draw = strings.TrimSuffix(strings.TrimSpace(draw), "\x1b[K")
			assert.LessOrEqual(t, utf8.RuneCountInString(draw), width-1, "%q", draw)
		}
	})
}

func TestFitWidth(t *testing.T) {
	tests := []struct {
		name, line string
		width      int
		want       string
	}{
		{name: "fits", line: "rows 10", width: 20, want: "rows 10"},
		{name: "exactly", line: "rows 10", width: 7, want: "rows 10"},
		{name: "cut", line: "rows 10 loaded", width: 8, want: "rows 10…"},
		{name: "one column", line: "rows", width: 1, want: "…"},
		{name: "no room", line: "rows", width: 0, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, fitWidth(tc.line, tc.width))
		})
	}
}

func TestProgressShowsRowsAsTheyLoad(t *testing.T) {
	st := &stack{}
	st.loadingRows.Add(2500)
	st.runs = []runRecord{{Status: "SUCCEEDED", Rows: 1000}, {Status: "FAILED", Rows: 0}}
	assert.Equal(t, "rows 1000 loaded, 2500 loading", st.progressRows())
}

func TestValidatorSettingsLocally(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole local stack")
	}
	data := t.TempDir()
	// Three events, the second without its action.
	body := `{"event_id":"e1","action":"view","timestamp":"2026-11-01T10:00:00Z"}
{"event_id":"e2","timestamp":"2026-11-01T10:01:00Z"}
{"event_id":"e3","action":"click","timestamp":"2026-11-01T10:02:00Z"}
`
	require.NoError(t, os.WriteFile(filepath.Join(data, "events.ndjson"), []byte(body), 0o644))
	strict := filepath.Join(t.TempDir(), "strict.schema.json")
	require.NoError(t, os.WriteFile(strict, []byte(`{"type":"object","required":["user_id"]}`), 0o644))

	tests := []struct {
		name      string
		settings  map[string]string
		wantRows  int64
		wantRule  string
		wantState string
	}{
		{name: "defaults: one bad record rejects the file", wantRule: "schema", wantState: StatusRejected},
		{name: "MAX_BAD_RECORDS 1 skips it", settings: map[string]string{"MAX_BAD_RECORDS": "1"}, wantRows: 2, wantState: StatusLoaded},
		{name: "a schema of one's own", settings: map[string]string{"SCHEMA_URI": strict, "MAX_BAD_RECORDS": "2"}, wantRule: "schema", wantState: StatusRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := run(t, Options{Dir: t.TempDir(), DataDir: data, Seed: 1, Validator: tc.settings})
			require.Len(t, s.PerFile, 1)
			f := s.PerFile[0]
			assert.Equal(t, "incoming/data/events.ndjson", f.Key)
			assert.Equal(t, tc.wantState, f.Status)
			assert.Equal(t, tc.wantRule, f.Rule)
			assert.Equal(t, tc.wantRows, f.Rows)
			assert.Equal(t, tc.wantRows, s.Snowflake.RawRows)
		})
	}
}

func TestRedriveAtEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole local stack")
	}
	_, validRows := sampleRecords(t)
	dir := t.TempDir()
	fail := run(t, Options{Dir: dir, Demo: "fail", Seed: 1})
	require.Equal(t, 1, fail.DeadLetter.Depth, "Part I leaves its batch in the dead-letter queue")

	// A run with faults and --redrive-at-end empties the dead-letter queue once its own
	// work is done, whatever the queue held.
	s := run(t, Options{Dir: dir, Files: 3, Records: 4, Seed: 2, Faults: 0.2, RedriveAtEnd: true})
	assert.Equal(t, 0, s.DeadLetter.Depth)
	assert.GreaterOrEqual(t, s.DeadLetter.Redriven, 1)
	assert.Equal(t, validRows+3*4, s.Snowflake.RawRows)
	var text bytes.Buffer
	s.WriteText(&text)
	assert.Contains(t, text.String(), "Dead-letter queue       0 messages; ")
	assert.Contains(t, text.String(), "redriven at the end of the run")
}

func TestPlural(t *testing.T) {
	tests := []struct {
		n     int
		thing string
		want  string
	}{
		{0, "message", "0 messages"},
		{1, "message", "1 message"},
		{2, "message", "2 messages"},
		{1, "retry", "1 retry"},
		{3, "retry", "3 retries"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, plural(tc.n, tc.thing))
		})
	}
}

func TestRoutedTablesLocally(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole local stack")
	}
	data := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(data, "orders"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(data, "orders", "o.ndjson"), []byte(`{"event_id":"o1","action":"view","timestamp":"2026-11-01T10:00:00Z"}`+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(data, "web.ndjson"), []byte(`{"event_id":"w1","action":"view","timestamp":"2026-11-01T10:00:00Z"}`+"\n"), 0o644))
	dir := t.TempDir()
	s := run(t, Options{Dir: dir, DataDir: data, Seed: 1, Validator: map[string]string{"ROUTES": "incoming/data/orders/=ORDERS", "ALLOWED_TABLES": "RAW_DATA,ORDERS"}})
	assert.Equal(t, 0, s.DeadLetter.Depth)
	assert.Equal(t, int64(1), s.Snowflake.RawRows)
	emu := snowflakeAfter(t, dir)
	assert.Equal(t, [][]any{{"incoming/data/orders/o.ndjson"}}, rows(t, emu, "SELECT S3_KEY FROM LOADER_DB.RAW.ORDERS"), "the routed table exists locally and holds its file")
}
