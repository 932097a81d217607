package validator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
)

// Build makes the handler the Lambda runs from its settings and an AWS configuration. The
// Lambda's main and the local runner both call it, so both run the same handler, wired the
// same way.
func Build(ctx context.Context, s Settings, awsCfg aws.Config, logger *slog.Logger) (*Handler, error) {
	obs.InstrumentAWS(&awsCfg)
	s3c := s3.NewFromConfig(awsCfg)
	g, err := NewGate(ctx, s, s3c)
	if err != nil {
		return nil, err
	}
	return &Handler{
		Config:     s.Validator,
		S3:         s3c,
		SFN:        sfn.NewFromConfig(awsCfg),
		DLQ:        sqs.NewFromConfig(awsCfg),
		Gate:       g,
		Router:     s.Router,
		Logger:     logger,
		Now:        time.Now,
		Metrics:    obs.NewMetrics("validator", s.Stage),
		MetricsOut: os.Stdout,
	}, nil
}

// NewGate compiles the record schema the settings name and builds the gate the handler
// runs, with the route field its router reads. The handler and the local check command both
// build their gate here, so a file passes one exactly when it passes the other. s3c reads an
// s3:// schema; nil refuses one.
func NewGate(ctx context.Context, s Settings, s3c *s3.Client) (*gate.Gate, error) {
	schema, err := loadSchema(ctx, s3c, s.SchemaURI)
	if err != nil {
		return nil, err
	}
	name := s.SchemaURI
	if name == "" {
		name = "events.schema.json"
	}
	cfg := s.Gate
	cfg.Schema, err = gate.CompileSchema(name, schema)
	if err != nil {
		return nil, fmt.Errorf("SCHEMA_URI %s: %w", name, err)
	}
	if s.Router != nil {
		cfg.RouteField = s.Router.Field()
	}
	return gate.New(cfg)
}

// loadSchema reads the record schema: the one shipped with the project, a file in the
// deployment package, or an object in S3 (s3://bucket/key).
func loadSchema(ctx context.Context, s3c *s3.Client, uri string) ([]byte, error) {
	switch {
	case uri == "":
		return gate.DefaultSchema(), nil
	case strings.HasPrefix(uri, "s3://") && s3c == nil:
		return nil, fmt.Errorf("SCHEMA_URI %s is in S3, which is not reachable here: give a copy of the schema as a local file", uri)
	case strings.HasPrefix(uri, "s3://"):
		bucket, key, _ := strings.Cut(strings.TrimPrefix(uri, "s3://"), "/")
		out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, fmt.Errorf("SCHEMA_URI %s: %w", uri, err)
		}
		defer out.Body.Close()
		return io.ReadAll(io.LimitReader(out.Body, 4<<20))
	default:
		b, err := os.ReadFile(strings.TrimPrefix(uri, "file://"))
		if err != nil {
			return nil, fmt.Errorf("SCHEMA_URI: %w", err)
		}
		return b, nil
	}
}
