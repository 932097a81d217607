package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3local"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/snowflake"
	scripts "github.com/keyless-etl/s3-snowflake-loader/sql"
)

const (
	bucket       = "landing"
	loaderKeyID  = "AKIALOADERTEST000001"
	loaderSecret = "loader-secret"
	loaderARN    = "arn:aws:sts::123456789012:assumed-role/loader-role/loader-session"
	loaderRole   = "arn:aws:iam::123456789012:role/loader-role"
	strangerKey  = "AKIASTRANGERTEST0001"
	strangerARN  = "arn:aws:sts::123456789012:assumed-role/other-role/other-session"
)

// stack is the loader against S3 in process and the Snowflake emulator, both on loopback.
type stack struct {
	s3url string
	s3    *s3.Client
	sf    *sfemu.Server
	store *snowflake.Client
	h     *Handler
	logs  *bytes.Buffer
}

func newStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	srv, err := s3local.Start(ctx, s3local.Options{Buckets: []string{bucket}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })

	sf, err := sfemu.Start(ctx, sfemu.Config{Identities: []sfemu.Identity{
		{AccessKeyID: loaderKeyID, SecretAccessKey: loaderSecret, ARN: loaderARN},
		{AccessKeyID: strangerKey, SecretAccessKey: "stranger-secret", ARN: strangerARN},
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sf.Close() })
	require.NoError(t, sf.ExecScript(ctx, scripts.Setup, nil))
	require.NoError(t, sf.ExecScript(ctx, scripts.LambdaWID, map[string]string{"role_arn": loaderRole}))
	useIdentity(t, loaderKeyID, loaderSecret)

	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	store, err := snowflake.New(emuConfig(sf), logger)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	return &stack{
		s3url: srv.URL, s3: srv.Client(), sf: sf, store: store, logs: logs,
		h: &Handler{S3: srv.Client(), Store: store, Logger: logger},
	}
}

func useIdentity(t testing.TB, keyID, secret string) {
	t.Helper()
	for k, v := range (sfemu.Identity{AccessKeyID: keyID, SecretAccessKey: secret}).Env() {
		t.Setenv(k, v)
	}
}

func emuConfig(sf *sfemu.Server) snowflake.Config {
	cfg := snowflake.DefaultConfig("testorg-loader")
	cfg.Host, cfg.Port, cfg.Protocol = sf.Host(), sf.Port(), "http"
	cfg.LoginTimeout, cfg.RequestTimeout, cfg.MaxRetries = 5*time.Second, 5*time.Second, 2
	return cfg
}

// put uploads body under key and returns the batch entry the validator would have made.
func (st *stack) put(t *testing.T, key, body string, sequencer string) batch.File {
	t.Helper()
	out, err := st.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
	})
	require.NoError(t, err)
	return batch.File{
		Bucket: bucket, Key: key, VersionID: aws.ToString(out.VersionId), ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		Size: int64(len(body)), Sequencer: sequencer, EventName: "ObjectCreated:Put",
		EventTime: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC), Principal: "AWS:AIDAEXAMPLE", SourceIP: "203.0.113.7",
		Records: int64(strings.Count(body, "\n")),
	}
}

// events returns n NDJSON events of one day.
func events(n int, tag string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"event_id":"%s-%d","action":"purchase","amount":2.50,"timestamp":"2026-11-02T10:00:00Z"}`+"\n", tag, i)
	}
	return b.String()
}

func (st *stack) count(t *testing.T, sql string) int64 {
	t.Helper()
	_, rows, err := st.sf.Query(context.Background(), sql)
	require.NoError(t, err, sql)
	require.Len(t, rows, 1)
	var n int64
	_, err = fmt.Sscan(fmt.Sprint(rows[0][0]), &n)
	require.NoError(t, err)
	return n
}

func TestWarmLoaderLogsInOnce(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	for i := range 20 {
		a := st.put(t, fmt.Sprintf("incoming/%02d-a.ndjson", i), events(3, fmt.Sprint(i)), "0A")
		b := st.put(t, fmt.Sprintf("incoming/%02d-b.ndjson", i), events(2, fmt.Sprint(i)), "0A")
		in := input(a, b)
		in.Name = fmt.Sprintf("load-%02d", i)
		out, err := st.h.Handle(ctx, in)
		require.NoError(t, err, "batch %d", i)
		assert.Equal(t, 2, out.FilesLoaded)
		assert.Equal(t, int64(5), out.RowsLoaded)
	}
	assert.Equal(t, int64(1), st.sf.Stats().Logins, "one login for the container")
	assert.Equal(t, int64(1), st.store.Logins())
	assert.Equal(t, int64(100), st.count(t, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"))
	assert.Equal(t, int64(40), st.count(t, "SELECT COUNT(*) FROM LOADER_DB.RAW.FILE_LOADS"))
}

func TestRedeliveredBatchLeavesOneCopy(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	in := input(st.put(t, "incoming/a.ndjson", events(4, "a"), "0A"))
	first, err := st.h.Handle(ctx, in)
	require.NoError(t, err)
	again, err := st.h.Handle(ctx, in)
	require.NoError(t, err)

	assert.Equal(t, "loaded", first.Files[0].Status)
	assert.Equal(t, "reloaded", again.Files[0].Status)
	assert.Equal(t, int64(4), st.count(t, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"))
}

func TestOlderVersionAfterNewerChangesNothing(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	v1 := st.put(t, "incoming/a.ndjson", events(2, "v1"), "0055AED6DCD90281E5")
	v2 := st.put(t, "incoming/a.ndjson", events(3, "v2"), "0055AED6DCD90281E6")

	out, err := st.h.Handle(ctx, input(v2))
	require.NoError(t, err)
	assert.Equal(t, "loaded", out.Files[0].Status)
	out, err = st.h.Handle(ctx, input(v1))
	require.NoError(t, err)
	assert.Equal(t, "skipped_older", out.Files[0].Status)

	assert.Equal(t, int64(3), st.count(t, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_VERSION_ID = '"+v2.VersionID+"'"))
	assert.Equal(t, int64(3), st.count(t, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"))
}

func TestS3Outcomes(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()

	// The bucket answers GET without honouring If-Match; the ETag of the answer shows that
	// the object was overwritten after validation.
	changed := st.put(t, "incoming/changed.ndjson", events(2, "old"), "0A")
	changed.VersionID = ""
	st.put(t, "incoming/changed.ndjson", events(2, "new"), "0B")

	missing := st.put(t, "incoming/gone.ndjson", events(1, "x"), "0A")
	missing.Key = "incoming/never-uploaded.ndjson"

	badVersion := st.put(t, "incoming/versioned.ndjson", events(1, "x"), "0A")
	badVersion.VersionID = "no-such-version"

	invalid := st.put(t, "incoming/invalid.ndjson", "{\"n\":1}\n{\"n\":\n", "0A")

	superseded := []struct {
		name string
		file batch.File
	}{
		{"object changed", changed},
		{"object missing", missing},
		{"version missing", badVersion},
	}
	for _, tt := range superseded {
		t.Run(tt.name, func(t *testing.T) {
			out, err := st.h.Handle(ctx, input(tt.file))
			require.NoError(t, err)
			require.Len(t, out.Files, 1)
			assert.Equal(t, "superseded", out.Files[0].Status)
			assert.Equal(t, 1, out.FilesSuperseded)
		})
	}
	t.Run("content invalid", func(t *testing.T) {
		_, err := st.h.Handle(ctx, input(invalid))
		assert.Equal(t, NameDataInvalid, errorName(t, err))
	})
	assert.Equal(t, int64(0), st.count(t, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"))
}

// TestChangedFileDoesNotFailItsBatch loads a batch in which one object of an unversioned
// bucket was overwritten after validation: the other files load on the emulator, the changed
// one is reported superseded, and its newer version loads from its own notification.
func TestChangedFileDoesNotFailItsBatch(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	a := st.put(t, "incoming/a.ndjson", events(2, "a"), "0A")
	b := st.put(t, "incoming/b.ndjson", events(3, "b-old"), "0B")
	c := st.put(t, "incoming/c.ndjson", events(4, "c"), "0C")
	for _, f := range []*batch.File{&a, &b, &c} {
		f.VersionID = ""
	}
	newer := st.put(t, "incoming/b.ndjson", events(5, "b-new"), "0D")
	newer.VersionID = ""

	out, err := st.h.Handle(ctx, input(a, b, c))
	require.NoError(t, err)
	assert.Equal(t, []string{"loaded", "superseded", "loaded"}, statuses(out))
	assert.Equal(t, int64(6), out.RowsLoaded)
	assert.Equal(t, int64(6), st.count(t, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA"))
	assert.Equal(t, int64(0), st.count(t, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY = 'incoming/b.ndjson'"))
	assert.Contains(t, st.logs.String(), `"msg":"file skipped: superseded"`)

	out, err = st.h.Handle(ctx, input(newer))
	require.NoError(t, err)
	assert.Equal(t, []string{"loaded"}, statuses(out))
	assert.Equal(t, int64(5), st.count(t, "SELECT COUNT(*) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY = 'incoming/b.ndjson'"))
}

func statuses(out Output) []string {
	var s []string
	for _, f := range out.Files {
		s = append(s, f.Status)
	}
	return s
}

func TestUntrustedRoleLogsTheFix(t *testing.T) {
	st := newStack(t)
	useIdentity(t, strangerKey, "stranger-secret")
	in := input(st.put(t, "incoming/a.ndjson", events(1, "a"), "0A"))

	_, err := st.h.Handle(context.Background(), in)
	assert.Equal(t, snowflake.NameAuth, errorName(t, err))
	assert.Contains(t, err.Error(), "Unable to find an associated Snowflake user")

	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(st.logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		if m["msg"] == "batch failed" {
			line = m
		}
	}
	require.NotNil(t, line, "a failure line at the boundary: %s", st.logs.String())
	assert.Equal(t, snowflake.NameAuth, line["error_name"])
	assert.Equal(t, strangerARN, line["presented_arn"])
	assert.Equal(t, "arn:aws:iam::123456789012:role/other-role", line["role_arn"])
	assert.Equal(t, "CREATE USER LAMBDA_LOADER_BOT TYPE = SERVICE WORKLOAD_IDENTITY = (TYPE = AWS ARN = 'arn:aws:iam::123456789012:role/other-role') DEFAULT_ROLE = LOADER_ROLE;", line["create_user"])
	assert.Equal(t, "GRANT ROLE LOADER_ROLE TO USER LAMBDA_LOADER_BOT;", line["grant_role"])
	assert.Equal(t, "testorg-loader", line["account"])
	assert.Equal(t, "LAMBDA_LOADER_BOT", line["user"])
	assert.EqualValues(t, 0, line["logins"])
}
