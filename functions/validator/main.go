// Command validator is the validator Lambda: SQS notifications in, gated files and started
// load executions out. It only wires configuration and clients; the handler lives in
// functions/internal/validator.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/validator"
)

func main() {
	// LOG_LEVEL wins; Lambda's own application log level (AWS_LAMBDA_LOG_LEVEL) is the fallback.
	levelName := os.Getenv("LOG_LEVEL")
	if levelName == "" {
		levelName = os.Getenv("AWS_LAMBDA_LOG_LEVEL")
	}
	level, levelErr := obs.ParseLevel(levelName)
	logger := obs.NewLogger(os.Stdout, level)
	if levelErr != nil {
		logger.Warn("LOG_LEVEL is not understood; logging at INFO", "error", levelErr.Error())
	}

	ctx := context.Background()
	settings, err := validator.LoadSettings(os.Getenv)
	if err != nil {
		logger.Error("validator cannot start", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		logger.Error("validator cannot load its AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	h, err := validator.Build(ctx, settings, awsCfg, logger)
	if err != nil {
		logger.Error("validator cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
