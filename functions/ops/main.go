// Command ops holds the operator's commands for the deployed loader: bulk uploads, DLQ and
// Step Functions redrives, failure listings, demo data, emptying the bucket and Lambda zips.
//
// Usage: go run ./functions/ops <command> [flags]; go run ./functions/ops <command> -h.
//
// AWS clients come from the SDK's default configuration, so AWS_PROFILE, AWS_REGION and the
// endpoint variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, _SQS, _SFN) apply as they do to
// the AWS CLI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
)

// command is one subcommand. run receives the arguments after the command name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"bulk-upload", "generate demo event files and upload them to S3, concurrently", runBulkUpload},
		{"gen", "generate demo event files into a local folder", runGen},
		{"dlq-redrive", "move dead-lettered messages back to the ingest queue and follow the move", runDLQRedrive},
		{"backfill", "announce files already in the bucket to the ingest queue, as S3 would", runBackfill},
		{"quarantine", "list recently rejected files with their rule and first problem", runQuarantineList},
		{"quarantine-show", "print the quarantine report of one rejected file", runQuarantineShow},
		{"resubmit", "announce a rejected file again once the cause is fixed", runResubmit},
		{"sfn-failed", "list recent failed load executions with their error and cause", runSFNFailed},
		{"sfn-redrive", "redrive recent failed load executions", runSFNRedrive},
		{"empty-bucket", "delete every object version and delete marker in a bucket", runEmptyBucket},
		{"zip", "pack Lambda bootstrap binaries into deployment zips", runZip},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a command and turns its result into an exit code: 0 done, 1 failed,
// 2 the command line was wrong.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue usageError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "%s: %v\nRun 'ops %s -h' for help.\n", c.name, err, c.name)
			return 2
		default:
			fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "ops: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Operator commands for the S3 → Snowflake loader.\n\nUsage: go run ./functions/ops <command> [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	_ = tw.Flush()
	fmt.Fprint(w, "\nRun 'go run ./functions/ops <command> -h' for a command's flags.\n"+
		"AWS access follows AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL_* like the AWS CLI.\n")
}

// usageError is a wrong command line, as opposed to a failure while doing the work.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// newFlags returns a flag set whose -h output starts with help, a paragraph written for the
// person running the command.
func newFlags(name, synopsis, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./functions/ops %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(help))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and refuses stray positional arguments, which are usually a flag
// written without its dash.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	return nil
}

// megabytes formats a byte count for people.
func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
