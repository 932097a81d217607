package localrun

import (
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

// Progress is redrawn every second on a terminal. Elsewhere (a CI log, a file) a line that
// redraws itself would pile up as one long line of carriage returns, so a plain line is
// written every plainEvery instead.
const (
	redrawEvery = time.Second
	plainEvery  = 10 * time.Second
)

// showProgress prints progress until stop is called.
func (st *stack) showProgress(started time.Time) (stop func()) {
	if st.opt.Progress == nil {
		return func() {}
	}
	every := plainEvery
	if st.opt.ProgressWidth != nil {
		every = redrawEvery
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				st.printProgress(started)
				if st.opt.ProgressWidth != nil {
					fmt.Fprintln(st.opt.Progress)
				}
				return
			case <-t.C:
				st.printProgress(started)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-finished }) }
}

func (st *stack) printProgress(started time.Time) {
	line := st.progressLine(time.Since(started))
	if st.opt.ProgressWidth == nil {
		fmt.Fprintln(st.opt.Progress, line)
		return
	}
	// One column is left free: a line as wide as the terminal wraps on some terminals, and
	// the next redraw would then start a new line.
	line = fitWidth(line, st.opt.ProgressWidth()-1)
	fmt.Fprint(st.opt.Progress, "\r"+line+"\x1b[K")
}

// progressLine says where the run is, most telling first: a narrow terminal cuts the end.
func (st *stack) progressLine(took time.Duration) string {
	outcomes, _ := st.validatorLog.snapshot()
	var loaded, failed int
	var rows int64
	for _, e := range st.executions() {
		if e.Status == "SUCCEEDED" {
			loaded++
			rows += e.Rows
		} else {
			failed++
		}
	}
	secs := took.Seconds()
	visible, inFlight := st.ingest.Depth()
	return fmt.Sprintf("%4.0fs  %s (%.0f/s)  files %d accepted, %d rejected  loads %d ok, %d failed  queued %d",
		secs, st.progressRows(), float64(rows)/max(secs, 0.001), outcomes["accepted"], outcomes["rejected"], loaded, failed, visible+inFlight)
}

// progressRows counts rows as they load: those of loads that have not ended yet are shown as
// loading, so the figure moves while a large batch loads.
func (st *stack) progressRows() string {
	var rows int64
	for _, e := range st.executions() {
		if e.Status == "SUCCEEDED" {
			rows += e.Rows
		}
	}
	out := fmt.Sprintf("rows %d loaded", rows)
	if loading := st.loadingRows.Load(); loading > 0 {
		out += fmt.Sprintf(", %d loading", loading)
	}
	return out
}

// fitWidth cuts line to at most width characters, marking the cut.
func fitWidth(line string, width int) string {
	if width < 1 {
		return ""
	}
	if utf8.RuneCountInString(line) <= width {
		return line
	}
	r := []rune(line)
	if width == 1 {
		return "…"
	}
	return string(r[:width-1]) + "…"
}
