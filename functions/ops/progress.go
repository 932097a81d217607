package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress draws a one-line progress bar (files done of total, data volume, rate, time left)
// and redraws it in place with a carriage return, which every terminal and CI log viewer
// understands; it needs no terminal library.
type progress struct {
	w     io.Writer
	total int
	start time.Time

	mu   sync.Mutex
	done int
	n    int64
	end  time.Time

	stopOnce sync.Once
	stopping chan struct{}
	exited   chan struct{}
}

// redrawEvery bounds how often the line is drawn, so thousands of small files do not flood
// a slow terminal.
const redrawEvery = 200 * time.Millisecond

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, start: time.Now(), stopping: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		tick := time.NewTicker(redrawEvery)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				p.draw()
			case <-p.stopping:
				return
			}
		}
	}()
	return p
}

// add records one finished file of n bytes.
func (p *progress) add(n int64) {
	p.mu.Lock()
	p.done++
	p.n += n
	p.mu.Unlock()
}

// stop draws the final state and ends the line, once the redrawing goroutine has exited so
// that nothing is drawn after the newline. Calling it again does nothing.
func (p *progress) stop() {
	p.stopOnce.Do(func() {
		close(p.stopping)
		<-p.exited
		p.mu.Lock()
		p.end = time.Now()
		p.mu.Unlock()
		p.draw()
		fmt.Fprintln(p.w)
	})
}

func (p *progress) draw() {
	p.mu.Lock()
	done, n, now := p.done, p.n, time.Now()
	if !p.end.IsZero() {
		now = p.end
	}
	p.mu.Unlock()
	elapsed := now.Sub(p.start)
	rate := float64(n) / 1e6 / max(elapsed.Seconds(), 1e-3)
	eta := "--"
	if done > 0 && done < p.total {
		left := time.Duration(float64(elapsed) / float64(done) * float64(p.total-done))
		eta = left.Round(time.Second).String()
	} else if done == p.total {
		eta = "0s"
	}
	// Trailing spaces wipe what a longer previous line left behind.
	fmt.Fprintf(p.w, "\r%*d/%d files  %s  %.1f MB/s  ETA %s    ", len(fmt.Sprint(p.total)), done, p.total, megabytes(n), rate, eta)
}

func (p *progress) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

func (p *progress) bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// elapsed is the time from start to stop (or to now while running).
func (p *progress) elapsed() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.end.IsZero() {
		return time.Since(p.start)
	}
	return p.end.Sub(p.start)
}
