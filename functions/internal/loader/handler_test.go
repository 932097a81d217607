package loader

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/snowflake"
)

// fakeS3 serves objects from memory by key; getObject, when set, answers instead.
type fakeS3 struct {
	objects   map[string]string
	etags     map[string]string
	getObject func(in *s3.GetObjectInput) (*s3.GetObjectOutput, error)
	requests  []*s3.GetObjectInput
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.requests = append(f.requests, in)
	if f.getObject != nil {
		return f.getObject(in)
	}
	body, ok := f.objects[*in.Key]
	if !ok {
		return nil, &types.NoSuchKey{}
	}
	out := &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(body))}
	if e, ok := f.etags[*in.Key]; ok {
		out.ETag = aws.String(e)
	}
	return out, nil
}

// fakeStore records the batch it is given and answers with load, or loads every file.
type fakeStore struct {
	load   func(b *snowflake.Batch) (*snowflake.Result, error)
	batch  *snowflake.Batch
	logins int64
}

func (f *fakeStore) Load(_ context.Context, b *snowflake.Batch) (*snowflake.Result, error) {
	f.batch = b
	if f.load != nil {
		return f.load(b)
	}
	res := &snowflake.Result{}
	for i := range b.Files() {
		res.Files = append(res.Files, snowflake.FileResult{Status: snowflake.StatusLoaded, Rows: b.Rows(i)})
	}
	return res, nil
}

func (f *fakeStore) Logins() int64 { return f.logins }

func (f *fakeStore) Close() error { return nil }

var eventTime = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func file(key string, records int64) batch.File {
	return batch.File{
		Bucket: "landing", Key: key, VersionID: "v-" + key, ETag: "etag-" + key, Size: 100,
		Sequencer: "0055AED6DCD90281E5", EventName: "ObjectCreated:Put", EventTime: eventTime,
		Principal: "AWS:AIDAEXAMPLE", SourceIP: "203.0.113.7", Records: records,
	}
}

func input(files ...batch.File) batch.Input {
	return batch.Input{Version: batch.Version, Table: "RAW_DATA", Name: "load-1", Files: files, DeadLetter: json.RawMessage(`{}`)}
}

func newHandler(s3c ObjectReader, store Store, logs io.Writer) *Handler {
	if logs == nil {
		logs = io.Discard
	}
	return &Handler{
		S3: s3c, Store: store, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Now: func() time.Time { return time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC) },
	}
}

// errorName asserts err is the value InvokeResponse_Error the Lambda runtime recognises and
// returns its Type.
func errorName(t *testing.T, err error) string {
	t.Helper()
	require.Error(t, err)
	ive, ok := err.(messages.InvokeResponse_Error) //nolint:errorlint // the runtime asserts exactly this
	require.True(t, ok, "error is a messages.InvokeResponse_Error value, got %T", err)
	return ive.Type
}

func TestHandleLoadsAndReports(t *testing.T) {
	s3c := &fakeS3{objects: map[string]string{
		"a.ndjson": "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n",
		"b.json":   `[{"n":1},{"bad":true},{"n":3}]`,
	}}
	store := &fakeStore{logins: 1}
	b := file("b.json", 3)
	b.Skip = []int64{2}
	out, err := newHandler(s3c, store, nil).Handle(context.Background(), input(file("a.ndjson", 3), b))
	require.NoError(t, err)

	got, err := json.Marshal(out)
	require.NoError(t, err)
	assert.JSONEq(t, `{"load_id":"load-1","table":"RAW_DATA","files":[
		{"key":"a.ndjson","version_id":"v-a.ndjson","rows":3,"status":"loaded"},
		{"key":"b.json","version_id":"v-b.json","rows":2,"status":"loaded"}],
		"files_loaded":2,"rows_loaded":5}`, string(got))

	require.NotNil(t, store.batch)
	assert.Equal(t, "RAW_DATA", store.batch.Table)
	assert.Equal(t, "load-1", store.batch.LoadID)
	assert.Equal(t, time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), store.batch.LoadedAt)
	require.Len(t, store.batch.Files(), 2)
	assert.Equal(t, snowflake.File{
		Bucket: "landing", Key: "a.ndjson", VersionID: "v-a.ndjson", ETag: "etag-a.ndjson", Size: 100,
		Sequencer: "0055AED6DCD90281E5", EventTime: eventTime, Principal: "AWS:AIDAEXAMPLE", SourceIP: "203.0.113.7",
	}, store.batch.Files()[0])
	assert.Equal(t, int64(2), store.batch.Rows(1), "the skipped record is left out")

	// Reads name the validated version.
	require.Len(t, s3c.requests, 2)
	assert.Equal(t, "v-a.ndjson", aws.ToString(s3c.requests[0].VersionId))
	assert.Nil(t, s3c.requests[0].IfMatch)
}

func TestHandleGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte("{\"n\":1}\n{\"n\":2}\n"))
	require.NoError(t, zw.Close())
	s3c := &fakeS3{objects: map[string]string{"a.ndjson.gz": buf.String()}}
	store := &fakeStore{}
	out, err := newHandler(s3c, store, nil).Handle(context.Background(), input(file("a.ndjson.gz", 2)))
	require.NoError(t, err)
	assert.Equal(t, int64(2), out.RowsLoaded)
}

func TestHandleUnversionedReadsWithIfMatch(t *testing.T) {
	f := file("a.json", 1)
	f.VersionID = ""
	tests := []struct {
		name       string
		answered   string
		wantStatus snowflake.Status
	}{
		{"same ETag", `"etag-a.json"`, snowflake.StatusLoaded},
		// Some S3 implementations ignore If-Match on GET; the answer's ETag gives them away.
		{"object changed", `"etag-other"`, snowflake.StatusSuperseded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s3c := &fakeS3{objects: map[string]string{"a.json": `{"n":1}`}, etags: map[string]string{"a.json": tt.answered}}
			out, err := newHandler(s3c, &fakeStore{}, nil).Handle(context.Background(), input(f))
			require.NoError(t, err)
			require.Len(t, s3c.requests, 1)
			assert.Nil(t, s3c.requests[0].VersionId)
			assert.Equal(t, `"etag-a.json"`, aws.ToString(s3c.requests[0].IfMatch))
			require.Len(t, out.Files, 1)
			assert.Equal(t, string(tt.wantStatus), out.Files[0].Status)
		})
	}
}

func responseError(status int, err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err,
	}}
}

func TestHandleS3Errors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		// A refusal may be a missing permission: skipping would hide it, so the batch fails.
		{"access denied", responseError(403, &smithy.GenericAPIError{Code: "AccessDenied"}), NameS3NotFound},
		{"no such bucket", responseError(404, &smithy.GenericAPIError{Code: "NoSuchBucket"}), NameS3NotFound},
		{"slow down", responseError(503, &smithy.GenericAPIError{Code: "SlowDown"}), NameS3Transient},
		{"internal error", responseError(500, errors.New("boom")), NameS3Transient},
		{"timeout", context.DeadlineExceeded, NameS3Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s3c := &fakeS3{getObject: func(*s3.GetObjectInput) (*s3.GetObjectOutput, error) { return nil, tt.err }}
			var logs bytes.Buffer
			store := &fakeStore{logins: 1}
			_, err := newHandler(s3c, store, &logs).Handle(context.Background(), input(file("a.json", 1)))
			assert.Equal(t, tt.want, errorName(t, err))
			assert.Contains(t, err.(messages.InvokeResponse_Error).Message, "s3://landing/a.json (version v-a.json)")
			assert.Nil(t, store.batch, "nothing reaches Snowflake")

			line := logLine(t, &logs)
			assert.Equal(t, "batch failed", line["msg"])
			assert.Equal(t, tt.want, line["error_name"])
			assert.Equal(t, "a.json", line["s3_key"])
			assert.Equal(t, "load-1", line["load_id"])
			assert.EqualValues(t, 1, line["logins"])
		})
	}
}

func TestHandleBodyReadFails(t *testing.T) {
	s3c := &fakeS3{getObject: func(*s3.GetObjectInput) (*s3.GetObjectOutput, error) {
		return &s3.GetObjectOutput{Body: io.NopCloser(io.MultiReader(strings.NewReader(`{"n":1}`+"\n"), failingReader{}))}, nil
	}}
	_, err := newHandler(s3c, &fakeStore{}, nil).Handle(context.Background(), input(file("a.ndjson", 2)))
	assert.Equal(t, NameS3Transient, errorName(t, err))
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestHandleDataInvalid(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		file     batch.File
		wantRule string
		wantLine float64
		wantMsg  string
	}{
		{name: "broken JSON", body: "{\"n\":1}\n{\"n\":\n", file: file("a.ndjson", 2), wantRule: "json", wantLine: 2},
		{name: "more records than validated", body: "{\"n\":1}\n{\"n\":2}\n", file: file("a.ndjson", 1), wantMsg: "holds 2 records, the validator counted 1"},
		{name: "fewer records than validated", body: "{\"n\":1}\n", file: file("a.ndjson", 3), wantMsg: "holds 1 records, the validator counted 3"},
		{name: "skip outside the file", body: "{\"n\":1}\n", file: func() batch.File { f := file("a.ndjson", 1); f.Skip = []int64{2}; return f }(), wantMsg: "skip list names record 2 of 1"},
		{name: "suffix", body: "{}", file: file("a.csv", 1), wantRule: "suffix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s3c := &fakeS3{objects: map[string]string{tt.file.Key: tt.body}}
			var logs bytes.Buffer
			store := &fakeStore{}
			_, err := newHandler(s3c, store, &logs).Handle(context.Background(), input(tt.file))
			assert.Equal(t, NameDataInvalid, errorName(t, err))
			assert.Nil(t, store.batch)
			msg := err.(messages.InvokeResponse_Error).Message
			assert.Contains(t, msg, "s3://landing/"+tt.file.Key)
			line := logLine(t, &logs)
			if tt.wantRule != "" {
				assert.Equal(t, tt.wantRule, line["rule"])
				assert.Contains(t, msg, tt.wantRule)
			}
			if tt.wantLine > 0 {
				assert.Equal(t, tt.wantLine, line["line"])
			}
			if tt.wantMsg != "" {
				assert.Contains(t, msg, tt.wantMsg)
			}
		})
	}
}

func TestHandleBadInput(t *testing.T) {
	tests := []struct {
		name string
		in   batch.Input
	}{
		{"unknown version", func() batch.Input { in := input(file("a.json", 1)); in.Version = 99; return in }()},
		{"no files", input()},
		{"no name", func() batch.Input { in := input(file("a.json", 1)); in.Name = ""; return in }()},
		{"table that needs quoting", func() batch.Input { in := input(file("a.json", 1)); in.Table = "RAW DATA; DROP"; return in }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newHandler(&fakeS3{}, &fakeStore{}, nil).Handle(context.Background(), tt.in)
			assert.Equal(t, NameDataInvalid, errorName(t, err))
		})
	}
}

func TestHandleBatchCap(t *testing.T) {
	s3c := &fakeS3{objects: map[string]string{
		"a.ndjson": strings.Repeat("{\"n\":1}\n", 10),
		"b.ndjson": strings.Repeat("{\"n\":1}\n", 10),
	}}
	h := newHandler(s3c, &fakeStore{}, nil)
	h.MaxBatchBytes = 100 // room for the 70 bytes of a, not for b too
	_, err := h.Handle(context.Background(), input(file("a.ndjson", 10), file("b.ndjson", 10)))
	assert.Equal(t, NameDataInvalid, errorName(t, err))
	assert.Contains(t, err.Error(), "b.ndjson")
}

func TestHandleKeepsNewestVersionOfAKey(t *testing.T) {
	older, newer, again := file("a.json", 1), file("a.json", 1), file("a.json", 1)
	older.VersionID, older.Sequencer = "v1", "0A"
	newer.VersionID, newer.Sequencer = "v2", "0B"
	again.VersionID, again.Sequencer = "v2", "0B"
	s3c := &fakeS3{objects: map[string]string{"a.json": `{"n":1}`}}
	store := &fakeStore{}
	out, err := newHandler(s3c, store, nil).Handle(context.Background(), input(older, newer, again))
	require.NoError(t, err)

	require.Len(t, s3c.requests, 1, "only the newest version is read")
	assert.Equal(t, "v2", aws.ToString(s3c.requests[0].VersionId))
	assert.Equal(t, []FileOutput{
		{Key: "a.json", VersionID: "v1", Rows: 0, Status: "skipped_older"},
		{Key: "a.json", VersionID: "v2", Rows: 1, Status: "loaded"},
		{Key: "a.json", VersionID: "v2", Rows: 0, Status: "loaded"},
	}, out.Files)
	assert.Equal(t, 1, out.FilesLoaded)
	assert.Equal(t, int64(1), out.RowsLoaded)
}

func TestHandleSnowflakeErrors(t *testing.T) {
	hint := &snowflake.AuthHint{
		Account: "myorg-acct", User: "LAMBDA_LOADER_BOT", Role: "LOADER_ROLE",
		PresentedARN: "arn:aws:sts::123456789012:assumed-role/loader-role/fn",
		RoleARN:      "arn:aws:iam::123456789012:role/loader-role",
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"transient", &snowflake.Error{Name: snowflake.NameTransient, Op: "load batch", Err: errors.New("timeout after 5s and 3 attempts. HTTP Status: 503. Hanging?")}, snowflake.NameTransient},
		{"sql", &snowflake.Error{Name: snowflake.NameSQL, Op: "load batch", Err: errors.New("002003 (42S02): Object 'RAW_DATA' does not exist")}, snowflake.NameSQL},
		{"auth", &snowflake.Error{Name: snowflake.NameAuth, Op: "load batch", Err: errors.New("250001 (08004): Failed to connect to DB"), Hint: hint}, snowflake.NameAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s3c := &fakeS3{objects: map[string]string{"a.json": `{"n":1}`}}
			store := &fakeStore{load: func(*snowflake.Batch) (*snowflake.Result, error) { return nil, tt.err }}
			var logs bytes.Buffer
			_, err := newHandler(s3c, store, &logs).Handle(context.Background(), input(file("a.json", 1)))
			assert.Equal(t, tt.want, errorName(t, err))
			line := logLine(t, &logs)
			assert.Equal(t, tt.want, line["error_name"])
			assert.EqualValues(t, 1, line["rows"])
			if tt.want == snowflake.NameAuth {
				assert.Equal(t, "CREATE USER LAMBDA_LOADER_BOT TYPE = SERVICE WORKLOAD_IDENTITY = (TYPE = AWS ARN = 'arn:aws:iam::123456789012:role/loader-role') DEFAULT_ROLE = LOADER_ROLE;", line["create_user"])
				assert.Equal(t, "GRANT ROLE LOADER_ROLE TO USER LAMBDA_LOADER_BOT;", line["grant_role"])
				assert.Equal(t, hint.PresentedARN, line["presented_arn"])
				assert.Equal(t, "myorg-acct", line["account"])
			}
		})
	}
}

// logLine returns the only log line written.
func logLine(t *testing.T, logs *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 1, "one line at the boundary: %s", logs.String())
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &m))
	return m
}

func TestHandleWritesOneMetricsLine(t *testing.T) {
	s3c := &fakeS3{objects: map[string]string{"a.ndjson": "{\"n\":1}\n{\"n\":2}\n"}}
	store := &fakeStore{logins: 1}
	h := newHandler(s3c, store, nil)
	var out bytes.Buffer
	h.Metrics, h.MetricsOut = obs.NewMetrics("loader", "test"), &out
	store.load = func(b *snowflake.Batch) (*snowflake.Result, error) {
		store.logins++ // this invocation had to log in
		return &snowflake.Result{Files: []snowflake.FileResult{{Status: snowflake.StatusLoaded, Rows: b.Rows(0)}}}, nil
	}
	_, err := h.Handle(context.Background(), input(file("a.ndjson", 2)))
	require.NoError(t, err)

	var line map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &line), out.String())
	assert.Equal(t, 1.0, line["FilesLoaded"])
	assert.Equal(t, 2.0, line["RowsLoaded"])
	assert.Equal(t, 1.0, line["SnowflakeLogins"])
	assert.Equal(t, 1.0, line["ColdStart"])
	assert.Contains(t, line, "LoadSeconds")
	assert.Equal(t, "test", line["Stage"])
}

// TestHandleSkipsSupersededFiles checks that a file overwritten or deleted between validation
// and load is skipped on its own: the rest of the batch loads, and the result and one log
// line per file name it.
func TestHandleSkipsSupersededFiles(t *testing.T) {
	good1, changed, gone, goneVersion, good2 := file("a.json", 1), file("b.json", 1), file("c.json", 1), file("d.json", 1), file("e.json", 1)
	changed.VersionID = "" // unversioned: read with If-Match, which S3 refuses with 412
	gone.VersionID = ""
	s3c := &fakeS3{}
	s3c.getObject = func(in *s3.GetObjectInput) (*s3.GetObjectOutput, error) {
		switch aws.ToString(in.Key) {
		case "b.json":
			return nil, responseError(412, &smithy.GenericAPIError{Code: "PreconditionFailed"})
		case "c.json":
			return nil, &types.NoSuchKey{}
		case "d.json":
			return nil, responseError(404, &smithy.GenericAPIError{Code: "NoSuchVersion"})
		}
		return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(`{"n":1}`))}, nil
	}
	store := &fakeStore{}
	var logs bytes.Buffer
	out, err := newHandler(s3c, store, &logs).Handle(context.Background(), input(good1, changed, gone, goneVersion, good2))
	require.NoError(t, err, "one changed file does not fail its batch")

	require.NotNil(t, store.batch)
	var loaded []string
	for _, f := range store.batch.Files() {
		loaded = append(loaded, f.Key)
	}
	assert.Equal(t, []string{"a.json", "e.json"}, loaded, "only the readable files reach Snowflake")
	assert.Equal(t, 2, out.FilesLoaded)
	assert.Equal(t, int64(2), out.RowsLoaded)
	assert.Equal(t, 3, out.FilesSuperseded)

	wantStatus := []string{"loaded", "superseded", "superseded", "superseded", "loaded"}
	require.Len(t, out.Files, len(wantStatus))
	for i, fo := range out.Files {
		assert.Equal(t, wantStatus[i], fo.Status, fo.Key)
		if fo.Status == "superseded" {
			assert.NotEmpty(t, fo.Reason, "%s: the result says why", fo.Key)
			assert.Zero(t, fo.Rows)
		} else {
			assert.Empty(t, fo.Reason)
		}
	}
	assert.Contains(t, out.Files[1].Reason, "overwritten")
	assert.Contains(t, out.Files[2].Reason, "deleted")
	assert.Contains(t, out.Files[3].Reason, "version")

	skipped := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		if m["msg"] == "file skipped: superseded" {
			skipped[m["s3_key"].(string)] = m
		}
		if m["msg"] == "batch loaded" {
			assert.EqualValues(t, 3, m["files_superseded"])
		}
	}
	require.Len(t, skipped, 3, logs.String())
	assert.Equal(t, "WARN", skipped["b.json"]["level"])
	assert.Equal(t, "landing", skipped["b.json"]["bucket"])
	assert.Equal(t, "v-d.json", skipped["d.json"]["version_id"])
	assert.Equal(t, "load-1", skipped["c.json"]["load_id"])
}

// TestHandleEveryFileSuperseded checks that a batch left with nothing to load succeeds
// without a Snowflake session: there is nothing to retry and nothing to dead-letter.
func TestHandleEveryFileSuperseded(t *testing.T) {
	s3c := &fakeS3{} // holds no object: every read is NoSuchKey
	store := &fakeStore{}
	out, err := newHandler(s3c, store, nil).Handle(context.Background(), input(file("a.json", 1), file("b.json", 2)))
	require.NoError(t, err)
	assert.Nil(t, store.batch, "Snowflake is not asked to load an empty batch")
	assert.Equal(t, 0, out.FilesLoaded)
	assert.Equal(t, 2, out.FilesSuperseded)
	for _, fo := range out.Files {
		assert.Equal(t, "superseded", fo.Status)
	}
}

// TestHandleSupersededFilesAreAlwaysListed checks that the cap on listed files never hides a
// skipped file: the result is where an operator finds which files were not loaded.
func TestHandleSupersededFilesAreAlwaysListed(t *testing.T) {
	objects := map[string]string{}
	var files []batch.File
	for i := range maxListedFiles + 5 {
		f := file(fmt.Sprintf("f%04d.json", i), 1)
		files = append(files, f)
		if i < maxListedFiles+2 {
			objects[f.Key] = `{"n":1}`
		}
	}
	out, err := newHandler(&fakeS3{objects: objects}, &fakeStore{}, nil).Handle(context.Background(), input(files...))
	require.NoError(t, err)
	assert.Equal(t, maxListedFiles+2, out.FilesLoaded)
	assert.Equal(t, 3, out.FilesSuperseded)
	assert.Equal(t, 2, out.FilesNotListed, "the loaded files beyond the cap are counted, not listed")
	var listed int
	for _, fo := range out.Files {
		if fo.Status == "superseded" {
			listed++
		}
	}
	assert.Equal(t, 3, listed)
}

func TestPanicIsReportedAsLoaderPanic(t *testing.T) {
	s3c := &fakeS3{objects: map[string]string{"a.ndjson": "{\"n\":1}\n"}}
	store := &fakeStore{load: func(*snowflake.Batch) (*snowflake.Result, error) {
		var files map[string]int
		files["a.ndjson"]++ // a defect: assignment to a nil map
		return nil, nil
	}}
	var logs bytes.Buffer
	h := newHandler(s3c, store, &logs)
	payload, err := json.Marshal(input(file("a.ndjson", 1)))
	require.NoError(t, err)

	// The runtime's own panic handling, through the entry point it exports.
	var resp messages.InvokeResponse
	req := &messages.InvokeRequest{Payload: payload, Deadline: messages.InvokeRequest_Timestamp{Seconds: time.Now().Add(time.Minute).Unix()}}
	require.NoError(t, lambda.NewFunction(h).Invoke(req, &resp)) //nolint:staticcheck // the same recover as the runtime's invoke loop
	require.NotNil(t, resp.Error, "the invocation fails")
	assert.Equal(t, NamePanic, resp.Error.Type, "Step Functions sees the documented name, not the Go type of the panic")
	assert.True(t, resp.Error.ShouldExit, "the execution environment is still replaced")
	assert.Contains(t, resp.Error.Message, "assignment to entry in nil map")
	assert.Contains(t, resp.Error.Message, advice[NamePanic])

	var line map[string]any
	require.NoError(t, json.Unmarshal(logs.Bytes(), &line), "one log line: %s", logs.String())
	assert.Equal(t, "the loader panicked", line["msg"])
	assert.Equal(t, NamePanic, line["error_name"])
	assert.Equal(t, "load-1", line["load_id"])
	assert.Contains(t, line["stack"], "handler_test.go", "the stack leads to the defect")
}
