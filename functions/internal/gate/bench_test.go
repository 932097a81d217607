package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
)

// benchSizes are the file sizes the benchmarks run at: memory per file must not grow with
// the file, so B/op at both sizes should be of the same order.
var benchSizes = []int{8 << 20, 64 << 20}

var (
	benchMu    sync.Mutex
	benchFiles = map[int][]byte{}
)

// benchFile returns a generated NDJSON file of about size bytes, built once per run.
func benchFile(b *testing.B, size int) []byte {
	benchMu.Lock()
	defer benchMu.Unlock()
	if f, ok := benchFiles[size]; ok {
		return f
	}
	var buf bytes.Buffer
	buf.Grow(size + 1024)
	// Generated events average about 215 bytes.
	if _, err := gendata.WriteNDJSON(&buf, gendata.Options{Seed: 42, Records: size / 215}); err != nil {
		b.Fatal(err)
	}
	benchFiles[size] = buf.Bytes()
	return buf.Bytes()
}

// BenchmarkGate is the whole gate (splitting, UTF-8, syntax, schema) over an NDJSON file of
// the default event schema.
func BenchmarkGate(b *testing.B) {
	g, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			data := benchFile(b, size)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				res, err := g.Check(context.Background(), "incoming/events.ndjson", int64(len(data)), bytes.NewReader(data))
				if err != nil || !res.Accepted {
					b.Fatalf("err %v, result %+v", err, res)
				}
			}
		})
	}
}

// BenchmarkGateLibrary is the gate with the plan switched off: every record decoded and
// validated by the schema library. It shows what the plan saves.
func BenchmarkGateLibrary(b *testing.B) {
	g, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	g.plan = nil
	data := benchFile(b, benchSizes[0])
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := g.Check(context.Background(), "incoming/events.ndjson", int64(len(data)), bytes.NewReader(data))
		if err != nil || !res.Accepted {
			b.Fatalf("err %v, result %+v", err, res)
		}
	}
}

// BenchmarkJSONValid is the baseline: json.Valid over the same bytes. An NDJSON file is not
// one JSON value, so it runs line by line; finding the lines is a memchr and costs next to
// nothing beside json.Valid.
func BenchmarkJSONValid(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			data := benchFile(b, size)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for d := data; len(d) > 0; {
					n := bytes.IndexByte(d, '\n')
					if !json.Valid(d[:n]) {
						b.Fatal("invalid line")
					}
					d = d[n+1:]
				}
			}
		})
	}
}
