package snowflake

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
)

// benchBatch builds a batch of files of records each, with generated events of the default
// schema (about 180 to 250 bytes each). Keys are unique per call, so every batch loads.
func benchBatch(b *testing.B, seq, files, records int) *Batch {
	b.Helper()
	batch := &Batch{Table: "RAW_DATA", LoadID: fmt.Sprintf("bench-%d", seq)}
	opt := gendata.Options{Seed: int64(seq), Records: records}
	for f := range files {
		i := batch.AddFile(fileVersion(fmt.Sprintf("bench/%d/%d.ndjson", seq, f), "v1", "0A", 0).File)
		rng := gendata.NewRand(int64(seq*1000 + f))
		for n := range records {
			batch.AddRecord(i, int64(n+1), gendata.Event(rng, n, opt))
		}
	}
	return batch
}

// BenchmarkLoad measures what a load costs Snowflake, from the emulator's counters: logins
// per 1,000 files and statements (requests) per batch, for batches of 1, 100 and 1,000 files
// of 1,000 records, with the rows loaded per second. "batched" is this loader: one session per container, one transaction per batch;
// its session is opened (login, sessionSetup, sweepOrphans) by a ping before the
// measured batches, so its statements per batch leave out that once-per-container cost,
// while its logins count it. "per-file" is the pattern of the Python demo: one connection
// (one login) per file, each file loaded on its own, so its statements per batch include
// every file's session setup. Time per op is the emulator's, not Snowflake's; the counters
// are what carries over.
//
//	go test -run '^$' -bench BenchmarkLoad -benchtime 3x ./functions/internal/snowflake/
func BenchmarkLoad(b *testing.B) {
	const records = 1000
	for _, files := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batched/files=%d", files), func(b *testing.B) {
			s := emulator(b)
			c := newClient(b, s, nil)
			ctx := context.Background()
			if err := c.Ping(ctx); err != nil {
				b.Fatal(err)
			}
			warm := s.Stats().TotalStatements
			seq := 0
			var payload int64
			for b.Loop() {
				b.StopTimer()
				batch := benchBatch(b, seq, files, records)
				seq++
				payload += batch.PayloadBytes()
				b.StartTimer()
				if _, err := c.Load(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			report(b, s.Stats().Logins, s.Stats().TotalStatements-warm, int64(seq), int64(seq*files), payload)
			b.ReportMetric(float64(seq*files*records)/b.Elapsed().Seconds(), "rows/s")
		})
		if files > 100 {
			// A login per file: 1,000 logins say nothing the 100-file case does not.
			continue
		}
		b.Run(fmt.Sprintf("per-file/files=%d", files), func(b *testing.B) {
			s := emulator(b)
			ctx := context.Background()
			seq := 0
			var batches int64
			for b.Loop() {
				b.StopTimer()
				var perFile []*Batch
				for range files {
					perFile = append(perFile, benchBatch(b, seq, 1, records))
					seq++
				}
				b.StartTimer()
				for _, one := range perFile {
					c, err := New(emuConfig(s), slog.New(slog.DiscardHandler))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := c.Load(ctx, one); err != nil {
						b.Fatal(err)
					}
					_ = c.Close()
				}
				batches++
			}
			report(b, s.Stats().Logins, s.Stats().TotalStatements, batches, int64(seq), 0)
		})
	}
}

func report(b *testing.B, logins, statements, batches, files, payload int64) {
	b.ReportMetric(float64(logins)*1000/float64(files), "logins/1000files")
	b.ReportMetric(float64(statements)/float64(batches), "statements/batch")
	if payload > 0 {
		b.ReportMetric(float64(payload)/float64(batches), "payload-B/op")
	}
}

// Variables that hand TestLoadMemoryChild its work.
const (
	memChildPort  = "SNOWFLAKE_BENCH_EMULATOR_PORT"
	memChildFiles = "SNOWFLAKE_BENCH_FILES"
)

// BenchmarkLoadMemory measures the peak heap of a load relative to the record bytes it holds,
// the figure behind the loader's batch cap. The client runs in a child process of its own, so
// that the emulator's heap (it parses the same request) does not count.
//
//	go test -run '^$' -bench BenchmarkLoadMemory -benchtime 1x ./functions/internal/snowflake/
func BenchmarkLoadMemory(b *testing.B) {
	s := emulator(b)
	for _, files := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("files=%d", files), func(b *testing.B) {
			var peak, sys float64
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestLoadMemoryChild$", "-test.v", "-test.count=1")
				cmd.Env = append(os.Environ(), memChildPort+"="+strconv.Itoa(s.Port()), memChildFiles+"="+strconv.Itoa(files))
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
				i := bytes.Index(out, []byte("MEMORY "))
				if i < 0 {
					b.Fatalf("no measurement in\n%s", out)
				}
				if _, err := fmt.Sscan(string(out[i+len("MEMORY "):]), &peak, &sys); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(peak, "peak-heap/payload")
			b.ReportMetric(sys, "heap-sys/payload")
		})
	}
}

// TestLoadMemoryChild is the child process of BenchmarkLoadMemory; on its own it does nothing.
// It builds a batch of generated events and loads it, sampling the heap throughout: the
// batch spools to disk, so both stay within a constant of the largest record.
func TestLoadMemoryChild(t *testing.T) {
	port, _ := strconv.Atoi(os.Getenv(memChildPort))
	files, _ := strconv.Atoi(os.Getenv(memChildFiles))
	if port == 0 || files == 0 {
		t.Skip("runs as the child process of BenchmarkLoadMemory")
	}
	cfg := DefaultConfig(testAccount)
	cfg.Host, cfg.Port, cfg.Protocol = "127.0.0.1", port, "http"
	c, err := New(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx))
	runtime.GC()

	var peakAlloc, peakSys atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peakAlloc.Store(max(peakAlloc.Load(), m.HeapAlloc))
			peakSys.Store(max(peakSys.Load(), m.HeapSys))
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	batch := benchBatch(&testing.B{}, 1000+files, files, 1000)
	payload := float64(batch.PayloadBytes())
	_, err = c.Load(ctx, batch)
	close(done)
	<-sampled
	require.NoError(t, err)
	fmt.Printf("MEMORY %.2f %.2f\n", float64(peakAlloc.Load())/payload, float64(peakSys.Load())/payload)
}
