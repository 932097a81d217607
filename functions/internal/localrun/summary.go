package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Summary is what a run did and what Snowflake holds afterwards.
type Summary struct {
	Seconds  float64 `json:"seconds"`
	Uploaded int     `json:"files_uploaded"`
	Files    struct {
		Accepted int            `json:"accepted"`
		Rejected int            `json:"rejected"`
		Skipped  int            `json:"skipped"`
		Reasons  map[string]int `json:"rejected_by_rule"`
	} `json:"files"`
	Executions struct {
		Started   int            `json:"started"`
		Succeeded int            `json:"succeeded"`
		Failed    int            `json:"failed"`
		Retries   int            `json:"retries"`
		Errors    map[string]int `json:"failed_by_error"`
	} `json:"executions"`
	FilesLoaded int64 `json:"files_loaded"`
	RowsLoaded  int64 `json:"rows_loaded"`
	Snowflake   struct {
		Logins     int64            `json:"logins"`
		Statements map[string]int64 `json:"statements"`
		RawRows    int64            `json:"raw_data_rows"`
		FileLoads  int64            `json:"file_loads_rows"`
	} `json:"snowflake"`
	DeadLetter struct {
		Depth  int            `json:"depth"`
		Errors map[string]int `json:"by_error"`
	} `json:"dead_letter_queue"`
	Faults struct {
		S3Reads     int64 `json:"s3_reads"`
		Statements  int64 `json:"snowflake_statements"`
		Invocations int64 `json:"lambda_invocations"`
	} `json:"faults_injected"`
	DailySummary struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	} `json:"daily_summary"`
	// Report is the path of the run report, a page to open in a browser.
	Report string `json:"report,omitempty"`
}

func (st *stack) summary(ctx context.Context, uploaded int, took time.Duration) (*Summary, error) {
	s := &Summary{Seconds: took.Seconds(), Uploaded: uploaded}
	outcomes, rules := st.validatorLog.snapshot()
	s.Files.Accepted, s.Files.Rejected, s.Files.Skipped = outcomes["accepted"], outcomes["rejected"], outcomes["skipped"]
	s.Files.Reasons = rules

	s.Executions.Errors = map[string]int{}
	for _, e := range st.executions() {
		s.Executions.Started++
		s.Executions.Retries += e.Retries
		if e.Status == "SUCCEEDED" {
			s.Executions.Succeeded++
			s.FilesLoaded += e.Files
			s.RowsLoaded += e.Rows
		} else {
			s.Executions.Failed++
			s.Executions.Errors[e.Error]++
		}
	}

	stats := st.emu.Stats()
	s.Snowflake.Logins = st.logins()
	s.Snowflake.Statements = stats.Statements
	var err error
	if s.Snowflake.RawRows, err = st.count(ctx, "RAW_DATA"); err != nil {
		return nil, err
	}
	if s.Snowflake.FileLoads, err = st.count(ctx, "FILE_LOADS"); err != nil {
		return nil, err
	}

	s.DeadLetter.Errors = map[string]int{}
	for _, m := range st.dlq.Messages() {
		s.DeadLetter.Depth++
		name := m.MessageAttributes["ErrorName"]
		if name == "" {
			// SQS's redrive policy moved it: the validator failed it maxReceiveCount times.
			name = fmt.Sprintf("not processed after %d receives", maxReceiveCount)
		}
		s.DeadLetter.Errors[name]++
	}
	s.Faults.S3Reads, s.Faults.Statements, s.Faults.Invocations = st.faults.S3Reads.Load(), st.faults.Statements.Load(), st.faults.Invocations.Load()

	cols, rows, err := st.emu.Query(ctx, "SELECT * FROM LOADER_DB.RAW.DAILY_SUMMARY ORDER BY EVENT_DATE")
	if err != nil {
		return nil, fmt.Errorf("read DAILY_SUMMARY: %w", err)
	}
	s.DailySummary.Columns, s.DailySummary.Rows = cols, rows
	return s, nil
}

func (st *stack) count(ctx context.Context, table string) (int64, error) {
	_, rows, err := st.emu.Query(ctx, "SELECT COUNT(*) FROM LOADER_DB.RAW."+table)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("count %s: unexpected answer %v", table, rows)
	}
	var n int64
	_, err = fmt.Sscan(fmt.Sprint(rows[0][0]), &n)
	return n, err
}

// showProgress prints a progress line every second until stop is called.
func (st *stack) showProgress(started time.Time) (stop func()) {
	if st.opt.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				st.printProgress(started)
				fmt.Fprintln(st.opt.Progress)
				return
			case <-t.C:
				st.printProgress(started)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-finished }) }
}

func (st *stack) printProgress(started time.Time) {
	outcomes, _ := st.validatorLog.snapshot()
	var rows int64
	var loaded, failed int
	for _, e := range st.executions() {
		if e.Status == "SUCCEEDED" {
			rows += e.Rows
			loaded++
		} else {
			failed++
		}
	}
	secs := time.Since(started).Seconds()
	visible, inFlight := st.ingest.Depth()
	fmt.Fprintf(st.opt.Progress, "\r%5.0fs  validated %d (accepted %d, rejected %d)  executions %d ok / %d failed  rows %d (%.0f/s)  queue %d  ",
		secs, outcomes["accepted"]+outcomes["rejected"], outcomes["accepted"], outcomes["rejected"],
		loaded, failed, rows, float64(rows)/max(secs, 0.001), visible+inFlight)
}

// WriteText prints the summary for a person.
func (s *Summary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\nRun finished in %.1fs\n\n", s.Seconds)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Files uploaded\t%d\n", s.Uploaded)
	fmt.Fprintf(tw, "Files accepted\t%d\n", s.Files.Accepted)
	fmt.Fprintf(tw, "Files rejected\t%d%s\n", s.Files.Rejected, counts(s.Files.Reasons))
	fmt.Fprintf(tw, "Load executions\t%d started, %d succeeded, %d failed%s, %d retries\n",
		s.Executions.Started, s.Executions.Succeeded, s.Executions.Failed, counts(s.Executions.Errors), s.Executions.Retries)
	fmt.Fprintf(tw, "Loaded this run\t%d files, %d rows\n", s.FilesLoaded, s.RowsLoaded)
	fmt.Fprintf(tw, "Snowflake logins\t%d\n", s.Snowflake.Logins)
	fmt.Fprintf(tw, "Snowflake statements\t%s\n", strings.TrimPrefix(counts64(s.Snowflake.Statements), " "))
	fmt.Fprintf(tw, "RAW_DATA rows\t%d (from %d files in FILE_LOADS)\n", s.Snowflake.RawRows, s.Snowflake.FileLoads)
	fmt.Fprintf(tw, "Dead-letter queue\t%d messages%s\n", s.DeadLetter.Depth, counts(s.DeadLetter.Errors))
	if s.Faults.S3Reads+s.Faults.Statements+s.Faults.Invocations > 0 {
		fmt.Fprintf(tw, "Faults injected\t%d S3 reads, %d Snowflake statements, %d Lambda invocations\n",
			s.Faults.S3Reads, s.Faults.Statements, s.Faults.Invocations)
	}
	if s.Report != "" {
		fmt.Fprintf(tw, "Run report\t%s (open it in a browser)\n", s.Report)
	}
	_ = tw.Flush()

	fmt.Fprintf(w, "\nDAILY_SUMMARY\n")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(s.DailySummary.Columns, "\t")+"\t")
	for _, r := range s.DailySummary.Rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = cell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	_ = tw.Flush()
}

// WriteJSON prints the summary for scripts.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		return x.Format("2006-01-02")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func counts64(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
