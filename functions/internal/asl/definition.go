package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Resources the interpreter can run.
const (
	ResourceLambdaInvoke   = "arn:aws:states:::lambda:invoke"
	ResourceSQSSendMessage = "arn:aws:states:::sqs:sendMessage"
)

// DefinitionError is why Load refused a definition: which state and field, and the rule.
type DefinitionError struct {
	State  string // empty for the top level
	Field  string // empty when the error is about the whole state
	Reason string
}

func (e *DefinitionError) Error() string {
	var b strings.Builder
	b.WriteString("asl: ")
	if e.State != "" {
		fmt.Fprintf(&b, "state %q: ", e.State)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %s: ", e.Field)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Machine is a loaded, checked state machine. It is immutable, so one Machine can run any
// number of executions at once.
type Machine struct {
	startAt string
	states  map[string]*state
}

type state struct {
	name, typ  string
	next       string
	end        bool
	inputPath  *path
	outputPath *path
	// nullInput and nullOutput record InputPath or OutputPath set to null, which makes
	// the effective input or the output an empty object.
	nullInput, nullOutput bool
	resultPath            *path
	nullResult            bool // ResultPath null: discard the result, keep the input
	parameters            *template
	resultSelector        *template
	result                any // Pass
	hasResult             bool
	resource              string
	timeout               time.Duration
	retry                 []*retrier
	catch                 []*catcher
	choices               []*rule
	defaultNext           string
	waitSeconds           *int64
	waitUntil             *time.Time
	waitSecondsPath       *path
	waitUntilPath         *path
	errorName, cause      string
	errorPath, causePath  *valueExpr
}

var fieldsByType = map[string][]string{
	"Task":    {"Resource", "Parameters", "ResultSelector", "ResultPath", "InputPath", "OutputPath", "Retry", "Catch", "TimeoutSeconds", "Next", "End"},
	"Pass":    {"Result", "Parameters", "ResultPath", "InputPath", "OutputPath", "Next", "End"},
	"Choice":  {"Choices", "Default", "InputPath", "OutputPath"},
	"Wait":    {"Seconds", "SecondsPath", "Timestamp", "TimestampPath", "InputPath", "OutputPath", "Next", "End"},
	"Succeed": {"InputPath", "OutputPath"},
	"Fail":    {"Error", "ErrorPath", "Cause", "CausePath"},
}

// parameterFields lists the Parameters each resource takes; the first ones are required.
var parameterFields = map[string]struct{ required, optional []string }{
	ResourceLambdaInvoke:   {required: []string{"FunctionName"}, optional: []string{"Payload"}},
	ResourceSQSSendMessage: {required: []string{"QueueUrl", "MessageBody"}, optional: []string{"MessageAttributes"}},
}

var placeholder = regexp.MustCompile(`\$\{([^}]*)\}`)

// Load substitutes ${Name} placeholders the way SAM's DefinitionSubstitutions do, parses the
// definition and checks every state, field, path, intrinsic and transition before anything
// runs. It fails on a placeholder left without a value and on anything the interpreter does
// not implement, naming the state and field.
func Load(definition []byte, substitutions map[string]string) (*Machine, error) {
	def, err := substitute(definition, substitutions)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(def, &top); err != nil {
		return nil, &DefinitionError{Reason: "the definition is not a JSON object: " + err.Error()}
	}
	if err := checkFields(top, []string{"Comment", "StartAt", "States", "QueryLanguage", "Version"}, ""); err != nil {
		return nil, err
	}
	if err := checkQueryLanguage(top, ""); err != nil {
		return nil, err
	}
	m := &Machine{states: map[string]*state{}}
	if err := unmarshalField(top, "StartAt", &m.startAt, ""); err != nil || m.startAt == "" {
		return nil, &DefinitionError{Field: "StartAt", Reason: "must name the first state"}
	}
	var states map[string]json.RawMessage
	if err := unmarshalField(top, "States", &states, ""); err != nil || len(states) == 0 {
		return nil, &DefinitionError{Field: "States", Reason: "must be a non-empty object of states"}
	}
	for _, name := range sortedKeys(states) {
		st, err := parseState(name, states[name])
		if err != nil {
			return nil, err
		}
		m.states[name] = st
	}
	if _, ok := m.states[m.startAt]; !ok {
		return nil, &DefinitionError{Field: "StartAt", Reason: fmt.Sprintf("state %q does not exist", m.startAt)}
	}
	for _, name := range sortedKeys(states) {
		if err := m.checkTransitions(m.states[name]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func substitute(def []byte, subs map[string]string) ([]byte, error) {
	var missing []string
	out := placeholder.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := subs[name]
		if !ok {
			return m
		}
		quoted, _ := json.Marshal(v)
		return quoted[1 : len(quoted)-1]
	})
	for _, loc := range placeholder.FindAllIndex(out, -1) {
		line := bytes.Count(out[:loc[0]], []byte("\n")) + 1
		missing = append(missing, fmt.Sprintf("%s (line %d)", out[loc[0]:loc[1]], line))
	}
	if len(missing) > 0 {
		return nil, &DefinitionError{Reason: "no substitution given for " + strings.Join(missing, ", ")}
	}
	return out, nil
}

// integer reads a JSON integer written without a fraction or an exponent.
func integer(raw json.RawMessage) (int64, bool) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func checkFields(fields map[string]json.RawMessage, allowed []string, stateName string) error {
	ok := map[string]bool{}
	for _, f := range allowed {
		ok[f] = true
	}
	for _, f := range sortedKeys(fields) {
		if !ok[f] {
			return &DefinitionError{State: stateName, Field: f, Reason: "is not supported"}
		}
	}
	return nil
}

func checkQueryLanguage(fields map[string]json.RawMessage, stateName string) error {
	raw, ok := fields["QueryLanguage"]
	if !ok {
		return nil
	}
	var ql string
	if err := json.Unmarshal(raw, &ql); err != nil || ql != "JSONPath" {
		return &DefinitionError{State: stateName, Field: "QueryLanguage", Reason: "only JSONPath is supported"}
	}
	return nil
}

func unmarshalField(fields map[string]json.RawMessage, name string, v any, stateName string) error {
	raw, ok := fields[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &DefinitionError{State: stateName, Field: name, Reason: fmt.Sprintf("has the wrong type: %s", raw)}
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// parseState reads one state: the fields its type allows, then what its type needs.
func parseState(name string, raw json.RawMessage) (*state, error) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, &DefinitionError{State: name, Reason: "must be an object"}
	}
	st := &state{name: name}
	if err := unmarshalField(f, "Type", &st.typ, name); err != nil {
		return nil, err
	}
	allowed, ok := fieldsByType[st.typ]
	if !ok {
		return nil, &DefinitionError{State: name, Field: "Type", Reason: fmt.Sprintf("state type %q is not supported", st.typ)}
	}
	if err := checkFields(f, append([]string{"Type", "Comment", "QueryLanguage"}, allowed...), name); err != nil {
		return nil, err
	}
	if err := checkQueryLanguage(f, name); err != nil {
		return nil, err
	}
	bad := func(field, format string, args ...any) error {
		return &DefinitionError{State: name, Field: field, Reason: fmt.Sprintf(format, args...)}
	}

	if err := unmarshalField(f, "Next", &st.next, name); err != nil {
		return nil, err
	}
	if raw, ok := f["End"]; ok {
		if err := json.Unmarshal(raw, &st.end); err != nil || !st.end {
			return nil, bad("End", "must be true when present")
		}
	}
	var err error
	if st.inputPath, st.nullInput, err = optionalPath(f, "InputPath", name); err != nil {
		return nil, err
	}
	if st.outputPath, st.nullOutput, err = optionalPath(f, "OutputPath", name); err != nil {
		return nil, err
	}
	if st.resultPath, st.nullResult, err = optionalPath(f, "ResultPath", name); err != nil {
		return nil, err
	}
	if raw, ok := f["Parameters"]; ok {
		if st.parameters, err = parseTemplate(raw, "Parameters"); err != nil {
			return nil, &DefinitionError{State: name, Reason: err.Error()}
		}
		if st.parameters.kind != tmplObject {
			return nil, bad("Parameters", "must be an object")
		}
	}
	if raw, ok := f["ResultSelector"]; ok {
		if st.resultSelector, err = parseTemplate(raw, "ResultSelector"); err != nil {
			return nil, &DefinitionError{State: name, Reason: err.Error()}
		}
		if st.resultSelector.kind != tmplObject {
			return nil, bad("ResultSelector", "must be an object")
		}
	}
	if raw, ok := f["Result"]; ok {
		if st.result, err = decode(raw); err != nil {
			return nil, bad("Result", "%v", err)
		}
		st.hasResult = true
	}

	switch st.typ {
	case "Task":
		err = st.parseTask(f)
	case "Choice":
		err = st.parseChoice(f)
	case "Wait":
		err = st.parseWait(f)
	case "Fail":
		err = st.parseFail(f)
	}
	return st, err
}

// optionalPath reads InputPath, OutputPath or ResultPath, where null means something
// different from absent.
func optionalPath(f map[string]json.RawMessage, field, stateName string) (*path, bool, error) {
	raw, ok := f[field]
	if !ok {
		return nil, false, nil
	}
	if isNull(raw) {
		return nil, true, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false, &DefinitionError{State: stateName, Field: field, Reason: "must be a path or null"}
	}
	p, err := parseReferencePath(s)
	if err == nil && p.context && field == "ResultPath" {
		err = fmt.Errorf("cannot write to the context object")
	}
	if err != nil {
		return nil, false, &DefinitionError{State: stateName, Field: field, Reason: err.Error()}
	}
	return p, false, nil
}

// parseTask reads a Task: a supported resource with the parameters it takes, its
// TimeoutSeconds, Retry and Catch.
func (st *state) parseTask(f map[string]json.RawMessage) error {
	bad := func(field, format string, args ...any) error {
		return &DefinitionError{State: st.name, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if err := unmarshalField(f, "Resource", &st.resource, st.name); err != nil {
		return err
	}
	spec, ok := parameterFields[st.resource]
	if !ok {
		return bad("Resource", "resource %q is not supported (supported: %s, %s)", st.resource, ResourceLambdaInvoke, ResourceSQSSendMessage)
	}
	if st.parameters == nil {
		return bad("Parameters", "%s needs Parameters", st.resource)
	}
	known := map[string]bool{}
	for _, k := range spec.required {
		known[k] = true
		if !st.parameters.has(k) {
			return bad("Parameters."+k, "is required by %s", st.resource)
		}
	}
	for _, k := range spec.optional {
		known[k] = true
	}
	for _, pf := range st.parameters.fields {
		if !known[pf.key] {
			return bad(pf.field, "is not supported for %s", st.resource)
		}
	}
	if raw, ok := f["TimeoutSeconds"]; ok {
		n, ok := integer(raw)
		if !ok || n < 1 {
			return bad("TimeoutSeconds", "must be a positive integer")
		}
		st.timeout = time.Duration(n) * time.Second
	}
	var err error
	if st.retry, err = parseRetry(st.name, f["Retry"]); err != nil {
		return err
	}
	st.catch, err = parseCatch(st.name, f["Catch"])
	return err
}

// checkTransitions checks that a state ends or goes on, exactly one of the two, and that
// every state it can go to exists.
func (m *Machine) checkTransitions(st *state) error {
	exists := func(field, target string) error {
		if _, ok := m.states[target]; !ok {
			return &DefinitionError{State: st.name, Field: field, Reason: fmt.Sprintf("state %q does not exist", target)}
		}
		return nil
	}
	switch st.typ {
	case "Task", "Pass", "Wait":
		if (st.next == "") == !st.end {
			return &DefinitionError{State: st.name, Reason: "needs exactly one of Next and End"}
		}
		if st.next != "" {
			if err := exists("Next", st.next); err != nil {
				return err
			}
		}
	case "Choice":
		for i, r := range st.choices {
			if err := exists(fmt.Sprintf("Choices[%d].Next", i), r.next); err != nil {
				return err
			}
		}
		if st.defaultNext != "" {
			if err := exists("Default", st.defaultNext); err != nil {
				return err
			}
		}
	}
	for i, c := range st.catch {
		if err := exists(fmt.Sprintf("Catch[%d].Next", i), c.next); err != nil {
			return err
		}
	}
	return nil
}
