package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// validatorVariables are the environment variables of the validator Lambda that describe what
// it accepts and where it routes (template.yaml and the README's configuration reference). The
// ones that name the deployment (state machine, queues, prefixes) are the local stack's own.
var validatorVariables = []string{
	"SCHEMA_URI", "MAX_BAD_RECORDS", "LOSSY_NUMBERS", "ROUTES", "ALLOWED_TABLES",
	"MAX_FILE_BYTES", "MAX_DECOMPRESSED_BYTES", "MAX_COMPRESSION_RATIO",
	"BATCH_MAX_FILES", "BATCH_MAX_BYTES", "VALIDATOR_WORKERS",
}

// validatorFlag maps a flag to the variable it sets.
var validatorFlag = map[string]string{
	"schema":          "SCHEMA_URI",
	"max-bad-records": "MAX_BAD_RECORDS",
	"lossy-numbers":   "LOSSY_NUMBERS",
	"routes":          "ROUTES",
	"allowed-tables":  "ALLOWED_TABLES",
}

// addValidatorFlags adds the flags of the validator's settings to fs. The function it returns
// gives the settings as the Lambda's environment would hold them, once fs is parsed: the
// process environment first, the flags over it. Any command that runs the gates uses it, so
// they all judge a file the same way.
func addValidatorFlags(fs *flag.FlagSet) func(getenv func(string) string, set map[string]bool) (map[string]string, error) {
	var schema, maxBad, lossy, routes, allowed string
	fs.StringVar(&schema, "schema", "", "record schema (JSON Schema 2020-12) to gate records with, instead of the shipped one (as SCHEMA_URI)")
	fs.StringVar(&maxBad, "max-bad-records", "", "invalid records a file may have before it is rejected; they are skipped and reported (as MAX_BAD_RECORDS; default 0)")
	fs.StringVar(&lossy, "lossy-numbers", "", "reject or warn: what to do with a number Snowflake would store with fewer digits (as LOSSY_NUMBERS; default reject)")
	fs.StringVar(&routes, "routes", "", "key prefixes (and record field values) to tables, e.g. incoming/orders/=ORDERS (as ROUTES; default: all to RAW_DATA)")
	fs.StringVar(&allowed, "allowed-tables", "", "comma-separated tables routes may name (as ALLOWED_TABLES; default RAW_DATA)")
	return func(getenv func(string) string, set map[string]bool) (map[string]string, error) {
		env := map[string]string{}
		for _, name := range validatorVariables {
			if v := getenv(name); v != "" {
				env[name] = v
			}
		}
		values := map[string]string{"schema": schema, "max-bad-records": maxBad, "lossy-numbers": lossy, "routes": routes, "allowed-tables": allowed}
		for f, v := range values {
			if set[f] {
				env[validatorFlag[f]] = v
			}
		}
		if set["max-bad-records"] {
			if n, err := strconv.ParseInt(strings.TrimSpace(maxBad), 10, 64); err != nil || n < 0 {
				return nil, fmt.Errorf("--max-bad-records %q must be a whole number of at least 0", maxBad)
			}
		}
		// A schema given as a path is read by the validator when it starts; check it here so
		// that a typo is reported before anything runs, and make it absolute so that it does
		// not depend on where the stack runs from.
		if uri := env["SCHEMA_URI"]; uri != "" && !strings.HasPrefix(uri, "s3://") {
			name := "--schema"
			if !set["schema"] {
				name = "SCHEMA_URI"
			}
			path := strings.TrimPrefix(uri, "file://")
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("%s %s: no such file; give the path of a JSON Schema file", name, uri)
			}
			if abs, err := filepath.Abs(path); err == nil {
				env["SCHEMA_URI"] = abs
			}
		}
		return env, nil
	}
}
