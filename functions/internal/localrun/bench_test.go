package localrun

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
)

// BenchmarkManySmallFiles runs the whole stack on many files of 10 records and reports the
// process's peak resident memory, which should not grow with the file count (the local
// runner's target: 100,000 such files under 512 MB). Run one size at a time, in a fresh
// process, since the peak is the process's:
//
//	go test ./functions/internal/localrun -run '^$' -bench 'ManySmallFiles/files=10000' -benchtime 1x
func BenchmarkManySmallFiles(b *testing.B) {
	for _, files := range []int{2000, 10000, 40000} {
		b.Run(fmt.Sprintf("files=%d", files), func(b *testing.B) {
			for range b.N {
				s, err := Run(context.Background(), Options{Dir: b.TempDir(), Files: files, Records: 10, Seed: 1, Timeout: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				if s.DeadLetter.Depth != 0 || s.Executions.Failed != 0 {
					b.Fatalf("the run did not load everything: %+v", s.Executions)
				}
			}
			if peak, ok := peakRSS(); ok {
				b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
			}
		})
	}
}

// peakRSS reads the process's peak resident set size (VmHWM) on Linux.
func peakRSS() (int64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// BenchmarkEndToEnd runs the main job on 1,000 generated files of 1,000 records (the samples
// included) and, in the same process, the floor no pipeline can beat on this machine: the
// same generated files, written to disk as NDJSON, read straight into a DuckDB table with
// read_ndjson, with no S3, no queue, no checks and no protocol. It reports both times and
// their ratio, the pipeline's overhead (README, "Loading, in Snowflake"). Profile it with
// -cpuprofile:
//
//	go test ./functions/internal/localrun -run '^$' -bench EndToEnd -benchtime 1x -cpuprofile build/e2e.pprof
func BenchmarkEndToEnd(b *testing.B) {
	const files, records, seed = 1000, 1000, 1
	floor := ndjsonFloor(b, files, records, seed)
	for b.Loop() {
		s, err := Run(context.Background(), Options{Dir: b.TempDir(), Files: files, Records: records, Seed: seed, Timeout: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if s.DeadLetter.Depth != 0 || s.Executions.Failed != 0 {
			b.Fatalf("the run did not load everything: %+v", s.Executions)
		}
	}
	run := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(run, "end-to-end-s")
	b.ReportMetric(floor.Seconds(), "floor-s")
	b.ReportMetric(run/floor.Seconds(), "ratio")
}

// ndjsonFloor writes the files Run generates for seed to a folder and times one read_ndjson
// of them all into a new DuckDB table.
func ndjsonFloor(b *testing.B, files, records int, seed int64) time.Duration {
	b.Helper()
	dir := b.TempDir()
	for i := range files {
		var buf bytes.Buffer
		if _, err := gendata.WriteNDJSON(&buf, gendata.Options{Seed: seed*1_000_003 + int64(i), Records: records}); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("events-%05d.ndjson", i+1)), buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	db, err := sql.Open("duckdb", filepath.Join(b.TempDir(), "floor.duckdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	if _, err := db.Exec("CREATE TABLE floor AS SELECT * FROM read_ndjson('" + dir + "/*.ndjson')"); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
