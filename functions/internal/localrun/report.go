package localrun

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
)

// ReportFile is the name of the run report inside the state folder.
const ReportFile = "report.html"

// Long lists are cut in the report, so a run of 100,000 files still gives a page a browser
// opens at once; the tables in Snowflake (task local:query) hold everything.
const (
	maxReportAccepted   = 500
	maxReportRejected   = 2000
	maxReportExecutions = 1000
)

//go:embed report.html.tmpl
var reportTemplateText string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"seconds": func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) },
	"cell":    cell,
	"isNum": func(v any) bool {
		switch v.(type) {
		case int64, float64, int:
			return true
		}
		return false
	},
}).Parse(reportTemplateText))

// reportFile is one file of the run as the report lists it.
type reportFile struct {
	Key, Version string
	Status       string // loaded, accepted, rejected, skipped or not delivered
	Rows         int64
	Table        string
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
	ChartNote  string
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
	Statements []statementCount
	TotalStmts int64
}

type statementCount struct {
	Kind  string
	Count int64
}

// writeReport writes the run report to the state folder and returns its path.
func (st *stack) writeReport(ctx context.Context, s *Summary, started time.Time, logOffset int64) (string, error) {
	page := reportPage{Generated: time.Now().UTC(), Dir: st.dir, S: s}
	var err error
	if page.Chart, page.Actions, err = dailyChart(s.DailySummary.Columns, s.DailySummary.Rows); err != nil {
		return "", fmt.Errorf("draw the DAILY_SUMMARY chart: %w", err)
	}
	files, err := st.filesOfRun(ctx, started, logOffset)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		switch f.Status {
		case "rejected":
			if len(page.Rejected) < maxReportRejected {
				page.Rejected = append(page.Rejected, f)
			} else {
				page.MoreReject++
			}
		case "skipped":
			page.Skipped = append(page.Skipped, f)
		case "not delivered":
			page.Undeliv = append(page.Undeliv, f)
		default:
			if len(page.Accepted) < maxReportAccepted {
				page.Accepted = append(page.Accepted, f)
			} else {
				page.MoreFiles++
			}
		}
	}
	for _, list := range [][]reportFile{page.Accepted, page.Rejected, page.Skipped, page.Undeliv} {
		sort.Slice(list, func(i, j int) bool { return list[i].Key < list[j].Key })
	}
	execs := st.executions()
	sort.SliceStable(execs, func(i, j int) bool { return execs[i].Started.Before(execs[j].Started) })
	if len(execs) > maxReportExecutions {
		page.MoreExecs = len(execs) - maxReportExecutions
		execs = execs[:maxReportExecutions]
	}
	page.Executions = execs
	page.Dead = st.deadLetters()
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

// validatorLine is the part of a validator log line the report reads.
type validatorLine struct {
	Time          time.Time `json:"time"`
	Key           string    `json:"s3_key"`
	Version       string    `json:"version_id"`
	Outcome       string    `json:"outcome"`
	Rule          string    `json:"rule"`
	Table         string    `json:"table"`
	Records       int64     `json:"records"`
	BadRecords    int64     `json:"bad_records"`
	QuarantineKey string    `json:"quarantine_key"`
	Error         string    `json:"error"`
}

// filesOfRun reads what the validator logged during this run, as an operator reads the
// function's logs, and what FILE_LOADS says was loaded since the run started. Objects under
// incoming/ written during the run that the validator never saw are "not delivered": S3's
// notification filters did not announce them.
func (st *stack) filesOfRun(ctx context.Context, started time.Time, logOffset int64) ([]reportFile, error) {
	loaded, err := st.loadedSince(ctx, started)
	if err != nil {
		return nil, err
	}
	var files []reportFile
	seen := map[string]bool{}
	f, err := os.Open(filepath.Join(st.dir, "logs", "validator.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("read the validator's log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(logOffset, io.SeekStart); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l validatorLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Outcome == "" || l.Key == "" {
			continue
		}
		seen[l.Key] = true
		rf := reportFile{Key: l.Key, Version: l.Version, Status: l.Outcome, Table: l.Table, Rule: l.Rule}
		switch l.Outcome {
		case "accepted":
			rf.Rows = l.Records - l.BadRecords
			if n, ok := loaded[l.Key]; ok {
				rf.Status, rf.Rows = "loaded", n
			}
		case "rejected":
			st.attachRejection(ctx, &rf, l.QuarantineKey)
		case "skipped":
			rf.Problem = l.Error
		}
		files = append(files, rf)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the validator's log: %w", err)
	}
	undelivered, err := st.undelivered(ctx, started, seen)
	if err != nil {
		return nil, err
	}
	return append(files, undelivered...), nil
}

// loadedSince maps each key FILE_LOADS records as loaded since t to its rows.
func (st *stack) loadedSince(ctx context.Context, t time.Time) (map[string]int64, error) {
	_, rows, err := st.emu.Query(ctx, fmt.Sprintf(
		"SELECT S3_KEY, ROWS_LOADED FROM LOADER_DB.RAW.FILE_LOADS WHERE LOADED_AT >= '%s'::TIMESTAMP_TZ",
		t.UTC().Add(-time.Second).Format(time.RFC3339)))
	if err != nil {
		return nil, fmt.Errorf("read FILE_LOADS for the report: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		key, _ := r[0].(string)
		n, _ := r[1].(int64)
		out[key] = n
	}
	return out, nil
}

// attachRejection reads the rejection report the validator wrote beside the quarantined file.
func (st *stack) attachRejection(ctx context.Context, rf *reportFile, quarantineKey string) {
	if quarantineKey == "" {
		return
	}
	reportKey := quarantineKey + ".report.json"
	out, err := st.s3.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucketName), Key: aws.String(reportKey)})
	if err != nil {
		rf.Problem = "the report " + reportKey + " could not be read: " + err.Error()
		return
	}
	defer out.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	if err != nil {
		return
	}
	var rep gate.Report
	if json.Unmarshal(raw, &rep) == nil {
		rf.Problem = rep.Message
		if len(rep.Errors) > 0 {
			rf.Problem = rep.Errors[0].Message
			if e := rep.Errors[0]; e.Line > 0 {
				rf.Problem = fmt.Sprintf("line %d, record %d: %s", e.Line, e.Record, e.Message)
			}
		}
	}
	rf.ReportJSON = string(raw)
	rf.ReportLink = filepath.ToSlash(filepath.Join("s3", "buckets", bucketName, filepath.FromSlash(reportKey)))
}

// undelivered lists the objects written under incoming/ since the run started that the
// validator never received.
func (st *stack) undelivered(ctx context.Context, started time.Time, seen map[string]bool) ([]reportFile, error) {
	var out []reportFile
	p := s3.NewListObjectsV2Paginator(st.s3.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucketName), Prefix: aws.String(incomingPrefix)})
	since := started.Truncate(time.Second)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list incoming/ for the report: %w", err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if seen[key] || aws.ToTime(o.LastModified).Before(since) {
				continue
			}
			rf := reportFile{Key: key, Status: "not delivered", Problem: "S3 sent no notification for it"}
			if _, ok := records.Suffix(key); !ok {
				rf.Rule = "suffix"
				rf.Problem = "its suffix is not one the bucket's notifications announce (.json, .ndjson, .jsonl, optionally .gz)"
			}
			out = append(out, rf)
		}
	}
	return out, nil
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
