package localrun

import (
	"context"
	"log/slog"
	"sync"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/quarantine"
)

// tally counts what the handlers report in their logs (the "outcome" and "rule" keys), the
// way an operator would count log lines in CloudWatch, so the local runner shows progress
// without reaching into the handlers. With files set, it also keeps each file's verdict.
type tally struct {
	mu       sync.Mutex
	outcomes map[string]int
	rules    map[string]int
	records  int64 // records in the files accepted
	files    *fileResults
}

func newTally() *tally {
	return &tally{outcomes: map[string]int{}, rules: map[string]int{}}
}

func (t *tally) snapshot() (map[string]int, map[string]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, r := map[string]int{}, map[string]int{}
	for k, v := range t.outcomes {
		o[k] = v
	}
	for k, v := range t.rules {
		r[k] = v
	}
	return o, r
}

func (t *tally) acceptedRecords() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.records
}

// countingHandler passes records on and tallies their outcome. The file a line is about
// comes from the logger's attributes (the validator's logger.With("s3_key", ...)), so they
// are kept as they are added.
type countingHandler struct {
	slog.Handler
	tally        *tally
	key, version string
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	var outcome, rule, quarantineKey string
	var records int64
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "outcome":
			outcome = a.Value.String()
		case "rule":
			rule = a.Value.String()
		case "records":
			records = a.Value.Int64()
		case "quarantine_key":
			quarantineKey = a.Value.String()
		}
		return true
	})
	if outcome != "" {
		h.tally.mu.Lock()
		h.tally.outcomes[outcome]++
		if outcome == "rejected" && rule != "" {
			h.tally.rules[rule]++
		}
		if outcome == "accepted" {
			h.tally.records += records
		}
		h.tally.mu.Unlock()
		if h.tally.files != nil && h.key != "" {
			switch outcome {
			case "accepted":
				h.tally.files.set(h.key, h.version, func(f *FileResult) { f.Status, f.Rows = StatusAccepted, records })
			case "rejected":
				h.tally.files.set(h.key, h.version, func(f *FileResult) {
					f.Status, f.Rule, f.Rows = StatusRejected, rule, 0
					if quarantineKey != "" {
						f.Report = quarantineKey + quarantine.ReportSuffix
					}
				})
			case "skipped":
				h.tally.files.set(h.key, h.version, func(f *FileResult) { f.Status = StatusSkipped })
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := countingHandler{Handler: h.Handler.WithAttrs(attrs), tally: h.tally, key: h.key, version: h.version}
	for _, a := range attrs {
		switch a.Key {
		case "s3_key":
			out.key = a.Value.String()
		case "version_id":
			out.version = a.Value.String()
		}
	}
	return out
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{Handler: h.Handler.WithGroup(name), tally: h.tally, key: h.key, version: h.version}
}
