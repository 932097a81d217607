package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/localrun"
)

// Exit statuses of a run, so that scripts and CI can tell them apart.
const (
	exitOK          = 0
	exitFailed      = 1 // executions failed, messages are dead-lettered, or --strict saw a rejection
	exitUsage       = 2 // the command line is wrong; nothing ran
	exitInterrupted = 130
)

// runFlags is the command line of a run, parsed.
type runFlags struct {
	opt    localrun.Options
	json   bool
	quiet  bool
	strict bool
}

// parseRunFlags reads the command line of a run. It refuses what would otherwise be silently
// ignored: a positional argument (the flag package stops at the first one, dropping every flag
// after it) and flags that ask for two different runs at once.
func parseRunFlags(args []string, getenv func(string) string, out io.Writer) (runFlags, error) {
	rf := runFlags{opt: localrun.DefaultOptions()}
	opt := &rf.opt
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&opt.Dir, "dir", opt.Dir, "folder for the state kept between runs: the Snowflake database (DuckDB), S3 objects, queued messages and logs")
	fs.StringVar(&opt.DataDir, "data", "", "load your own files: every file in this folder is uploaded under incoming/data/ (instead of the demo dataset)")
	fs.IntVar(&opt.Files, "files", opt.Files, "how many generated files the demo dataset adds to the samples in testdata/data")
	fs.IntVar(&opt.Records, "records", opt.Records, "events in each generated file")
	fs.Float64Var(&opt.Faults, "faults", 0, "rate (0 to 1) of transient faults injected at S3 reads, Snowflake load attempts and Lambda invocations.\n"+
		"Retries get past most of them and the tables come out the same as without faults; a batch whose\n"+
		"retries all fail (likelier at high rates) goes to the dead-letter queue, as in AWS, and the run\n"+
		"exits non-zero. Add --redrive-at-end to redrive such batches before the run ends, or run\n"+
		"again with --redrive")
	fs.BoolVar(&opt.RedriveAtEnd, "redrive-at-end", false, "with --faults: when the run is done, redrive whatever reached the dead-letter queue (with faults still injected), up to five times, until it is empty")
	fs.StringVar(&opt.Demo, "demo", "", "fail: Part I of the demo, no Snowflake user trusts the loader's role yet, so its batches land in the dead-letter queue;\nsuccess: Part II, create the user (sql/lambda_wid.sql) and redrive the dead-letter queue")
	fs.BoolVar(&opt.Redrive, "redrive", false, "move the dead-letter queue's messages back to the ingest queue and process them (no upload)")
	fs.BoolVar(&rf.json, "json", false, "print the summary as JSON (progress still goes to standard error)")
	fs.BoolVar(&rf.quiet, "quiet", false, "print no progress, only the summary")
	fs.BoolVar(&rf.strict, "strict", false, "exit non-zero when any file is rejected, too (for CI)")
	fs.Int64Var(&opt.Seed, "seed", opt.Seed, "seed of the generated dataset and of injected faults")
	fs.DurationVar(&opt.Timeout, "timeout", opt.Timeout, "stop after this long, as Ctrl-C does: what was loaded stays, the rest stays queued")
	settings := addValidatorFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Runs the S3 → Snowflake loader on this machine.

S3 (in process), the ingest and dead-letter queues, the validator and loader Lambdas (the same
handler code as in AWS), the state machine (statemachine/loader.asl.json, run locally) and a
Snowflake emulator (DuckDB, in %s) that checks the loader's Workload Identity login.
Everything stays on this machine. State persists between runs; delete the folder to start afresh.

Usage: go run ./functions/local [flags]
       go run ./functions/local backfill [-prefix incoming/...]   announce what the local bucket holds again
       go run ./functions/local quarantine [KEY]                    list rejected files, or show one report
       go run ./functions/local resubmit KEY                        announce one file again, once its cause is fixed

Exit status: 0 when everything accepted was loaded; 1 when an execution failed or the
dead-letter queue is not empty (or, with --strict, a file was rejected); 2 when the command
line is wrong; 130 when interrupted.

The validator's settings can also come from the environment variables the Lambda reads:
%s.

`, opt.Dir, strings.Join(validatorVariables, ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return rf, err
	}
	if fs.NArg() > 0 {
		return rf, fmt.Errorf("unexpected argument %q: every option is a flag (see --help); a value with spaces needs quotes", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := conflicts(set); err != nil {
		return rf, err
	}
	var err error
	if opt.Validator, err = settings(getenv, set); err != nil {
		return rf, err
	}
	return rf, opt.Validate()
}

// conflicts refuses flags that ask for two different runs: a redrive or a demo part uploads a
// dataset of its own (or none), so --data, --files and --records would be ignored.
func conflicts(set map[string]bool) error {
	dataset := []string{"data", "files", "records"}
	var problems []string
	for _, mode := range []string{"redrive", "demo"} {
		if !set[mode] {
			continue
		}
		for _, d := range dataset {
			if set[d] {
				problems = append(problems, fmt.Sprintf("--%s and --%s cannot be used together: --%s %s", mode, d, mode, modeUploads[mode]))
			}
		}
	}
	if set["redrive"] && set["demo"] {
		problems = append(problems, "--redrive and --demo cannot be used together: --demo success already redrives the dead-letter queue")
	}
	if set["data"] && (set["files"] || set["records"]) {
		problems = append(problems, "--data and --files/--records cannot be used together: --files and --records size the generated demo dataset, which --data replaces")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

var modeUploads = map[string]string{
	"redrive": "uploads nothing, it processes what the dead-letter queue holds",
	"demo":    "uploads the sample files of testdata/data only",
}

// runPipeline is the default command: one run of the pipeline, then its summary.
func runPipeline(ctx context.Context, args []string) int {
	rf, err := parseRunFlags(args, os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		return exitUsage
	}
	if !rf.quiet {
		rf.opt.Progress = os.Stderr
		if fd := int(os.Stderr.Fd()); term.IsTerminal(fd) {
			rf.opt.ProgressWidth = func() int {
				w, _, err := term.GetSize(fd)
				if err != nil {
					return 80
				}
				return w
			}
		}
	}
	summary, err := localrun.Run(ctx, rf.opt)
	if errors.Is(err, localrun.ErrInterrupted) {
		fmt.Fprintln(os.Stderr, "local run stopped:", err)
		return exitInterrupted
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "local run failed:", err)
		return exitFailed
	}
	if rf.json {
		_ = summary.WriteJSON(os.Stdout)
	} else {
		summary.WriteText(os.Stdout)
	}
	return exitStatus(summary, rf.strict)
}

// exitStatus says whether the run did what it was asked: everything accepted was loaded.
func exitStatus(s *localrun.Summary, strict bool) int {
	switch {
	case s.Interrupted:
		return exitInterrupted
	case s.DeadLetter.Depth > 0 || s.Queued > 0:
		return exitFailed
	case s.Executions.Failed > 0 && s.DeadLetter.Redriven == 0:
		// A failed execution whose batch a redrive at the end loaded is not a failure of
		// the run; the dead-letter queue, checked above, says whether any is left.
		return exitFailed
	case strict && s.Files.Rejected > 0:
		return exitFailed
	}
	return exitOK
}
