// Command local runs the whole pipeline on this machine: S3 notifications, the ingest queue,
// the validator, the state machine and the loader, against a local Snowflake emulator.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/localrun"
)

func main() {
	// Subcommands come before the flags of the main run; each lives in its own file.
	if len(os.Args) > 1 {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		switch os.Args[1] {
		case "backfill":
			code := runBackfill(ctx, os.Args[2:])
			stop()
			os.Exit(code)
		case "quarantine":
			code := runQuarantine(ctx, os.Args[2:])
			stop()
			os.Exit(code)
		case "resubmit":
			code := runResubmit(ctx, os.Args[2:])
			stop()
			os.Exit(code)
		}
		stop()
	}

	opt := localrun.DefaultOptions()
	var asJSON bool
	flag.StringVar(&opt.Dir, "dir", opt.Dir, "folder for the state kept between runs: the Snowflake database (DuckDB), S3 objects, queued messages and logs")
	flag.StringVar(&opt.DataDir, "data", "", "load your own files: every file in this folder is uploaded under incoming/data/ (instead of the demo dataset)")
	flag.IntVar(&opt.Files, "files", opt.Files, "how many generated files the demo dataset adds to the samples in testdata/data")
	flag.IntVar(&opt.Records, "records", opt.Records, "events in each generated file")
	flag.Float64Var(&opt.Faults, "faults", 0, "rate (0 to 1) of transient faults injected at S3 reads, Snowflake load attempts and Lambda invocations (a retry gets past each); the tables must come out the same")
	flag.StringVar(&opt.Demo, "demo", "", "fail: Part I of the demo, no Snowflake user trusts the loader's role yet, so its batches land in the dead-letter queue;\nsuccess: Part II, create the user (sql/lambda_wid.sql) and redrive the dead-letter queue")
	flag.BoolVar(&opt.Redrive, "redrive", false, "move the dead-letter queue's messages back to the ingest queue and process them (no upload)")
	flag.BoolVar(&asJSON, "json", false, "print the summary as JSON (progress still goes to standard error)")
	flag.Int64Var(&opt.Seed, "seed", opt.Seed, "seed of the generated dataset and of injected faults")
	flag.DurationVar(&opt.Timeout, "timeout", opt.Timeout, "give up after this long")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Runs the S3 → Snowflake loader on this machine.

S3 (in process), the ingest and dead-letter queues, the validator and loader Lambdas (the same
handler code as in AWS), the state machine (statemachine/loader.asl.json, run locally) and a
Snowflake emulator (DuckDB, in %s) that checks the loader's Workload Identity login.
Everything stays on this machine. State persists between runs; delete the folder to start afresh.

Usage: go run ./functions/local [flags]
       go run ./functions/local backfill [-prefix incoming/...]   announce what the local bucket holds again
       go run ./functions/local quarantine [KEY]                    list rejected files, or show one report
       go run ./functions/local resubmit KEY                        announce one file again, once its cause is fixed

`, opt.Dir)
		flag.PrintDefaults()
	}
	flag.Parse()
	opt.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	summary, err := localrun.Run(ctx, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "local run failed:", err)
		os.Exit(1)
	}
	if asJSON {
		_ = summary.WriteJSON(os.Stdout)
	} else {
		summary.WriteText(os.Stdout)
	}
}
