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
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
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
func (st *stack) writeReport(ctx context.Context, s *Summary, logOffset int64) (string, error) {
	page := reportPage{Generated: time.Now().UTC(), Dir: st.dir, S: s}
	var err error
	if page.Chart, page.Actions, err = dailyChart(s.DailySummary.Columns, s.DailySummary.Rows); err != nil {
		return "", fmt.Errorf("draw the DAILY_SUMMARY chart: %w", err)
	}
	if err := st.filesOfRun(ctx, &page, logOffset); err != nil {
		return "", err
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

// filesOfRun fills the page's file lists from what the validator logged during this run, as
// an operator reads a function's logs, and from FILE_LOADS for whether an accepted file's
// batch loaded. Long lists are cut while the log is read, so memory stays small however many
// files the run had.
func (st *stack) filesOfRun(ctx context.Context, page *reportPage, logOffset int64) error {
	f, err := os.Open(filepath.Join(st.dir, "logs", "validator.jsonl"))
	if err != nil {
		return fmt.Errorf("read the validator's log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(logOffset, io.SeekStart); err != nil {
		return fmt.Errorf("read the validator's log: %w", err)
	}
	seen := map[string]bool{}
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
			if len(page.Accepted) >= maxReportAccepted {
				page.MoreFiles++
				continue
			}
			rf.Rows = l.Records - l.BadRecords
			page.Accepted = append(page.Accepted, rf)
		case "rejected":
			if len(page.Rejected) >= maxReportRejected {
				page.MoreReject++
				continue
			}
			st.attachRejection(ctx, &rf, l.QuarantineKey)
			page.Rejected = append(page.Rejected, rf)
		case "skipped":
			rf.Problem = l.Error
			page.Skipped = append(page.Skipped, rf)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the validator's log: %w", err)
	}
	if err := st.markLoaded(ctx, page.Accepted); err != nil {
		return err
	}
	page.Undeliv, err = st.undelivered(seen)
	return err
}

// markLoaded marks the accepted files whose rows FILE_LOADS holds at the version accepted.
func (st *stack) markLoaded(ctx context.Context, files []reportFile) error {
	if len(files) == 0 {
		return nil
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + strings.ReplaceAll(f.Key, "'", "''") + "'"
	}
	_, rows, err := st.emu.Query(ctx, "SELECT S3_KEY, S3_VERSION_ID, ROWS_LOADED FROM LOADER_DB.RAW.FILE_LOADS WHERE S3_KEY IN ("+strings.Join(quoted, ", ")+")")
	if err != nil {
		return fmt.Errorf("read FILE_LOADS for the report: %w", err)
	}
	type loaded struct {
		version string
		rows    int64
	}
	byKey := make(map[string]loaded, len(rows))
	for _, r := range rows {
		key, _ := r[0].(string)
		version, _ := r[1].(string)
		n, _ := r[2].(int64)
		byKey[key] = loaded{version, n}
	}
	for i := range files {
		if l, ok := byKey[files[i].Key]; ok && l.version == files[i].Version {
			files[i].Status, files[i].Rows = "loaded", l.rows
		}
	}
	return nil
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

// undelivered lists the files this run uploaded from a folder (the samples, or --data) that
// the validator never received: S3's notification filters did not announce them. It reads
// the folder again rather than listing the bucket, which the local S3 does in time that grows
// with the square of the object count. Generated files always have a suffix that is announced.
func (st *stack) undelivered(seen map[string]bool) ([]reportFile, error) {
	var dir, prefix string
	switch {
	case st.opt.Demo == "success" || st.opt.Redrive && st.opt.Demo == "":
		return nil, nil // nothing was uploaded
	case st.opt.DataDir != "" && st.opt.Demo == "":
		dir, prefix = st.opt.DataDir, "incoming/data/"
	default:
		var err error
		if dir, err = samplesDir(); err != nil {
			return nil, err
		}
		prefix = "incoming/samples/"
	}
	var out []reportFile
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		key := prefix + filepath.ToSlash(rel)
		if seen[key] {
			return nil
		}
		rf := reportFile{Key: key, Status: "not delivered", Problem: "S3 sent no notification for it"}
		if _, ok := records.Suffix(key); !ok {
			rf.Rule = "suffix"
			rf.Problem = "its suffix is not one the bucket's notifications announce (.json, .ndjson, .jsonl, optionally .gz)"
		}
		out = append(out, rf)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the uploaded folder %s for the report: %w", dir, err)
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
