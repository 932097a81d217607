// Command loader is the loader Lambda: one batch of validated S3 files in, rows in Snowflake
// out. It only wires configuration and clients; the handler lives in functions/internal/loader.
package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/loader"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/snowflake"
)

func main() {
	level, err := obs.ParseLevel(firstSet(os.Getenv("LOG_LEVEL"), os.Getenv("AWS_LAMBDA_LOG_LEVEL")))
	logger := obs.NewLogger(os.Stdout, level)
	if err != nil {
		logger.Warn("log level not understood; logging at INFO", "error", err.Error())
	}

	settings, err := loadConfig(os.Getenv)
	if err != nil {
		logger.Error("loader cannot start", "error", err.Error())
		os.Exit(1)
	}
	for name, value := range driverEnv(os.Getenv, os.Stat) {
		if name == "HOME" {
			logger.Warn("HOME cannot be searched by the Snowflake driver; using the writable directory instead",
				"home", os.Getenv("HOME"), "now", value)
		}
		if err := os.Setenv(name, value); err != nil {
			logger.Error("loader cannot start", "error", err.Error())
			os.Exit(1)
		}
	}

	// A batch spools to the writable directory while it loads; one that a timeout cut short
	// left its files there, and this execution environment keeps them.
	if err := snowflake.RemoveSpools(settings.Snowflake.TmpDir); err != nil {
		logger.Warn("could not remove batches an earlier run left in the temporary directory", "error", err.Error())
	}

	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		logger.Error("loader cannot load its AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	h, err := loader.Build(ctx, settings, awsCfg, logger)
	if err != nil {
		logger.Error("loader cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// loadConfig reads the loader's settings from the environment: SNOWFLAKE_ACCOUNT, and
// SNOWFLAKE_USER, _ROLE, _WAREHOUSE, _DATABASE, _SCHEMA, _HOST, _PORT and _PROTOCOL with the
// defaults of sql/setup.sql. Every missing or malformed variable is named in one error. The
// parsing lives with the handler, so the local runner configures it exactly as here.
func loadConfig(getenv func(string) string) (loader.Settings, error) {
	return loader.LoadSettings(getenv)
}

// driverEnv returns the variables to set before the Snowflake driver first connects.
//
// Lambda's filesystem is read-only except /tmp, and HOME is unset there. gosnowflake v1.19.1
// copes with most of that by itself: its credential cache falls back to memory, WIF uses no
// token cache, and its OCSP response cache skips a directory it cannot create. Two things are
// fixed here. The OCSP cache goes to /tmp, so a warm container reuses the responses it fetched
// instead of asking the responders again at each login. And the driver's search for its
// optional sf_client_config.json stats $HOME/sf_client_config.json on every new connection
// and refuses to connect (error 260012) when that stat fails for any reason but "does not
// exist": a HOME that is not a directory, or one the function's user may not enter (an image
// built with HOME=/root). HOME then points at the writable directory instead. Variables the
// deployment already sets are left alone.
func driverEnv(getenv func(string) string, stat func(string) (os.FileInfo, error)) map[string]string {
	tmp := loader.TmpDir(getenv)
	env := map[string]string{}
	if getenv("SF_OCSP_RESPONSE_CACHE_DIR") == "" {
		env["SF_OCSP_RESPONSE_CACHE_DIR"] = filepath.Join(tmp, "snowflake", "ocsp")
	}
	if home := getenv("HOME"); home != "" {
		if _, err := stat(filepath.Join(home, "sf_client_config.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			env["HOME"] = tmp
		}
	}
	return env
}

func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
