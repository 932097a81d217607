package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/localrun"
)

// stateCommand makes the flag set of a subcommand that works on the state folder of the local
// runs: -dir sets the returned options' Dir, and -h prints about, then the flags.
func stateCommand(name, about string) (*flag.FlagSet, *localrun.Options) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	opt := localrun.DefaultOptions()
	fs.StringVar(&opt.Dir, "dir", opt.Dir, "folder of the local state (as for the main run)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), about)
		fs.PrintDefaults()
	}
	return fs, &opt
}

// runBackfill announces the files the local bucket holds under a prefix to the ingest queue,
// as `task aws:backfill` does in AWS, and loads them.
func runBackfill(ctx context.Context, args []string) int {
	fs, opt := stateCommand("backfill", `Announces the files the local bucket already holds, as S3 would announce an upload, and
loads them: files uploaded earlier load again as themselves, and no row is loaded twice.

Usage: go run ./functions/local backfill [-prefix incoming/...] [-dir .local]

`)
	prefix := fs.String("prefix", "incoming/", "announce the files under this key prefix")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opt.Progress = os.Stderr
	n, summary, err := localrun.Backfill(ctx, *opt, *prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backfill failed:", err)
		return 1
	}
	fmt.Printf("Announced %d files under %s.\n\n", n, *prefix)
	summary.WriteText(os.Stdout)
	return 0
}
