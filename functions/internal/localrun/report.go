package localrun

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
)

// ReportFile is the name of the run report inside the state folder.
const ReportFile = "report.html"

// Long lists are cut in the report, so a run of 100,000 files still gives a page a browser
// opens at once; the tables in Snowflake (task local:query) hold everything.
const (
	maxReportAccepted   = 500
	maxReportRejected   = 2000
	maxReportExecutions = 1000
	maxReportDeadLetter = 1000
)

//go:embed report.html.tmpl
var reportTemplateText string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"seconds": func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) },
	"cell":    cell,
	// statusClass colours a file's status: loaded or unchanged is fine, a failed load is bad,
	// anything else (queued for the next run) is a warning.
	"statusClass": func(status string) string {
		switch status {
		case StatusLoaded, StatusReplaced, StatusReloaded, StatusSkippedOlder, StatusUnchanged:
			return "ok"
		case StatusFailed:
			return "bad"
		}
		return "warn"
	},
}).Parse(reportTemplateText))

// reportFile is one file of the run as the report lists it.
type reportFile struct {
	Key, Version string
	Status       string // one of the Status constants
	Phrase       string // the status in words
	Rows         int64
	Rule         string
	Problem      string
	// ReportLink is the rejection report's path relative to the report page; ReportJSON is
	// its text, shown in the page so that the page alone is complete.
	ReportLink, ReportJSON string
}

// reportDeadLetter is one message of the dead-letter queue.
type reportDeadLetter struct {
	Error, Cause, Execution string
	Files                   []string
}

// reportPage is everything the page shows.
type reportPage struct {
	Generated  time.Time
	Dir        string
	S          *Summary
	Chart      template.HTML
	Actions    []chartAction
	Accepted   []reportFile
	MoreFiles  int
	Rejected   []reportFile
	MoreReject int
	Skipped    []reportFile
	Undeliv    []reportFile
	Executions []runRecord
	MoreExecs  int
	Dead       []reportDeadLetter
	MoreDead   int
	Statements []statementCount
	TotalStmts int64
	// Sessions are the emulator's counts of the requests around statements.
	Sessions sfemu.Stats
}

type statementCount struct {
	Kind  string
	Count int64
}

// writeReport writes the run report to the state folder and returns its path.
func (st *stack) writeReport(s *Summary) (string, error) {
	page := reportPage{Generated: time.Now().UTC(), Dir: st.dir, S: s}
	var err error
	if page.Chart, page.Actions, err = dailyChart(s.DailySummary.Columns, s.DailySummary.Rows); err != nil {
		return "", fmt.Errorf("draw the DAILY_SUMMARY chart: %w", err)
	}
	st.filesOfRun(&page)
	execs := st.executions()
	sort.SliceStable(execs, func(i, j int) bool { return execs[i].Started.Before(execs[j].Started) })
	if len(execs) > maxReportExecutions {
		page.MoreExecs = len(execs) - maxReportExecutions
		execs = execs[:maxReportExecutions]
	}
	page.Executions = execs
	page.Dead = st.deadLetters()
	if len(page.Dead) > maxReportDeadLetter {
		page.MoreDead = len(page.Dead) - maxReportDeadLetter
		page.Dead = page.Dead[:maxReportDeadLetter]
	}
	page.Sessions = st.emu.Stats()
	for k, v := range s.Snowflake.Statements {
		if v > 0 {
			page.Statements = append(page.Statements, statementCount{k, v})
			page.TotalStmts += v
		}
	}
	sort.Slice(page.Statements, func(i, j int) bool { return page.Statements[i].Kind < page.Statements[j].Kind })

	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, page); err != nil {
		return "", fmt.Errorf("render the run report: %w", err)
	}
	path := filepath.Join(st.dir, ReportFile)
	// Written beside and renamed, so a browser never shows half a page.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write the run report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write the run report: %w", err)
	}
	return path, nil
}

// filesOfRun fills the page's file lists from the run's per-file results. Long lists are cut,
// and only the reports of listed rejected files are read.
func (st *stack) filesOfRun(page *reportPage) {
	for _, f := range page.S.PerFile {
		rf := reportFile{Key: f.Key, Version: f.VersionID, Status: f.Status, Phrase: Phrase(f.Status), Rows: f.Rows, Rule: f.Rule, Problem: f.Problem}
		switch f.Status {
		case StatusRejected:
			if len(page.Rejected) >= maxReportRejected {
				page.MoreReject++
				continue
			}
			st.attachRejection(&rf, f.ReportPath)
			page.Rejected = append(page.Rejected, rf)
		case StatusNotDelivered:
			rf.Problem = "its suffix is not one the bucket's notifications announce (.json, .ndjson, .jsonl, optionally .gz)"
			page.Undeliv = append(page.Undeliv, rf)
		case StatusSkipped:
			rf.Problem = "overwritten or deleted before it was read; a newer notification loads a newer upload"
			page.Skipped = append(page.Skipped, rf)
		default:
			if len(page.Accepted) >= maxReportAccepted {
				page.MoreFiles++
				continue
			}
			page.Accepted = append(page.Accepted, rf)
		}
	}
}

// attachRejection links the rejection report the validator wrote beside the quarantined
// file, and copies its text into the page.
func (st *stack) attachRejection(rf *reportFile, path string) {
	if path == "" {
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return
	}
	rf.ReportJSON = string(raw)
	if rel, err := filepath.Rel(st.dir, path); err == nil {
		rf.ReportLink = filepath.ToSlash(rel)
	}
}

// deadLetters lists the dead-letter queue with the files of each message.
func (st *stack) deadLetters() []reportDeadLetter {
	var out []reportDeadLetter
	for _, m := range st.dlq.Messages() {
		d := reportDeadLetter{
			Error: m.MessageAttributes["ErrorName"], Cause: m.MessageAttributes["ErrorCause"],
			Execution: m.MessageAttributes["ExecutionName"],
		}
		if d.Error == "" {
			d.Error = fmt.Sprintf("not processed after %d receives", maxReceiveCount)
		}
		if msg, err := s3event.Parse([]byte(m.Body)); err == nil {
			for _, o := range msg.Objects {
				d.Files = append(d.Files, o.Key)
			}
		}
		out = append(out, d)
	}
	return out
}

// Duration is how long an execution took, for the template.
func (r runRecord) Duration() time.Duration { return r.Stopped.Sub(r.Started) }
