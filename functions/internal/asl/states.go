package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// valueExpr is a path or an intrinsic call, as ErrorPath and CausePath accept.
type valueExpr struct {
	path *path
	call *call
}

// parseChoice reads a Choice state's rules; Default is optional, and without it an input
// that matches no rule fails the execution with States.NoChoiceMatched.
func (st *state) parseChoice(f map[string]json.RawMessage) error {
	var rules []json.RawMessage
	if err := json.Unmarshal(f["Choices"], &rules); err != nil || len(rules) == 0 {
		return &DefinitionError{State: st.name, Field: "Choices", Reason: "must be a non-empty array of rules"}
	}
	for i, raw := range rules {
		r, err := parseRule(raw, fmt.Sprintf("Choices[%d]", i), true)
		if err != nil {
			return &DefinitionError{State: st.name, Reason: err.Error()}
		}
		st.choices = append(st.choices, r)
	}
	return unmarshalField(f, "Default", &st.defaultNext, st.name)
}

// parseWait reads the one duration a Wait state takes.
func (st *state) parseWait(f map[string]json.RawMessage) error {
	var set []string
	for _, k := range []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} {
		if _, ok := f[k]; ok {
			set = append(set, k)
		}
	}
	if len(set) != 1 {
		return &DefinitionError{State: st.name, Reason: "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath"}
	}
	bad := func(reason string) error { return &DefinitionError{State: st.name, Field: set[0], Reason: reason} }
	raw := f[set[0]]
	switch set[0] {
	case "Seconds":
		n, ok := integer(raw)
		if !ok || n < 0 {
			return bad("must be a non-negative integer")
		}
		st.waitSeconds = &n
	case "Timestamp":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return bad("must be a timestamp string")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad(fmt.Sprintf("%q is not an RFC 3339 timestamp", s))
		}
		st.waitUntil = &t
	default:
		p, _, err := optionalPath(f, set[0], st.name)
		if err != nil {
			return err
		}
		if set[0] == "SecondsPath" {
			st.waitSecondsPath = p
		} else {
			st.waitUntilPath = p
		}
	}
	return nil
}

// parseFail reads a Fail state's error and cause, each a constant or a path, never both.
func (st *state) parseFail(f map[string]json.RawMessage) error {
	for _, pair := range [][2]string{{"Error", "ErrorPath"}, {"Cause", "CausePath"}} {
		if _, ok := f[pair[0]]; ok {
			if _, both := f[pair[1]]; both {
				return &DefinitionError{State: st.name, Field: pair[1], Reason: "cannot be used together with " + pair[0]}
			}
		}
	}
	if err := unmarshalField(f, "Error", &st.errorName, st.name); err != nil {
		return err
	}
	if err := unmarshalField(f, "Cause", &st.cause, st.name); err != nil {
		return err
	}
	var err error
	if st.errorPath, err = parseValueExpr(f, "ErrorPath", st.name); err != nil {
		return err
	}
	st.causePath, err = parseValueExpr(f, "CausePath", st.name)
	return err
}

func parseValueExpr(f map[string]json.RawMessage, field, stateName string) (*valueExpr, error) {
	raw, ok := f[field]
	if !ok {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, &DefinitionError{State: stateName, Field: field, Reason: "must be a path or an intrinsic function"}
	}
	var ve valueExpr
	var err error
	if isIntrinsic(s) {
		ve.call, err = parseCall(s)
	} else {
		ve.path, err = parseReferencePath(s)
	}
	if err != nil {
		return nil, &DefinitionError{State: stateName, Field: field, Reason: err.Error()}
	}
	return &ve, nil
}

// choose returns the Next of the first rule that matches, or the Default.
func (r *run) choose(st *state, eff, co any) (string, *failure) {
	for _, rule := range st.choices {
		ok, err := rule.eval(eff, co)
		if err != nil {
			return "", r.runtimeError(st, "%v", err)
		}
		if ok {
			return rule.next, nil
		}
	}
	if st.defaultNext != "" {
		return st.defaultNext, nil
	}
	return "", &failure{name: ErrNoChoiceMatched, cause: fmt.Sprintf("No Choice Rule matched in state '%s' and no Default is specified", st.name)}
}

// wait sleeps on the execution's clock; a time already past does not wait.
func (r *run) wait(ctx context.Context, st *state, eff any) *failure {
	var d time.Duration
	switch {
	case st.waitSeconds != nil:
		d = time.Duration(*st.waitSeconds) * time.Second
	case st.waitUntil != nil:
		d = st.waitUntil.Sub(r.clock.Now())
	case st.waitSecondsPath != nil:
		v, ok := st.waitSecondsPath.get(eff, nil)
		n, isInt := v.(int64)
		if !ok || !isInt || n < 0 {
			return r.runtimeError(st, "The SecondsPath parameter does not reference a valid non-negative integer: %s", st.waitSecondsPath.text)
		}
		d = time.Duration(n) * time.Second
	case st.waitUntilPath != nil:
		v, ok := st.waitUntilPath.get(eff, nil)
		s, isString := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if !ok || !isString || err != nil {
			return r.runtimeError(st, "The TimestampPath parameter does not reference a valid ISO-8601 timestamp: %s", st.waitUntilPath.text)
		}
		d = t.Sub(r.clock.Now())
	}
	if d <= 0 {
		return nil
	}
	if err := r.clock.Sleep(ctx, d); err != nil {
		return &failure{aborted: err}
	}
	return nil
}

// failState resolves the error and cause a Fail state ends the execution with. A path
// that selects nothing or something other than a string is States.Runtime.
func (r *run) failState(st *state, raw, co any) *failure {
	f := &failure{name: st.errorName, cause: st.cause}
	for _, x := range []struct {
		expr *valueExpr
		dst  *string
		name string
	}{{st.errorPath, &f.name, "ErrorPath"}, {st.causePath, &f.cause, "CausePath"}} {
		if x.expr == nil {
			continue
		}
		var v any
		if x.expr.call != nil {
			var err error
			if v, err = x.expr.call.eval(raw, co); err != nil {
				return r.runtimeError(st, "%v", err)
			}
		} else {
			var ok bool
			if v, ok = x.expr.path.get(raw, co); !ok {
				return r.runtimeError(st, "The %s %s could not be found in the input '%s'", x.name, x.expr.path.text, text(raw))
			}
		}
		s, ok := v.(string)
		if !ok {
			return r.runtimeError(st, "The %s %s does not select a string: %s", x.name, pathText(x.expr), text(v))
		}
		*x.dst = s
	}
	return f
}

func pathText(e *valueExpr) string {
	if e.call != nil {
		return e.call.text
	}
	return e.path.text
}
