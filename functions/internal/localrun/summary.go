package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is what a run did and what Snowflake holds afterwards.
type Summary struct {
	Seconds  float64 `json:"seconds"`
	Uploaded int     `json:"files_uploaded"`
	// Interrupted says the run was stopped (Ctrl-C or --timeout) before it was done; what it
	// had not finished is still queued for the next run. InterruptedBy says by what.
	Interrupted   bool   `json:"interrupted,omitempty"`
	InterruptedBy string `json:"interrupted_by,omitempty"`
	Files         struct {
		Accepted int            `json:"accepted"`
		Rejected int            `json:"rejected"`
		Skipped  int            `json:"skipped"`
		Reasons  map[string]int `json:"rejected_by_rule"`
		// NotDelivered counts files under incoming/ whose suffix no notification filter
		// matches: S3 never announces them, so nothing reads them.
		NotDelivered int `json:"not_delivered"`
		// Loaded counts the files whose rows this run added or replaced; Unchanged those
		// whose version was already loaded (a re-run), or older than the one loaded.
		Loaded    int `json:"loaded"`
		Unchanged int `json:"unchanged"`
	} `json:"files"`
	// PerFile is what happened to each file, by key and version.
	PerFile    []FileResult `json:"per_file"`
	Executions struct {
		Started   int `json:"started"`
		Succeeded int `json:"succeeded"`
		Failed    int `json:"failed"`
		Retries   int `json:"retries"`
		// Throttled counts the loader invocations refused because every loader allowed at
		// once was busy; the state machine waits each of them out, as in AWS.
		Throttled int            `json:"throttled"`
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
		// Redriven counts the messages redriven at the end of the run (--redrive-at-end).
		Redriven int `json:"redriven_at_end,omitempty"`
	} `json:"dead_letter_queue"`
	// Queued counts the notifications left on the ingest queue for the next run (after an
	// interruption); Requeued the batches whose load was stopped and put back there.
	Queued   int `json:"ingest_queue_depth"`
	Requeued int `json:"requeued_batches,omitempty"`
	Faults   struct {
		S3Reads     int64 `json:"s3_reads"`
		Statements  int64 `json:"snowflake_statements"`
		Invocations int64 `json:"lambda_invocations"`
	} `json:"faults_injected"`
	DailySummary struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
		// Error says why the table could not be read, when it could not.
		Error string `json:"error,omitempty"`
	} `json:"daily_summary"`
	// Report is the path of the run report, a page to open in a browser.
	Report string `json:"report,omitempty"`
}

func (st *stack) summary(ctx context.Context, uploaded int, took time.Duration) (*Summary, error) {
	s := &Summary{Seconds: took.Seconds(), Uploaded: uploaded}
	st.closeLoaders()
	outcomes, rules := st.validatorLog.snapshot()
	s.Files.Accepted, s.Files.Rejected, s.Files.Skipped = outcomes["accepted"], outcomes["rejected"], outcomes["skipped"]
	s.Files.Reasons = rules
	s.Files.NotDelivered = int(st.notDelivered.Load())
	s.PerFile = st.files.list()
	st.addProblems(ctx, s.PerFile)
	for _, f := range s.PerFile {
		switch f.Status {
		case StatusLoaded, StatusReplaced:
			s.Files.Loaded++
		case StatusReloaded, StatusSkippedOlder, StatusUnchanged:
			s.Files.Unchanged++
		}
	}

	s.Executions.Errors = map[string]int{}
	s.Executions.Throttled = int(st.throttle.refused.Load())
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
	s.DeadLetter.Redriven = int(st.redriven.Load())
	visible, inFlight := st.ingest.Depth()
	s.Queued = visible + inFlight
	s.Requeued = int(st.requeued.Load())
	s.Faults.S3Reads, s.Faults.Statements, s.Faults.Invocations = st.faults.S3Reads.Load(), st.faults.Statements.Load(), st.faults.Invocations.Load()

	cols, rows, err := st.emu.Query(ctx, "SELECT * FROM LOADER_DB.RAW.DAILY_SUMMARY ORDER BY EVENT_DATE")
	if err != nil {
		// The run is done and its figures are above; a table too large for the emulator's
		// memory should not hide them.
		s.DailySummary.Error = "DAILY_SUMMARY could not be read: " + err.Error()
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

// WriteText prints the summary for a person.
func (s *Summary) WriteText(w io.Writer) {
	if s.Interrupted {
		fmt.Fprintf(w, "\nRun stopped by %s after %.1fs. What was loaded stays loaded; what was not is queued for the next run.\n\n", s.InterruptedBy, s.Seconds)
	} else {
		fmt.Fprintf(w, "\nRun finished in %.1fs\n\n", s.Seconds)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Files uploaded\t%d\n", s.Uploaded)
	accepted := strconv.Itoa(s.Files.Accepted)
	if s.Files.Loaded+s.Files.Unchanged > 0 {
		accepted += fmt.Sprintf(": %d loaded, %d unchanged (already loaded)", s.Files.Loaded, s.Files.Unchanged)
	}
	fmt.Fprintf(tw, "Files accepted\t%s\n", accepted)
	fmt.Fprintf(tw, "Files rejected\t%d%s\n", s.Files.Rejected, counts(s.Files.Reasons))
	if s.Files.Skipped > 0 {
		fmt.Fprintf(tw, "Files skipped\t%d (overwritten or deleted since their notification; a newer notification loads a newer upload)\n", s.Files.Skipped)
	}
	if s.Files.NotDelivered > 0 {
		fmt.Fprintf(tw, "Not delivered (suffix)\t%s: S3 announces only .json, .ndjson and .jsonl (optionally .gz) under incoming/\n", plural(s.Files.NotDelivered, "file"))
	}
	retries := plural(s.Executions.Retries, "retry")
	if s.Executions.Throttled > 0 {
		retries += fmt.Sprintf(" (%d of them waited for a free loader: %d run at once, as the LoaderConcurrency parameter allows in AWS)", s.Executions.Throttled, loaderContainers)
	}
	fmt.Fprintf(tw, "Load executions\t%d started, %d succeeded, %d failed%s, %s\n",
		s.Executions.Started, s.Executions.Succeeded, s.Executions.Failed, counts(s.Executions.Errors), retries)
	fmt.Fprintf(tw, "Loaded this run\t%s, %s\n", plural(int(s.FilesLoaded), "file"), plural(int(s.RowsLoaded), "row"))
	fmt.Fprintf(tw, "Snowflake logins\t%d\n", s.Snowflake.Logins)
	fmt.Fprintf(tw, "Snowflake statements\t%s\n", strings.TrimPrefix(counts64(s.Snowflake.Statements), " "))
	fmt.Fprintf(tw, "RAW_DATA rows\t%d (from %s in FILE_LOADS)\n", s.Snowflake.RawRows, plural(int(s.Snowflake.FileLoads), "file"))
	dlq := plural(s.DeadLetter.Depth, "message") + counts(s.DeadLetter.Errors)
	if s.DeadLetter.Redriven > 0 {
		dlq += fmt.Sprintf("; %s redriven at the end of the run", plural(s.DeadLetter.Redriven, "message"))
	}
	if s.DeadLetter.Depth > 0 {
		dlq += "; fix the cause, then run with --redrive"
	}
	fmt.Fprintf(tw, "Dead-letter queue\t%s\n", dlq)
	if s.Queued > 0 {
		fmt.Fprintf(tw, "Still queued\t%s for the next run\n", plural(s.Queued, "notification"))
	}
	if s.Faults.S3Reads+s.Faults.Statements+s.Faults.Invocations > 0 {
		fmt.Fprintf(tw, "Faults injected\t%d S3 reads, %d Snowflake statements, %d Lambda invocations\n",
			s.Faults.S3Reads, s.Faults.Statements, s.Faults.Invocations)
	}
	if s.Report != "" {
		fmt.Fprintf(tw, "Run report\t%s (open it in a browser)\n", s.Report)
	}
	_ = tw.Flush()
	s.writeFiles(w)

	fmt.Fprintf(w, "\nDAILY_SUMMARY (cumulative: every row in RAW_DATA, from this run and earlier ones)\n")
	if s.DailySummary.Error != "" {
		fmt.Fprintln(w, s.DailySummary.Error)
		return
	}
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

// maxListed bounds each list of files in the text summary; --json lists them all.
const maxListed = 50

// writeFiles lists the files a person has to look at: rejected, not delivered, failed.
func (s *Summary) writeFiles(w io.Writer) {
	groups := []struct{ status, title string }{
		{StatusRejected, "Rejected files (each report names every problem found)"},
		{StatusNotDelivered, "Not delivered (suffix): S3 sends no notification for these names; rename them, then upload again"},
		{StatusFailed, "Files of failed loads (in the dead-letter queue)"},
	}
	for _, g := range groups {
		n := 0
		for _, f := range s.PerFile {
			if f.Status != g.status {
				continue
			}
			if n == 0 {
				fmt.Fprintf(w, "\n%s\n", g.title)
			}
			n++
			if n > maxListed {
				continue
			}
			fmt.Fprintf(w, "  %s\n", f.Key)
			if f.Rule != "" {
				line := "    rule " + f.Rule
				if f.Problem != "" {
					line += ": " + f.Problem
				}
				fmt.Fprintln(w, line)
			}
			switch {
			case f.ReportPath != "":
				fmt.Fprintf(w, "    report %s\n", f.ReportPath)
			case f.Report != "":
				fmt.Fprintf(w, "    report s3://%s/%s\n", bucketName, f.Report)
			}
		}
		if n > maxListed {
			fmt.Fprintf(w, "  and %d more (--json lists every file)\n", n-maxListed)
		}
	}
}

// plural says n things, in the singular for one: "1 message", "2 messages", "1 retry".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	if strings.HasSuffix(thing, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(thing, "y"))
	}
	return fmt.Sprintf("%d %ss", n, thing)
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
