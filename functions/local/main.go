// Command local runs the whole pipeline on this machine: S3 notifications, the ingest queue,
// the validator, the state machine and the loader, against a local Snowflake emulator.
//
// The first argument may name a subcommand; without one, the pipeline runs once (run.go).
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The first Ctrl-C stops the run gently (see localrun.Run); a second one, while the
	// summary is being written, ends the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	args := os.Args[1:]
	// Subcommands are dispatched here, before any flag is parsed, each in its own file as
	// func run<Name>(ctx context.Context, args []string) int.
	if len(args) > 0 {
		switch args[0] {
		case "run":
			os.Exit(runPipeline(ctx, args[1:]))
		case "backfill":
			os.Exit(runBackfill(ctx, args[1:]))
		case "quarantine":
			os.Exit(runQuarantine(ctx, args[1:]))
		case "resubmit":
			os.Exit(runResubmit(ctx, args[1:]))
		case "check":
			os.Exit(runCheck(ctx, args[1:]))
		case "query":
			os.Exit(runQuery(ctx, args[1:]))
		}
	}
	os.Exit(runPipeline(ctx, args))
}
