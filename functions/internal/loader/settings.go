package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/snowflake"
)

// Settings is the loader's configuration, read from the function's environment.
type Settings struct {
	Snowflake snowflake.Config
	// Stage names the deployment in metric dimensions (STAGE).
	Stage string
}

// LoadSettings reads the environment through getenv. SNOWFLAKE_ACCOUNT is required; the
// other SNOWFLAKE_* variables default to the objects sql/setup.sql creates, and
// SNOWFLAKE_LOCK_TIMEOUT_SECONDS and SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS to the snowflake
// package's defaults. Every missing or
// malformed variable is named in one error, so a misconfigured deployment is fixed in one go.
func LoadSettings(getenv func(string) string) (Settings, error) {
	cfg := snowflake.DefaultConfig(strings.TrimSpace(getenv("SNOWFLAKE_ACCOUNT")))
	var errs []error
	if cfg.Account == "" {
		errs = append(errs, errors.New("SNOWFLAKE_ACCOUNT is not set (the account identifier, e.g. myorg-myaccount)"))
	}
	for _, v := range []struct {
		name string
		dst  *string
	}{
		{"SNOWFLAKE_USER", &cfg.User}, {"SNOWFLAKE_ROLE", &cfg.Role},
		{"SNOWFLAKE_WAREHOUSE", &cfg.Warehouse}, {"SNOWFLAKE_DATABASE", &cfg.Database},
		{"SNOWFLAKE_SCHEMA", &cfg.Schema}, {"SNOWFLAKE_HOST", &cfg.Host},
	} {
		if s := strings.TrimSpace(getenv(v.name)); s != "" {
			*v.dst = s
		}
	}
	if s := strings.TrimSpace(getenv("SNOWFLAKE_PROTOCOL")); s != "" {
		cfg.Protocol = strings.ToLower(s)
		if cfg.Protocol != "http" && cfg.Protocol != "https" {
			errs = append(errs, fmt.Errorf("SNOWFLAKE_PROTOCOL=%q is not http or https", s))
		}
	}
	if s := strings.TrimSpace(getenv("SNOWFLAKE_PORT")); s != "" {
		port, err := strconv.Atoi(s)
		if err != nil || port < 1 || port > 65535 {
			errs = append(errs, fmt.Errorf("SNOWFLAKE_PORT=%q is not a port number (1-65535)", s))
		} else {
			cfg.Port = port
		}
	}
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{
		{"SNOWFLAKE_LOCK_TIMEOUT_SECONDS", &cfg.LockTimeout},
		{"SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS", &cfg.StatementTimeout},
	} {
		if s := strings.TrimSpace(getenv(v.name)); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 604800 {
				errs = append(errs, fmt.Errorf("%s=%q is not a number of seconds (1-604800)", v.name, s))
				continue
			}
			*v.dst = time.Duration(n) * time.Second
		}
	}
	// Lambda can write only under /tmp; TMPDIR, when set, says where that is elsewhere.
	cfg.TmpDir = TmpDir(getenv)
	if len(errs) == 0 {
		if err := cfg.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("loader configuration: %w", errors.Join(errs...))
	}
	return Settings{Snowflake: cfg, Stage: strings.TrimSpace(getenv("STAGE"))}, nil
}

// TmpDir is the writable directory: TMPDIR when set, else /tmp as on Lambda.
func TmpDir(getenv func(string) string) string {
	if d := getenv("TMPDIR"); d != "" {
		return d
	}
	return "/tmp"
}

// Build makes the handler as a container runs it: an S3 client from awsCfg (which carries
// the SDK's endpoint settings, AWS_ENDPOINT_URL_S3 included) and a Snowflake client that logs
// in on first use.
func Build(_ context.Context, s Settings, awsCfg aws.Config, logger *slog.Logger) (*Handler, error) {
	obs.InstrumentAWS(&awsCfg)
	store, err := snowflake.New(s.Snowflake, logger)
	if err != nil {
		return nil, err
	}
	return &Handler{
		S3: s3.NewFromConfig(awsCfg), Store: store, Logger: logger,
		Metrics: obs.NewMetrics("loader", s.Stage), MetricsOut: os.Stdout,
	}, nil
}

// Logins counts the Snowflake sessions this container opened.
func (h *Handler) Logins() int64 { return h.Store.Logins() }

// Close ends the container's Snowflake sessions.
func (h *Handler) Close() error { return h.Store.Close() }
