// Package s3local serves S3 in process on loopback, for tests and local runs; Lambda builds never link it.
package s3local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/spf13/afero"
)

// Region and the static credentials below are what local clients sign with; gofakes3 accepts any.
const (
	Region          = "us-east-1"
	AccessKeyID     = "LOCALS3ACCESSKEY"
	SecretAccessKey = "local-s3-secret"
)

// Options says where objects live and which buckets exist at start.
type Options struct {
	// Dir keeps objects on disk under this folder, so memory stays flat however many files a
	// run uploads. The disk backend has no versioning: objects carry only an ETag. Empty keeps
	// objects in memory with versioning enabled on every bucket.
	Dir     string
	Buckets []string
	// Notify, when set, receives the event S3 would send for each object created.
	Notify Notifier
	// Wrap, when set, wraps the S3 handler (for fault injection in local runs).
	Wrap func(http.Handler) http.Handler
}

// Server is S3 on a loopback port.
type Server struct {
	URL    string
	srv    *http.Server
	client *s3.Client
}

// Start serves S3 on 127.0.0.1 on a free port and creates the buckets.
func Start(ctx context.Context, opt Options) (*Server, error) {
	backend, versioned, err := newBackend(opt.Dir)
	if err != nil {
		return nil, err
	}
	faker := gofakes3.New(backend)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("s3local: listen on loopback: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String()}
	s.client = newClient(s.URL)
	var handler http.Handler = faker.Server()
	if opt.Notify != nil {
		handler = &notifying{next: handler, server: s, notify: opt.Notify}
	}
	if opt.Wrap != nil {
		handler = opt.Wrap(handler)
	}
	s.srv = &http.Server{Handler: handler}
	go func() { _ = s.srv.Serve(ln) }()

	client := s.Client()
	for _, b := range opt.Buckets {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil && !alreadyExists(err) {
			_ = s.Close()
			return nil, fmt.Errorf("s3local: create bucket %s: %w", b, err)
		}
		if !versioned {
			continue
		}
		_, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  aws.String(b),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		})
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("s3local: enable versioning on %s: %w", b, err)
		}
	}
	return s, nil
}

func newBackend(dir string) (gofakes3.Backend, bool, error) {
	if dir == "" {
		return s3mem.New(), true, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, false, fmt.Errorf("s3local: create %s: %w", abs, err)
	}
	if err := keepETags(abs); err != nil {
		return nil, false, fmt.Errorf("s3local: check the objects in %s: %w", abs, err)
	}
	// s3afero refuses a bare OS filesystem; a base-path filesystem rooted at the folder is
	// what it expects.
	fs := afero.NewBasePathFs(afero.NewOsFs(), abs)
	b, err := s3afero.MultiBucket(fs)
	if err != nil {
		return nil, false, fmt.Errorf("s3local: open %s: %w", abs, err)
	}
	return b, false, nil
}

func alreadyExists(err error) bool {
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	return errors.As(err, &owned) || errors.As(err, &exists)
}

// Client returns the SDK client for this server, built once with explicit options (never
// from the environment) so a test cannot reach a real account by accident. One client means
// one connection pool: a client per call would leave its keep-alive connections open.
func (s *Server) Client() *s3.Client {
	return s.client
}

func newClient(url string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(url),
		Region:                     Region,
		Credentials:                credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Env returns the standard SDK variables that point code building its clients from the
// environment (config.LoadDefaultConfig) at this server.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_S3":              s.URL,
		"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
	}
}

// Close stops the server.
func (s *Server) Close() error {
	return s.srv.Close()
}
