package localrun

import (
	"context"
	"log/slog"
	"sync"
)

// tally counts what the handlers report in their logs (the "outcome" and "rule" keys), the
// way an operator would count log lines in CloudWatch, so the local runner shows progress
// without reaching into the handlers.
type tally struct {
	mu       sync.Mutex
	outcomes map[string]int
	rules    map[string]int
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

// countingHandler passes records on and tallies their outcome.
type countingHandler struct {
	slog.Handler
	tally *tally
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	var outcome, rule string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "outcome":
			outcome = a.Value.String()
		case "rule":
			rule = a.Value.String()
		}
		return true
	})
	if outcome != "" {
		h.tally.mu.Lock()
		h.tally.outcomes[outcome]++
		if outcome == "rejected" && rule != "" {
			h.tally.rules[rule]++
		}
		h.tally.mu.Unlock()
	}
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return countingHandler{Handler: h.Handler.WithAttrs(attrs), tally: h.tally}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{Handler: h.Handler.WithGroup(name), tally: h.tally}
}
