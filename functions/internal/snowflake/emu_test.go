package snowflake

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
	scripts "github.com/keyless-etl/s3-snowflake-loader/sql"
)

// The loader's identity in the emulator: the credentials the driver signs its STS request
// with, and the caller the emulator says they stand for.
const (
	testAccount  = "testorg-loader"
	loaderKeyID  = "AKIALOADERTEST000001"
	loaderSecret = "loader-secret"
	loaderARN    = "arn:aws:sts::123456789012:assumed-role/loader-role/loader-session"
	loaderRole   = "arn:aws:iam::123456789012:role/loader-role"
	strangerKey  = "AKIASTRANGERTEST0001"
	strangerARN  = "arn:aws:sts::123456789012:assumed-role/other-role/other-session"
)

// emulator starts a Snowflake emulator in memory with sql/setup.sql and sql/lambda_wid.sql
// applied, and points the driver's AWS credential chain at the loader's identity.
func emulator(t testing.TB) *sfemu.Server {
	t.Helper()
	return emulatorLogging(t, nil)
}

// emulatorLogging is emulator with the emulator's log records sent to log.
func emulatorLogging(t testing.TB, log *slog.Logger) *sfemu.Server {
	t.Helper()
	ctx := context.Background()
	// The stage is an S3 location over TLS, as in production, so the driver's S3 upload and
	// encryption run; the driver trusts the endpoint through the standard variable.
	cert, err := sfemu.StageCertFile()
	require.NoError(t, err)
	t.Setenv("SSL_CERT_FILE", cert)
	s, err := sfemu.Start(ctx, sfemu.Config{
		Account:       testAccount,
		StageLocation: "S3",
		Identities: []sfemu.Identity{
			{AccessKeyID: loaderKeyID, SecretAccessKey: loaderSecret, ARN: loaderARN},
			{AccessKeyID: strangerKey, SecretAccessKey: "stranger-secret", ARN: strangerARN},
		},
		Logger: log,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.ExecScript(ctx, scripts.Setup, nil))
	require.NoError(t, s.ExecScript(ctx, scripts.LambdaWID, map[string]string{"role_arn": loaderRole}))
	useIdentity(t, loaderKeyID, loaderSecret)
	s.ResetStats()
	return s
}

// useIdentity sets the AWS variables the driver reads to build its attestation.
func useIdentity(t testing.TB, keyID, secret string) {
	t.Helper()
	for k, v := range (sfemu.Identity{AccessKeyID: keyID, SecretAccessKey: secret}).Env() {
		t.Setenv(k, v)
	}
}

// emuConfig is the client configuration for s, with short timeouts so a failure is quick.
func emuConfig(s *sfemu.Server) Config {
	cfg := DefaultConfig(testAccount)
	cfg.Host, cfg.Port, cfg.Protocol = s.Host(), s.Port(), "http"
	cfg.LoginTimeout, cfg.RequestTimeout, cfg.MaxRetries = 5*time.Second, 5*time.Second, 2
	return cfg
}

// newClient returns a client of s whose log lines go to logs (may be nil).
func newClient(t testing.TB, s *sfemu.Server, logs *bytes.Buffer) *Client {
	t.Helper()
	var log *slog.Logger
	if logs != nil {
		log = slog.New(slog.NewJSONHandler(logs, nil))
	} else {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := New(emuConfig(s), log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// query runs sql as the emulator's administrator and returns the rows.
func query(t testing.TB, s *sfemu.Server, sql string) [][]any {
	t.Helper()
	_, rows, err := s.Query(context.Background(), sql)
	require.NoError(t, err, sql)
	return rows
}

// count returns the single number sql selects.
func count(t testing.TB, s *sfemu.Server, sql string) int64 {
	t.Helper()
	rows := query(t, s, sql)
	require.Len(t, rows, 1)
	require.Len(t, rows[0], 1)
	var n int64
	_, err := fmt.Sscan(fmt.Sprint(rows[0][0]), &n)
	require.NoError(t, err, "%v", rows[0][0])
	return n
}

// testFile describes a file of n records whose payloads name the file.
type testFile struct {
	File
	records int
}

// newBatch builds a batch of files with generated records.
func newBatch(loadID string, files ...testFile) *Batch {
	b := &Batch{Table: "RAW_DATA", LoadID: loadID, LoadedAt: time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)}
	for _, f := range files {
		i := b.AddFile(f.File)
		for n := 1; n <= f.records; n++ {
			b.AddRecord(i, int64(n), fmt.Appendf(nil,
				`{"key":%q,"version":%q,"n":%d,"action":"purchase","amount":1.25,"timestamp":"2026-11-02T10:00:00Z"}`,
				f.Key, f.VersionID, n))
		}
	}
	return b
}

func fileVersion(key, id, sequencer string, records int) testFile {
	return testFile{File: File{
		Bucket: "landing", Key: key, VersionID: id, ETag: "etag-" + id, Size: int64(100 * records),
		Sequencer: sequencer, EventTime: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC),
		Principal: "AWS:AIDAEXAMPLE", SourceIP: "203.0.113.7",
	}, records: records}
}

// faultAfter is an emulator log handler that injects fault once the emulator has run a
// statement starting with prefix. The emulator matches faults by statement kind only; this
// is how a test makes the second INSERT of a batch fail and not the first.
type faultAfter struct {
	slog.Handler
	prefix string
	fault  sfemu.Fault
	server *sfemu.Server // set once the emulator runs
	once   *sync.Once
}

func newFaultAfter(prefix string, fault sfemu.Fault) *faultAfter {
	return &faultAfter{Handler: slog.DiscardHandler, prefix: prefix, fault: fault, once: &sync.Once{}}
}

func (h *faultAfter) Enabled(context.Context, slog.Level) bool { return true }

func (h *faultAfter) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "statement" || h.server == nil {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "sql" && strings.HasPrefix(a.Value.String(), h.prefix) {
			h.once.Do(func() { h.server.InjectFault(h.fault) })
			return false
		}
		return true
	})
	return nil
}
