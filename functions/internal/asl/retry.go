package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// retrier is one entry of a Task's Retry, with the specification's defaults filled in.
type retrier struct {
	errorEquals []string
	interval    float64
	maxAttempts int
	backoff     float64
	maxDelay    float64 // 0: no cap
	fullJitter  bool
}

// catcher is one entry of a Task's Catch.
type catcher struct {
	errorEquals []string
	next        string
	resultPath  *path
	nullResult  bool
}

// errorEquals checks an ErrorEquals list: non-empty, and States.ALL alone and only in the
// last retrier or catcher.
func errorEquals(stateName, where string, raw json.RawMessage, last bool) ([]string, error) {
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil || len(names) == 0 {
		return nil, &DefinitionError{State: stateName, Field: where + ".ErrorEquals", Reason: "must be a non-empty array of error names"}
	}
	for _, n := range names {
		if n == ErrAll && (len(names) != 1 || !last) {
			return nil, &DefinitionError{State: stateName, Field: where + ".ErrorEquals", Reason: "States.ALL must appear alone, in the last entry"}
		}
	}
	return names, nil
}

// parseRetry reads a Task's Retry and checks each field's range.
func parseRetry(stateName string, raw json.RawMessage) ([]*retrier, error) {
	if raw == nil {
		return nil, nil
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, &DefinitionError{State: stateName, Field: "Retry", Reason: "must be an array of retriers"}
	}
	var out []*retrier
	for i, e := range entries {
		where := fmt.Sprintf("Retry[%d]", i)
		bad := func(field, reason string) error {
			return &DefinitionError{State: stateName, Field: where + "." + field, Reason: reason}
		}
		for _, k := range sortedKeys(e) {
			switch k {
			case "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment":
			default:
				return nil, bad(k, "is not supported")
			}
		}
		// Defaults from the Amazon States Language specification.
		rt := &retrier{interval: 1, maxAttempts: 3, backoff: 2.0}
		var err error
		if rt.errorEquals, err = errorEquals(stateName, where, e["ErrorEquals"], i == len(entries)-1); err != nil {
			return nil, err
		}
		if v, ok := e["IntervalSeconds"]; ok {
			n, ok := integer(v)
			if !ok || n < 1 {
				return nil, bad("IntervalSeconds", "must be a positive integer")
			}
			rt.interval = float64(n)
		}
		if v, ok := e["MaxAttempts"]; ok {
			n, ok := integer(v)
			if !ok || n < 0 {
				return nil, bad("MaxAttempts", "must be a non-negative integer")
			}
			rt.maxAttempts = int(n)
		}
		if v, ok := e["BackoffRate"]; ok {
			if err := json.Unmarshal(v, &rt.backoff); err != nil || rt.backoff < 1 {
				return nil, bad("BackoffRate", "must be a number of at least 1.0")
			}
		}
		if v, ok := e["MaxDelaySeconds"]; ok {
			n, ok := integer(v)
			if !ok || n < 1 {
				return nil, bad("MaxDelaySeconds", "must be a positive integer")
			}
			rt.maxDelay = float64(n)
		}
		if v, ok := e["JitterStrategy"]; ok {
			var s string
			if err := json.Unmarshal(v, &s); err != nil || (s != "FULL" && s != "NONE") {
				return nil, bad("JitterStrategy", "must be FULL or NONE")
			}
			rt.fullJitter = s == "FULL"
		}
		out = append(out, rt)
	}
	return out, nil
}

// parseCatch reads a Task's Catch.
func parseCatch(stateName string, raw json.RawMessage) ([]*catcher, error) {
	if raw == nil {
		return nil, nil
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, &DefinitionError{State: stateName, Field: "Catch", Reason: "must be an array of catchers"}
	}
	var out []*catcher
	for i, e := range entries {
		where := fmt.Sprintf("Catch[%d]", i)
		for _, k := range sortedKeys(e) {
			switch k {
			case "ErrorEquals", "Next", "ResultPath", "Comment":
			default:
				return nil, &DefinitionError{State: stateName, Field: where + "." + k, Reason: "is not supported"}
			}
		}
		c := &catcher{}
		var err error
		if c.errorEquals, err = errorEquals(stateName, where, e["ErrorEquals"], i == len(entries)-1); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(e["Next"], &c.next); err != nil || c.next == "" {
			return nil, &DefinitionError{State: stateName, Field: where + ".Next", Reason: "must name a state"}
		}
		if c.resultPath, c.nullResult, err = optionalPath(e, "ResultPath", stateName); err != nil {
			err.(*DefinitionError).Field = where + ".ResultPath"
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// runTask runs a Task state with its retriers and catchers. Each retrier keeps its own count;
// the first retrier whose ErrorEquals matches decides, even when it has no attempts left.
func (r *run) runTask(ctx context.Context, st *state, raw any, entered time.Time) (any, string, *failure) {
	counts := make([]int, len(st.retry))
	retries := 0
	for {
		out, f := r.taskAttempt(ctx, st, raw, r.contextObject(st, entered, retries))
		if f == nil {
			return out, st.next, nil
		}
		if f.aborted != nil {
			return nil, "", f
		}
		if i := matchRetrier(st.retry, f.name); i >= 0 && counts[i] < st.retry[i].maxAttempts {
			d := st.retry[i].delay(counts[i], r.b.Rand)
			counts[i]++
			retries++
			r.exec.Retries++
			r.exec.Delays = append(r.exec.Delays, d)
			if err := r.clock.Sleep(ctx, d); err != nil {
				return nil, "", &failure{aborted: err}
			}
			r.exec.Attempts[st.name]++
			continue
		}
		for _, c := range st.catch {
			if !matches(c.errorEquals, f.name) {
				continue
			}
			out, cf := resultInto(c.resultPath, c.nullResult, raw, map[string]any{"Error": f.name, "Cause": f.cause})
			if cf != nil {
				return nil, "", cf
			}
			return out, c.next, nil
		}
		return nil, "", f
	}
}

func matchRetrier(retriers []*retrier, name string) int {
	for i, rt := range retriers {
		if matches(rt.errorEquals, name) {
			return i
		}
	}
	return -1
}

// matches applies an ErrorEquals list. States.ALL matches every error and States.TaskFailed
// every error but States.Timeout, except that States.Runtime is never retried or caught.
func matches(errorEquals []string, name string) bool {
	if name == ErrRuntime {
		return false
	}
	for _, e := range errorEquals {
		switch {
		case e == name, e == ErrAll, e == ErrTaskFailed && name != ErrTimeout:
			return true
		}
	}
	return false
}

// delay is the wait before the retry that follows n earlier retries by this retrier:
// IntervalSeconds × BackoffRate^n, capped at MaxDelaySeconds, and with FULL jitter a uniformly
// random part of that, in [0, delay).
func (rt *retrier) delay(n int, random func() float64) time.Duration {
	secs := rt.interval * math.Pow(rt.backoff, float64(n))
	if rt.maxDelay > 0 && secs > rt.maxDelay {
		secs = rt.maxDelay
	}
	if rt.fullJitter {
		secs *= random()
	}
	return time.Duration(math.Round(secs*1000)) * time.Millisecond
}
