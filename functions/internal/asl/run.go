package asl

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// The execution and state machine ARNs a local execution reports. They are fixed so that
// nothing in a run depends on an AWS account.
const (
	localMachineARN   = "arn:aws:states:local:000000000000:stateMachine:local"
	localExecutionARN = "arn:aws:states:local:000000000000:execution:local:"
)

// failure is why a state did not complete: an error name and cause that Retry and Catch
// match, or, when aborted is set, the context ending the execution.
type failure struct {
	name, cause string
	aborted     error
}

func (f *failure) Error() string { return f.name + ": " + f.cause }

// Run executes the state machine to its end and returns the record of the execution. The
// execution failing is not an error: it is Status FAILED with Error and Cause. Run returns an
// error only when the execution cannot start (no name, input that is not JSON), as
// StartExecution would refuse it. When ctx ends first, the execution is ABORTED. A nil clock
// means the wall clock.
func (m *Machine) Run(ctx context.Context, b Bindings, clock Clock, name string, input []byte) (*Execution, error) {
	if name == "" {
		return nil, errors.New("asl: an execution needs a name")
	}
	in, err := decode(input)
	if err != nil {
		return nil, fmt.Errorf("asl: execution input is not valid JSON: %w", err)
	}
	if clock == nil {
		clock = SystemClock{}
	}
	canonical, err := encode(in)
	if err != nil {
		return nil, fmt.Errorf("asl: execution input: %w", err)
	}
	r := &run{
		m:     m,
		b:     b,
		clock: clock,
		input: in,
		exec: &Execution{
			Name:      name,
			ID:        localExecutionARN + name,
			Input:     canonical,
			StartTime: clock.Now(),
			Attempts:  map[string]int{},
		},
	}
	if r.b.Rand == nil {
		r.b.Rand = rand.Float64
	}
	r.event(Event{Type: "ExecutionStarted", Input: canonical})
	r.loop(ctx)
	return r.exec, nil
}

// run is the state of one execution in progress.
type run struct {
	m     *Machine
	b     Bindings
	clock Clock
	input any
	exec  *Execution
	// enteredEvent is the id of the current state's entered event, which Step Functions
	// quotes in States.Runtime causes.
	enteredEvent int
}

func (r *run) event(e Event) {
	e.ID = len(r.exec.History) + 1
	e.Timestamp = r.clock.Now()
	r.exec.History = append(r.exec.History, e)
}

// loop moves from state to state until one ends the execution.
func (r *run) loop(ctx context.Context) {
	cur, data := r.m.startAt, r.input
	for {
		if err := ctx.Err(); err != nil {
			r.finish(&failure{aborted: err}, nil)
			return
		}
		st := r.m.states[cur]
		entered := r.clock.Now()
		r.event(Event{Type: st.typ + "StateEntered", State: st.name, Input: r.json(data)})
		r.enteredEvent = len(r.exec.History)
		out, next, f := r.runState(ctx, st, data, entered)
		if f != nil {
			r.finish(f, nil)
			return
		}
		r.event(Event{Type: st.typ + "StateExited", State: st.name, Output: r.json(out)})
		if st.typ == "Succeed" || st.end {
			r.finish(nil, out)
			return
		}
		cur, data = next, out
	}
}

func (r *run) finish(f *failure, output any) {
	r.exec.StopTime = r.clock.Now()
	switch {
	case f == nil:
		r.exec.Status = StatusSucceeded
		r.exec.Output = r.json(output)
		r.event(Event{Type: "ExecutionSucceeded", Output: r.exec.Output})
	case f.aborted != nil:
		r.exec.Status = StatusAborted
		r.exec.Error, r.exec.Cause = "ABORTED", f.aborted.Error()
		r.event(Event{Type: "ExecutionAborted", Error: r.exec.Error, Cause: r.exec.Cause})
	default:
		r.exec.Status = StatusFailed
		r.exec.Error, r.exec.Cause = f.name, f.cause
		r.event(Event{Type: "ExecutionFailed", Error: f.name, Cause: f.cause})
	}
}

func (r *run) json(v any) []byte {
	b, err := encode(v)
	if err != nil {
		return nil
	}
	return b
}

// runtimeError is a States.Runtime failure, with the preamble Step Functions gives it.
func (r *run) runtimeError(st *state, format string, args ...any) *failure {
	return &failure{name: ErrRuntime, cause: fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). ", st.name, r.enteredEvent) + fmt.Sprintf(format, args...)}
}

// contextObject is what "$$" paths read.
func (r *run) contextObject(st *state, entered time.Time, retryCount int) any {
	return map[string]any{
		"Execution": map[string]any{
			"Id":           r.exec.ID,
			"Input":        clone(r.input),
			"Name":         r.exec.Name,
			"StartTime":    timestamp(r.exec.StartTime),
			"RedriveCount": int64(0),
		},
		"StateMachine": map[string]any{"Id": localMachineARN, "Name": "local"},
		"State": map[string]any{
			"Name":        st.name,
			"EnteredTime": timestamp(entered),
			"RetryCount":  int64(retryCount),
		},
	}
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// runState runs one state on its raw input and returns its output and the state to go to.
func (r *run) runState(ctx context.Context, st *state, raw any, entered time.Time) (out any, next string, f *failure) {
	r.exec.Attempts[st.name]++
	if st.typ == "Task" {
		return r.runTask(ctx, st, raw, entered)
	}
	co := r.contextObject(st, entered, 0)
	if st.typ == "Fail" {
		return nil, "", r.failState(st, raw, co)
	}
	eff, f := r.effectiveInput(st, raw)
	if f != nil {
		return nil, "", f
	}
	out = eff
	switch st.typ {
	case "Pass":
		result := eff
		if st.parameters != nil {
			if result, f = r.template(st, st.parameters, eff, co); f != nil {
				return nil, "", f
			}
		}
		if st.hasResult {
			result = clone(st.result)
		}
		if out, f = r.applyResultPath(st, raw, result); f != nil {
			return nil, "", f
		}
	case "Choice":
		if next, f = r.choose(st, eff, co); f != nil {
			return nil, "", f
		}
	case "Wait":
		if f = r.wait(ctx, st, eff); f != nil {
			return nil, "", f
		}
	}
	out, f = r.output(st, out)
	if next == "" {
		next = st.next
	}
	return out, next, f
}

// effectiveInput applies InputPath.
func (r *run) effectiveInput(st *state, raw any) (any, *failure) {
	switch {
	case st.nullInput:
		return map[string]any{}, nil
	case st.inputPath == nil:
		return raw, nil
	}
	v, ok := st.inputPath.get(raw, nil)
	if !ok {
		return nil, r.runtimeError(st, "Invalid path '%s' : No results for path: %s in the input '%s'", st.inputPath.text, st.inputPath.text, text(raw))
	}
	return v, nil
}

// output applies OutputPath.
func (r *run) output(st *state, v any) (any, *failure) {
	switch {
	case st.nullOutput:
		return map[string]any{}, nil
	case st.outputPath == nil:
		return v, nil
	}
	out, ok := st.outputPath.get(v, nil)
	if !ok {
		return nil, r.runtimeError(st, "Invalid path '%s' : No results for path: %s in the output '%s'", st.outputPath.text, st.outputPath.text, text(v))
	}
	return out, nil
}

func (r *run) template(st *state, t *template, data, co any) (any, *failure) {
	v, err := t.eval(data, co)
	if err != nil {
		return nil, r.runtimeError(st, "%v", err)
	}
	return v, nil
}

// applyResultPath places a result into the state's raw input, as ResultPath says.
func (r *run) applyResultPath(st *state, raw, result any) (any, *failure) {
	return resultInto(st.resultPath, st.nullResult, raw, result)
}

// resultInto applies a ResultPath: null keeps the raw input, absent replaces it with the
// result, and a path sets the result inside a copy of the raw input.
func resultInto(p *path, null bool, raw, result any) (any, *failure) {
	switch {
	case null:
		return raw, nil
	case p == nil:
		return result, nil
	}
	out, err := p.set(raw, result)
	if err != nil {
		return nil, &failure{name: ErrResultPathMatch, cause: fmt.Sprintf("Unable to apply ResultPath %q to input %s: %v", p.text, text(raw), err)}
	}
	return out, nil
}

// taskAttempt runs one attempt of a Task: input processing, the integration, and output
// processing, in Step Functions' order (InputPath, Parameters, call, ResultSelector,
// ResultPath, OutputPath).
func (r *run) taskAttempt(ctx context.Context, st *state, raw, co any) (any, *failure) {
	eff, f := r.effectiveInput(st, raw)
	if f != nil {
		return nil, f
	}
	params, f := r.template(st, st.parameters, eff, co)
	if f != nil {
		return nil, f
	}
	r.event(Event{Type: "TaskScheduled", State: st.name, Resource: st.resource, Input: r.json(params)})
	result, f := r.invoke(ctx, st, params)
	switch {
	case f != nil && f.aborted != nil:
		return nil, f
	case f != nil && f.name == ErrTimeout:
		r.event(Event{Type: "TaskTimedOut", State: st.name, Resource: st.resource, Error: f.name, Cause: f.cause})
		return nil, f
	case f != nil:
		r.event(Event{Type: "TaskFailed", State: st.name, Resource: st.resource, Error: f.name, Cause: f.cause})
		return nil, f
	}
	r.event(Event{Type: "TaskSucceeded", State: st.name, Resource: st.resource, Output: r.json(result)})
	if st.resultSelector != nil {
		if result, f = r.template(st, st.resultSelector, result, co); f != nil {
			return nil, f
		}
	}
	out, f := r.applyResultPath(st, raw, result)
	if f != nil {
		return nil, f
	}
	return r.output(st, out)
}

// invoke calls the task's integration under its TimeoutSeconds. When the time runs out the
// task fails with States.Timeout and an empty cause, as in Step Functions, even though the
// call itself may still be running.
func (r *run) invoke(ctx context.Context, st *state, params any) (any, *failure) {
	tctx, cancel := ctx, context.CancelFunc(func() {})
	if st.timeout > 0 {
		if dc, ok := r.clock.(DeadlineClock); ok {
			tctx, cancel = dc.WithTimeout(ctx, st.timeout)
		} else {
			tctx, cancel = context.WithTimeout(ctx, st.timeout)
		}
	}
	defer cancel()
	type outcome struct {
		v any
		f *failure
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		switch st.resource {
		case ResourceLambdaInvoke:
			o.v, o.f = r.invokeLambda(tctx, params)
		case ResourceSQSSendMessage:
			o.v, o.f = r.sendMessage(tctx, params)
		}
		done <- o
	}()
	var o outcome
	select {
	case o = <-done:
	case <-tctx.Done():
	}
	switch {
	case ctx.Err() != nil:
		return nil, &failure{aborted: ctx.Err()}
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		return nil, &failure{name: ErrTimeout, cause: ""}
	case o.f != nil && o.f.name == ErrRuntime:
		return nil, r.runtimeError(st, "%s", o.f.cause)
	}
	return o.v, o.f
}
