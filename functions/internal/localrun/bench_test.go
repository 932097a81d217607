package localrun

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
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
