package validator

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/route"
)

// Settings is everything the validator reads from its environment.
type Settings struct {
	Validator Config
	Gate      gate.Config
	Router    *route.Router
	SchemaURI string
	// Stage names the deployment in metric dimensions.
	Stage string
}

// LoadSettings reads the environment through getenv and reports every missing or malformed
// variable at once, so a deployment is fixed in one go.
func LoadSettings(getenv func(string) string) (Settings, error) {
	s := Settings{Validator: DefaultConfig(), Gate: gate.DefaultConfig()}
	var problems []string
	bad := func(name, why string) { problems = append(problems, name+" "+why) }

	str := func(name string, dst *string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	i64 := func(name string, dst *int64) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				bad(name, fmt.Sprintf("must be a whole number of at least 0, got %q", v))
				return
			}
			*dst = n
		}
	}
	integer := func(name string, dst *int) {
		n := int64(*dst)
		i64(name, &n)
		*dst = int(n)
	}

	s.Validator.StateMachineARN = strings.TrimSpace(getenv("STATE_MACHINE_ARN"))
	if s.Validator.StateMachineARN == "" {
		bad("STATE_MACHINE_ARN", "is not set (the ARN of the loader state machine)")
	}
	str("INCOMING_PREFIX", &s.Validator.IncomingPrefix)
	str("QUARANTINE_PREFIX", &s.Validator.QuarantinePrefix)
	str("DEAD_LETTER_QUEUE_URL", &s.Validator.DeadLetterQueueURL)
	str("SCHEMA_URI", &s.SchemaURI)
	str("STAGE", &s.Stage)
	i64("MAX_FILE_BYTES", &s.Gate.MaxFileBytes)
	i64("MAX_DECOMPRESSED_BYTES", &s.Gate.MaxDecompressedBytes)
	i64("MAX_BAD_RECORDS", &s.Gate.MaxBadRecords)
	if s.Gate.MaxBadRecords > batch.MaxSkips {
		bad("MAX_BAD_RECORDS", fmt.Sprintf("must be at most %d, got %d: the skipped records' numbers travel in the execution input, "+
			"which Step Functions limits to 256 KiB; a file with more invalid records than that should be rejected and fixed", batch.MaxSkips, s.Gate.MaxBadRecords))
	}
	integer("BATCH_MAX_FILES", &s.Validator.Caps.MaxFiles)
	i64("BATCH_MAX_BYTES", &s.Validator.Caps.MaxBytes)
	integer("VALIDATOR_WORKERS", &s.Validator.Workers)
	if v := strings.TrimSpace(getenv("MAX_COMPRESSION_RATIO")); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 1 {
			bad("MAX_COMPRESSION_RATIO", fmt.Sprintf("must be a number of at least 1, got %q", v))
		} else {
			s.Gate.MaxRatio = r
		}
	}
	if v := strings.ToLower(strings.TrimSpace(getenv("LOSSY_NUMBERS"))); v != "" {
		switch p := gate.Precision(v); p {
		case gate.PrecisionReject, gate.PrecisionWarn:
			s.Gate.Precision = p
		default:
			bad("LOSSY_NUMBERS", fmt.Sprintf("must be %q or %q, got %q", gate.PrecisionReject, gate.PrecisionWarn, v))
		}
	}
	if v := strings.TrimSpace(getenv("VALIDATOR_TIME_MARGIN")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			bad("VALIDATOR_TIME_MARGIN", fmt.Sprintf("must be a duration such as 10s, got %q", v))
		} else {
			s.Validator.TimeMargin = d
		}
	}
	var allowed []string
	if v := getenv("ALLOWED_TABLES"); v != "" {
		allowed = strings.Split(v, ",")
	}
	router, err := route.Parse(getenv("ROUTES"), allowed)
	if err != nil {
		bad("ROUTES", err.Error())
	}
	s.Router = router

	if len(problems) == 0 {
		if err := s.Validator.Validate(); err != nil {
			problems = append(problems, err.Error())
		}
		if err := s.Gate.Validate(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return Settings{}, errors.New("validator configuration: " + strings.Join(problems, "; "))
	}
	return s, nil
}
