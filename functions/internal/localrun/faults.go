package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
)

// faults injects transient failures at the three places production sees them: S3 reads,
// Snowflake statements and Lambda invocations. Each is a coin weighted by rate, drawn from a
// seeded generator. A transient fault is one that a retry gets past, so the retry of a read
// or of an SQS delivery that just failed is not faulted again; without that, a rate of 0.2
// would also test how many retries a pipeline affords, not whether it loses or duplicates
// anything.
type faults struct {
	rate float64
	mu   sync.Mutex
	rng  *rand.Rand
	// faulted holds the S3 paths and SQS message ids whose last try was faulted.
	faulted map[string]bool

	S3Reads     atomic.Int64
	Statements  atomic.Int64
	Invocations atomic.Int64
}

func newFaults(rate float64, seed int64) *faults {
	return &faults{rate: rate, rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed)), faulted: map[string]bool{}}
}

// hitOnce draws for one of ids, unless any of them was faulted on its last try.
func (f *faults) hitOnce(ids ...string) bool {
	if f == nil || f.rate <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	retry := false
	for _, id := range ids {
		if f.faulted[id] {
			retry = true
			delete(f.faulted, id)
		}
	}
	if retry || f.rng.Float64() >= f.rate {
		return false
	}
	for _, id := range ids {
		f.faulted[id] = true
	}
	return true
}

func (f *faults) hit() bool {
	if f == nil || f.rate <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < f.rate
}

// s3 wraps the S3 endpoint: a read of an incoming object may get S3's 503 SlowDown.
func (f *faults) s3(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/"+incomingPrefix) && f.hitOnce(r.URL.Path) {
			f.S3Reads.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// snowflakeProxy stands between the driver and the emulator, like the network does. With
// probability rate, a load attempt (which starts with the PUT of its files to the stage) gets
// one of its statements, from the PUT to the INSERT, answered with the error Snowflake gives when a statement is cancelled by a
// warehouse timeout; that statement does not run. Drawing once per attempt, not per
// statement, makes the rate mean what it says for a load: a fifth of attempts fail at 0.2.
func (f *faults) snowflakeProxy(target string) (*http.Server, string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, "", err
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	pending := map[string]int{} // session token -> statements to let through before the fault
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/queries/v1/query-request" {
			proxy.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req struct {
			SQL string `json:"sqlText"`
		}
		_ = json.Unmarshal(body, &req)
		session := r.Header.Get("Authorization")
		sql := strings.ToUpper(strings.TrimSpace(req.SQL))

		mu.Lock()
		switch {
		case strings.HasPrefix(sql, "PUT ") && f.hit():
			// PUT, COPY, SELECT, MERGE, DELETE, INSERT: any of the batch's work.
			pending[session] = f.pick(6)
		case sql == "COMMIT" || sql == "ROLLBACK":
			// A fault not reached by the end of its attempt is dropped.
			delete(pending, session)
		}
		left, armed := pending[session]
		fire := false
		if armed && !isTxControl(sql) && !strings.HasPrefix(sql, "CREATE") {
			if left == 0 {
				delete(pending, session)
				fire = true
			} else {
				pending[session] = left - 1
			}
		}
		mu.Unlock()

		if !fire {
			proxy.ServeHTTP(w, r)
			return
		}
		f.Statements.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"data":    map[string]any{"sqlState": "57014", "queryId": "local-fault"},
			"code":    "000630",
			"message": "Statement reached its statement or warehouse timeout of 0 second(s) and was canceled.",
			"success": false,
		})
	})
	return serveLoopback(handler)
}

// pick draws a whole number in [0, n).
func (f *faults) pick(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.IntN(n)
}

func isTxControl(sql string) bool {
	s := strings.ToUpper(strings.TrimSpace(sql))
	return s == "BEGIN" || s == "COMMIT" || s == "ROLLBACK" || strings.HasPrefix(s, "SELECT 1")
}

// lambda wraps a function as the Lambda service would fail it: the invocation does not run.
func (f *faults) lambda(fn asl.LambdaFunc) asl.LambdaFunc {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		if f.hit() {
			f.Invocations.Add(1)
			return nil, &asl.ServiceError{Name: "Lambda.ServiceException", Message: "Lambda was unable to run the function (injected fault)"}
		}
		return fn(ctx, payload)
	}
}

// validator wraps the validator's invocation: a failed invocation leaves its whole SQS batch
// to be delivered again.
func (f *faults) validator(h sqslocal.Handler) sqslocal.Handler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		ids := make([]string, len(ev.Records))
		for i, r := range ev.Records {
			ids[i] = r.MessageId
		}
		if f.hitOnce(ids...) {
			f.Invocations.Add(1)
			return events.SQSEventResponse{}, fmt.Errorf("Lambda was unable to run the function (injected fault)")
		}
		return h(ctx, ev)
	}
}
