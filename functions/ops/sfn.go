package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

const sfnFailedHelp = `
Lists the load executions (one per batch of files) that FAILED recently, newest first,
as a table: when it stopped, the execution name (the load id written to RAW_DATA.LOAD_ID),
how many files the batch held, the state it failed in, and the error name and cause.

Error names are the loader's documented ones: Snowflake.Transient and S3.Transient were
retried and still failed; Snowflake.Auth usually means the WIF user does not trust the
Lambda role yet (task snow:lambda-wid); Data.Invalid and S3.NotFound concern a file or the
loader's access to it (a file overwritten or deleted after validation does not fail its
batch: it is skipped as superseded). A batch that failed in LoadFailed went through the dead-letter path: its files
are in the dead-letter queue, to be redriven with dlq-redrive once the cause is fixed. One
that failed in DeadLetterFailed (DeadLetter.SendFailed) is NOT in the queue; its cause
says what to do. -status TIMED_OUT,ABORTED lists executions that never reached either.`

const sfnRedriveHelp = `
Redrives recent load executions that were stopped before they ended (ABORTED, or
TIMED_OUT, which the loader's state machine sets no limit for): Step Functions restarts each
one from the state that did not complete, with the same input and execution name, keeping the
steps that had succeeded. This is the way back for batches that never reached the dead-letter
queue, e.g. executions stopped by hand during an outage. Failed executions are listed but
not redriven, as explained below.

This is safe to repeat: the loader reads every file at the S3 version recorded in the
execution input, and loading a version again replaces its own rows (exactly one copy), while
an older version never replaces a newer one. A batch that partly or fully loaded before
failing therefore loads to the same result.

Executions that ended in a Fail state are skipped, since a redrive would only run that Fail
state again: after LoadFailed the batch is in the dead-letter queue (use dlq-redrive); after
DeadLetterFailed it is nowhere, and the execution's cause says how to resend it. Executions
Step Functions cannot redrive (older than 14 days, history too long) are reported and
skipped. -dry-run shows what would be done.`

// failure is what the operator needs to know of one failed execution.
type failure struct {
	arn, name     string
	status        types.ExecutionStatus
	stopped       time.Time
	files         int
	state         string // the last state entered
	failState     bool   // that state is a Fail state
	errName       string
	cause         string
	redrivable    bool
	redriveReason string
	redriveCount  int32
}

// deadLetterSendFailed is the error of the state machine's DeadLetterFailed state: the
// batch could not be written to the dead-letter queue.
const deadLetterSendFailed = "DeadLetter.SendFailed"

// windowFlags are the flags both Step Functions commands share.
type windowFlags struct {
	machine  string
	since    time.Duration
	max      int
	status   string
	statuses []types.ExecutionStatus
}

func (w *windowFlags) register(fs *flag.FlagSet, maxDefault int, statusDefault string) {
	fs.StringVar(&w.machine, "state-machine", "", "ARN of the loader state machine, e.g. the stack's StateMachineArn output (required)")
	fs.DurationVar(&w.since, "since", 24*time.Hour, "look at executions started this long ago or later (e.g. 30m, 6h, 72h)")
	fs.IntVar(&w.max, "max", maxDefault, "look at no more than this many executions, newest first")
	fs.StringVar(&w.status, "status", statusDefault, "execution statuses to look at, comma-separated: FAILED, TIMED_OUT, ABORTED")
}

func (w *windowFlags) check() error {
	switch {
	case w.machine == "":
		return usagef("-state-machine is required")
	case w.since <= 0:
		return usagef("-since must be positive")
	case w.max < 1:
		return usagef("-max must be at least 1")
	}
	w.statuses = nil
	for _, s := range strings.Split(w.status, ",") {
		switch st := types.ExecutionStatus(strings.ToUpper(strings.TrimSpace(s))); st {
		case types.ExecutionStatusFailed, types.ExecutionStatusTimedOut, types.ExecutionStatusAborted:
			w.statuses = append(w.statuses, st)
		default:
			return usagef("-status: %q is not FAILED, TIMED_OUT or ABORTED", s)
		}
	}
	return nil
}

func runSFNFailed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sfn-failed", "-state-machine ARN [-since 24h] [-max 50] [-status FAILED]", sfnFailedHelp, stderr)
	var w windowFlags
	w.register(fs, 50, "FAILED")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := w.check(); err != nil {
		return err
	}
	client, err := sfnClient(ctx)
	if err != nil {
		return err
	}
	since := time.Now().Add(-w.since)
	failures, err := listFailures(ctx, client, w, since)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%s executions started since %s", strings.Join(statusNames(w.statuses), "/"), since.UTC().Format(time.RFC3339))
	if len(failures) == 0 {
		fmt.Fprintf(stdout, "no %s\n", what)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STOPPED (UTC)\tEXECUTION\tSTATUS\tFILES\tFAILED IN\tERROR\tCAUSE")
	for _, f := range failures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", f.stopped.UTC().Format("2006-01-02 15:04:05"), f.name, f.status,
			f.files, f.state, f.errName, oneLine(f.cause, 100))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d %s\n", len(failures), what)
	return nil
}

func runSFNRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sfn-redrive", "-state-machine ARN [-since 24h] [-max 100] [-status FAILED,TIMED_OUT,ABORTED] [-dry-run]", sfnRedriveHelp, stderr)
	var w windowFlags
	w.register(fs, 100, "FAILED,TIMED_OUT,ABORTED")
	dryRun := fs.Bool("dry-run", false, "show what would be redriven, change nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := w.check(); err != nil {
		return err
	}
	client, err := sfnClient(ctx)
	if err != nil {
		return err
	}
	failures, err := listFailures(ctx, client, w, time.Now().Add(-w.since))
	if err != nil {
		return err
	}
	var redriven, skipped, failed int
	for _, f := range failures {
		switch {
		case f.failState && f.errName == deadLetterSendFailed:
			skipped++
			fmt.Fprintf(stdout, "skip      %s: ended in Fail state %s; its batch is NOT in the dead-letter queue, see its cause (sfn-failed)\n", f.name, f.state)
		case f.failState:
			skipped++
			fmt.Fprintf(stdout, "skip      %s: ended in Fail state %s with %s; its batch is in the dead-letter queue, use dlq-redrive\n", f.name, f.state, f.errName)
		case !f.redrivable:
			skipped++
			fmt.Fprintf(stdout, "skip      %s: Step Functions cannot redrive it: %s\n", f.name, f.redriveReason)
		case *dryRun:
			redriven++
			fmt.Fprintf(stdout, "would     %s: failed in %s with %s\n", f.name, f.state, f.errName)
		default:
			_, err := client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{
				ExecutionArn: aws.String(f.arn),
				ClientToken:  aws.String(redriveToken(f)),
			})
			if err != nil {
				failed++
				fmt.Fprintf(stdout, "error     %s: %v\n", f.name, err)
				continue
			}
			redriven++
			fmt.Fprintf(stdout, "redriven  %s: failed in %s with %s\n", f.name, f.state, f.errName)
		}
	}
	verb := "redriven"
	if *dryRun {
		verb = "would redrive"
	}
	fmt.Fprintf(stdout, "%s %d, skipped %d, errors %d (of %d %s executions)\n", verb, redriven, skipped, failed, len(failures),
		strings.Join(statusNames(w.statuses), "/"))
	if failed > 0 {
		return fmt.Errorf("%d redrives failed", failed)
	}
	return nil
}

// redriveToken makes RedriveExecution idempotent per attempt: running the command twice in a
// row (or a retried request) redrives an execution once, while a later failure of the same
// execution (a higher redrive count) can be redriven again.
func redriveToken(f failure) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s#%d", f.arn, f.redriveCount))
	return hex.EncodeToString(sum[:])
}

func sfnClient(ctx context.Context) (*sfn.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return sfn.NewFromConfig(cfg), nil
}

// listFailures returns up to w.max executions of the state machine in one of w.statuses
// started at or after since, newest first, each described with the state it failed in.
func listFailures(ctx context.Context, client *sfn.Client, w windowFlags, since time.Time) ([]failure, error) {
	var items []types.ExecutionListItem
	for _, status := range w.statuses {
		got, err := listExecutions(ctx, client, w.machine, status, since, w.max)
		if err != nil {
			return nil, err
		}
		items = append(items, got...)
	}
	slices.SortStableFunc(items, func(a, b types.ExecutionListItem) int {
		return aws.ToTime(b.StartDate).Compare(aws.ToTime(a.StartDate))
	})
	items = items[:min(len(items), w.max)]
	out := make([]failure, 0, len(items))
	for _, item := range items {
		f, err := describeFailure(ctx, client, item)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// listExecutions returns up to limit executions with the status started at or after since.
// Step Functions lists executions newest first, so the first one started too early ends
// the search.
func listExecutions(ctx context.Context, client *sfn.Client, machine string, status types.ExecutionStatus, since time.Time, limit int) ([]types.ExecutionListItem, error) {
	var out []types.ExecutionListItem
	in := &sfn.ListExecutionsInput{
		StateMachineArn: aws.String(machine),
		StatusFilter:    status,
		MaxResults:      int32(min(limit, 1000)),
	}
	for {
		page, err := client.ListExecutions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list %s executions of %s: %w", status, machine, err)
		}
		for _, item := range page.Executions {
			if aws.ToTime(item.StartDate).Before(since) || len(out) == limit {
				return out, nil
			}
			out = append(out, item)
		}
		if page.NextToken == nil {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

func statusNames(statuses []types.ExecutionStatus) []string {
	names := make([]string, len(statuses))
	for i, s := range statuses {
		names[i] = string(s)
	}
	return names
}

func describeFailure(ctx context.Context, client *sfn.Client, item types.ExecutionListItem) (failure, error) {
	f := failure{
		arn:          aws.ToString(item.ExecutionArn),
		name:         aws.ToString(item.Name),
		status:       item.Status,
		stopped:      aws.ToTime(item.StopDate),
		redriveCount: aws.ToInt32(item.RedriveCount),
	}
	desc, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: item.ExecutionArn})
	if err != nil {
		return f, fmt.Errorf("describe execution %s: %w", f.name, err)
	}
	f.errName, f.cause = aws.ToString(desc.Error), aws.ToString(desc.Cause)
	if f.errName == "" {
		f.errName = "(" + string(item.Status) + ")"
	}
	f.redrivable = desc.RedriveStatus == types.ExecutionRedriveStatusRedrivable
	f.redriveReason = aws.ToString(desc.RedriveStatusReason)
	var input struct {
		Files []json.RawMessage `json:"files"`
	}
	if json.Unmarshal([]byte(aws.ToString(desc.Input)), &input) == nil {
		f.files = len(input.Files)
	}

	// The history, newest event first, names the state the execution was in when it failed:
	// the last state entered. Retries add events but no new state, so a page or two suffices.
	hist := &sfn.GetExecutionHistoryInput{
		ExecutionArn:         item.ExecutionArn,
		ReverseOrder:         true,
		MaxResults:           100,
		IncludeExecutionData: aws.Bool(false),
	}
	for {
		page, err := client.GetExecutionHistory(ctx, hist)
		if err != nil {
			return f, fmt.Errorf("read history of execution %s: %w", f.name, err)
		}
		for _, ev := range page.Events {
			if ev.StateEnteredEventDetails != nil {
				f.state = aws.ToString(ev.StateEnteredEventDetails.Name)
				f.failState = ev.Type == types.HistoryEventTypeFailStateEntered
				return f, nil
			}
		}
		if page.NextToken == nil {
			f.state = "(none)"
			return f, nil
		}
		hist.NextToken = page.NextToken
	}
}

// oneLine flattens a cause (often a multi-line JSON error) and shortens it for a table cell.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
