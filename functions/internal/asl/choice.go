package asl

import (
	"cmp"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// rule is one Choice rule: a comparison of Variable with a literal or a path, or a
// combination of rules with And, Or or Not. Only top-level rules have Next.
type rule struct {
	and, or  []*rule
	not      *rule
	variable *path
	op       string
	operand  any
	opPath   *path
	next     string
}

// comparators lists the comparison operators by the type of their literal operand. Each
// except StringMatches and the type tests also has a form ending in "Path" whose operand is a
// path.
var comparators = map[string]string{
	"StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
	"StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "string",
	"NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
	"NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
	"BooleanEquals":   "bool",
	"TimestampEquals": "timestamp", "TimestampLessThan": "timestamp", "TimestampGreaterThan": "timestamp",
	"TimestampLessThanEquals": "timestamp", "TimestampGreaterThanEquals": "timestamp",
	"IsNull": "bool", "IsPresent": "bool", "IsNumeric": "bool", "IsString": "bool",
	"IsBoolean": "bool", "IsTimestamp": "bool",
}

func isTypeTest(op string) bool { return strings.HasPrefix(op, "Is") }

// parseRule compiles a rule; where names it for errors ("Choices[0].And[1]").
func parseRule(raw json.RawMessage, where string, top bool) (*rule, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("%s: a rule must be an object: %v", where, err)
	}
	r := &rule{}
	if n, ok := fields["Next"]; ok {
		if !top {
			return nil, fmt.Errorf("%s.Next: only top-level rules have Next", where)
		}
		if err := json.Unmarshal(n, &r.next); err != nil || r.next == "" {
			return nil, fmt.Errorf("%s.Next: must be a state name", where)
		}
	} else if top {
		return nil, fmt.Errorf("%s: a top-level rule needs Next", where)
	}
	delete(fields, "Next")
	delete(fields, "Comment")

	if len(fields) == 0 {
		return nil, fmt.Errorf("%s: the rule has no condition", where)
	}
	for _, combinator := range []string{"And", "Or", "Not"} {
		v, ok := fields[combinator]
		if !ok {
			continue
		}
		if len(fields) != 1 {
			return nil, fmt.Errorf("%s.%s: %s cannot be combined with other fields (%s)", where, combinator, combinator, strings.Join(sortedKeys(fields), ", "))
		}
		if combinator == "Not" {
			sub, err := parseRule(v, where+".Not", false)
			r.not = sub
			return r, err
		}
		var subs []json.RawMessage
		if err := json.Unmarshal(v, &subs); err != nil || len(subs) == 0 {
			return nil, fmt.Errorf("%s.%s: must be a non-empty array of rules", where, combinator)
		}
		for i, s := range subs {
			sub, err := parseRule(s, fmt.Sprintf("%s.%s[%d]", where, combinator, i), false)
			if err != nil {
				return nil, err
			}
			if combinator == "And" {
				r.and = append(r.and, sub)
			} else {
				r.or = append(r.or, sub)
			}
		}
		return r, nil
	}

	varRaw, ok := fields["Variable"]
	if !ok {
		return nil, fmt.Errorf("%s: a comparison needs Variable", where)
	}
	var varText string
	if err := json.Unmarshal(varRaw, &varText); err != nil {
		return nil, fmt.Errorf("%s.Variable: must be a string", where)
	}
	var err error
	if r.variable, err = parseReferencePath(varText); err != nil {
		return nil, fmt.Errorf("%s.Variable: %v", where, err)
	}
	delete(fields, "Variable")
	if len(fields) != 1 {
		return nil, fmt.Errorf("%s: a comparison needs exactly one operator, found %s", where, strings.Join(sortedKeys(fields), ", "))
	}
	for op, v := range fields {
		return r, r.parseOperator(op, v, where)
	}
	return r, nil
}

func (r *rule) parseOperator(op string, v json.RawMessage, where string) error {
	field := where + "." + op
	if base, ok := strings.CutSuffix(op, "Path"); ok {
		if _, known := comparators[base]; known && base != "StringMatches" && !isTypeTest(base) {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("%s: must be a path", field)
			}
			p, err := parseReferencePath(s)
			if err != nil {
				return fmt.Errorf("%s: %v", field, err)
			}
			r.op, r.opPath = base, p
			return nil
		}
	}
	kind, ok := comparators[op]
	if !ok {
		return fmt.Errorf("%s: operator %s is not supported", field, op)
	}
	r.op = op
	switch kind {
	case "string":
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("%s: must be a string", field)
		}
		r.operand = s
	case "number":
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return fmt.Errorf("%s: must be a number", field)
		}
		r.operand = f
	case "bool":
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return fmt.Errorf("%s: must be true or false", field)
		}
		r.operand = b
	case "timestamp":
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("%s: must be a timestamp string", field)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("%s: %q is not an RFC 3339 timestamp", field, s)
		}
		r.operand = t
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// eval applies the rule to data. A Variable or operand path that selects nothing is a
// States.Runtime error, except for IsPresent, whose purpose is to ask.
func (r *rule) eval(data, contextObject any) (bool, error) {
	switch {
	case r.not != nil:
		ok, err := r.not.eval(data, contextObject)
		return !ok, err
	case r.and != nil:
		for _, sub := range r.and {
			if ok, err := sub.eval(data, contextObject); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, sub := range r.or {
			if ok, err := sub.eval(data, contextObject); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	v, found := r.variable.get(data, contextObject)
	if r.op == "IsPresent" {
		return found == r.operand.(bool), nil
	}
	if !found {
		return false, fmt.Errorf("invalid path '%s': the choice state's condition path references an invalid value", r.variable.text)
	}
	if isTypeTest(r.op) {
		return typeTest(r.op, v) == r.operand.(bool), nil
	}
	operand := r.operand
	if r.opPath != nil {
		o, ok := r.opPath.get(data, contextObject)
		if !ok {
			return false, fmt.Errorf("invalid path '%s': the choice state's condition path references an invalid value", r.opPath.text)
		}
		operand = o
		if strings.HasPrefix(r.op, "Timestamp") {
			if s, ok := o.(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					operand = t
				}
			}
		}
	}
	return compare(r.op, v, operand), nil
}

func typeTest(op string, v any) bool {
	switch op {
	case "IsNull":
		return v == nil
	case "IsNumeric":
		_, ok := number(v)
		return ok
	case "IsString":
		_, ok := v.(string)
		return ok
	case "IsBoolean":
		_, ok := v.(bool)
		return ok
	case "IsTimestamp":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// compare applies a comparison operator. Values of the wrong type make it false, not an
// error, as in Step Functions.
func compare(op string, v, operand any) bool {
	switch {
	case op == "StringMatches":
		s, ok1 := v.(string)
		pattern, ok2 := operand.(string)
		return ok1 && ok2 && wildcardMatch(pattern, s)
	case strings.HasPrefix(op, "String"):
		s, ok1 := v.(string)
		o, ok2 := operand.(string)
		return ok1 && ok2 && ordered(op, strings.Compare(s, o))
	case strings.HasPrefix(op, "Numeric"):
		if a, ok := v.(int64); ok {
			if b, ok := operand.(int64); ok {
				return ordered(op, cmp.Compare(a, b))
			}
		}
		a, ok1 := number(v)
		b, ok2 := number(operand)
		return ok1 && ok2 && ordered(op, cmp.Compare(a, b))
	case op == "BooleanEquals":
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b
	case strings.HasPrefix(op, "Timestamp"):
		s, ok1 := v.(string)
		o, ok2 := operand.(time.Time)
		if !ok1 || !ok2 {
			return false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		return err == nil && ordered(op, t.Compare(o))
	}
	return false
}

func ordered(op string, c int) bool {
	switch {
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	}
	return c == 0
}

// wildcardMatch implements StringMatches: * matches any run of characters, \* a literal star
// and \\ a backslash.
func wildcardMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch {
	case pattern[0] == '*':
		for i := 0; i <= len(s); i++ {
			if wildcardMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case pattern[0] == '\\' && len(pattern) > 1:
		return s != "" && s[0] == pattern[1] && wildcardMatch(pattern[2:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && wildcardMatch(pattern[1:], s[1:])
}
