package main

import (
	"context"
	"fmt"
	"os"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/localrun"
)

// runQuarantine lists the local bucket's rejected files, or prints one file's report.
func runQuarantine(ctx context.Context, args []string) int {
	fs, opt := stateCommand("quarantine", `Lists the files the local run rejected, newest first, with the rule each broke and its
first problem; given a KEY (incoming/..., or its quarantine/ copy), prints that file's report.

Usage: go run ./functions/local quarantine [-dir .local] [KEY]

`)
	if err := fs.Parse(args); err != nil || fs.NArg() > 1 {
		return 2
	}
	if err := localrun.Quarantine(ctx, *opt, fs.Arg(0), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quarantine:", err)
		return 1
	}
	return 0
}

// runResubmit announces one rejected file again and processes it.
func runResubmit(ctx context.Context, args []string) int {
	fs, opt := stateCommand("resubmit", `Announces a rejected file again, as S3 announced its upload, once the cause of its
rejection is fixed outside the file (a schema change, a route, a limit), and processes it:
it loads, or it is quarantined again with a fresh report.

Usage: go run ./functions/local resubmit [-dir .local] KEY

`)
	if err := fs.Parse(args); err != nil {
		return 2 // Parse has printed the usage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	opt.Progress = os.Stderr
	summary, err := localrun.Resubmit(ctx, *opt, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "resubmit failed:", err)
		return 1
	}
	summary.WriteText(os.Stdout)
	return 0
}
