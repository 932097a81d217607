package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// opsResult is what one run of the command printed and returned.
type opsResult struct {
	code           int
	stdout, stderr string
}

func runOps(t *testing.T, args ...string) opsResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return opsResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// awsEnv gives the SDK's default configuration static credentials and a region, and keeps it
// away from the files and metadata service of the machine running the tests.
func awsEnv(t *testing.T, extra map[string]string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIDTEST",
		"AWS_SECRET_ACCESS_KEY":       "secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            "",
		"AWS_MAX_ATTEMPTS":            "1",
	}
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// awsCall is one request a fake AWS JSON-protocol service received.
type awsCall struct {
	op   string
	body map[string]any
}

// fakeAWS speaks the AWS JSON protocol (SQS, Step Functions): the operation is named by the
// X-Amz-Target header, input and output are JSON objects. Handlers return the HTTP status
// and the response object; an error response is {"__type": ..., "message": ...}.
type fakeAWS struct {
	URL      string
	t        *testing.T
	prefix   string
	handlers map[string]func(body map[string]any) (int, any)

	mu    sync.Mutex
	calls []awsCall
}

func newFakeAWS(t *testing.T, prefix string, handlers map[string]func(map[string]any) (int, any)) *fakeAWS {
	f := &fakeAWS{t: t, prefix: prefix, handlers: handlers}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// received returns the requests so far, in order.
func (f *fakeAWS) received() []awsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]awsCall(nil), f.calls...)
}

// ops lists the operations called, in order.
func (f *fakeAWS) ops() []string {
	var ops []string
	for _, c := range f.received() {
		ops = append(ops, c.op)
	}
	return ops
}

// bodies returns the inputs of every call of one operation.
func (f *fakeAWS) bodies(op string) []map[string]any {
	var out []map[string]any
	for _, c := range f.received() {
		if c.op == op {
			out = append(out, c.body)
		}
	}
	return out
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, f.prefix)
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			f.t.Errorf("%s: request body is not JSON: %s", target, raw)
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, awsCall{op: op, body: body})
	f.mu.Unlock()

	h := f.handlers[op]
	if !ok || h == nil {
		f.t.Errorf("unexpected operation %q", target)
		writeJSON(w, http.StatusBadRequest, awsError("UnknownOperationException", target))
		return
	}
	status, resp := h(body)
	writeJSON(w, status, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func awsError(code, msg string) map[string]any {
	return map[string]any{"__type": code, "message": msg}
}

// ok is a handler answering 200 with a fixed response.
func ok(resp any) func(map[string]any) (int, any) {
	return func(map[string]any) (int, any) { return http.StatusOK, resp }
}

// sequence answers with each response in turn, then repeats the last one.
func sequence(resps ...any) func(map[string]any) (int, any) {
	var mu sync.Mutex
	i := 0
	return func(map[string]any) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		r := resps[min(i, len(resps)-1)]
		i++
		return http.StatusOK, r
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
