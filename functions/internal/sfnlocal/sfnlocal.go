// Package sfnlocal serves the Step Functions API calls the pipeline makes, in process on
// loopback, so the real SDK client and the real handler code run unchanged in tests and local runs.
package sfnlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// Execution statuses, as Step Functions names them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
)

// Result is how an execution ended.
type Result struct {
	Status string // StatusSucceeded or StatusFailed
	Output json.RawMessage
	Error  string
	Cause  string
}

// Runner runs one execution to its end.
type Runner func(ctx context.Context, name string, input []byte) Result

// Execution is one started execution.
type Execution struct {
	ARN, Name string
	Input     json.RawMessage
	Started   time.Time
	Stopped   time.Time
	Result
}

// Fault makes the next Count calls of an action fail the way Step Functions does when it
// throttles or breaks (for example ThrottlingException with HTTP 400, or 500).
type Fault struct {
	Action string // "StartExecution", "DescribeExecution" or "" for any
	Count  int
	Status int
	Type   string
}

// Server is the Step Functions endpoint of one state machine.
type Server struct {
	URL             string
	StateMachineARN string

	run   Runner
	srv   *http.Server
	wg    sync.WaitGroup
	mu    sync.Mutex
	execs map[string]*Execution
	order []string
	fault Fault
	calls map[string]int
	// lean forgets an execution's input and output once it ends (see Lean).
	lean    bool
	running int
}

// Lean makes the server forget an execution's input and output once it ends, keeping its
// name, status and error: a long local run then holds the payloads of the running executions
// only. A repeated StartExecution of an ended execution is refused whatever its input, as
// Step Functions refuses it, so nothing that decides an answer is lost.
func (s *Server) Lean() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lean = true
}

// Start serves the state machine with this ARN on 127.0.0.1. Each started execution runs
// run in its own goroutine, as Step Functions runs executions asynchronously; Wait blocks
// until all have ended.
func Start(stateMachineARN string, run Runner) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sfnlocal: listen on loopback: %w", err)
	}
	s := &Server{
		URL: "http://" + ln.Addr().String(), StateMachineARN: stateMachineARN,
		run: run, execs: map[string]*Execution{}, calls: map[string]int{},
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Client returns an SDK client for this server, built with explicit options.
func (s *Server) Client() *sfn.Client {
	return sfn.New(sfn.Options{
		BaseEndpoint: aws.String(s.URL),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("LOCAL", "local", ""),
	})
}

// Close stops serving; it does not wait for running executions.
func (s *Server) Close() error { return s.srv.Close() }

// Wait blocks until every started execution has ended.
func (s *Server) Wait() { s.wg.Wait() }

// Running counts the executions that have not ended.
func (s *Server) Running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Inject arms a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Calls counts the API calls by action.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// Executions lists the executions in the order they started.
func (s *Server) Executions() []Execution {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Execution, 0, len(s.order))
	for _, arn := range s.order {
		out = append(out, *s.execs[arn])
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	s.calls[action]++
	if f := &s.fault; f.Count > 0 && (f.Action == "" || f.Action == action) {
		f.Count--
		s.mu.Unlock()
		writeError(w, f.Status, f.Type, "injected fault")
		return
	}
	s.mu.Unlock()

	str := func(k string) string { v, _ := req[k].(string); return v }
	switch action {
	case "StartExecution":
		s.startExecution(w, str("stateMachineArn"), str("name"), str("input"))
	case "DescribeExecution":
		s.describeExecution(w, str("executionArn"))
	case "ListExecutions":
		s.listExecutions(w, str("statusFilter"))
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "sfnlocal does not serve "+action)
	}
}

func (s *Server) startExecution(w http.ResponseWriter, machine, name, input string) {
	if machine != s.StateMachineARN {
		writeError(w, http.StatusBadRequest, "StateMachineDoesNotExist", "State Machine Does Not Exist: '"+machine+"'")
		return
	}
	if name == "" || len(name) > 80 || strings.ContainsAny(name, " <>{}[]?*\"#%\\^|~`$&,;:/") {
		writeError(w, http.StatusBadRequest, "InvalidName", "Invalid Name: '"+name+"'")
		return
	}
	if !json.Valid([]byte(input)) {
		writeError(w, http.StatusBadRequest, "InvalidExecutionInput", "Invalid execution input")
		return
	}
	arn := strings.Replace(machine, ":stateMachine:", ":execution:", 1) + ":" + name
	s.mu.Lock()
	if prev, ok := s.execs[arn]; ok {
		s.mu.Unlock()
		// Step Functions treats a repeat of a running execution with the same input as the
		// same call; anything else under a taken name is refused.
		if prev.Status == StatusRunning && string(prev.Input) == input {
			writeJSON(w, map[string]any{"executionArn": arn, "startDate": epoch(prev.Started)})
			return
		}
		writeError(w, http.StatusBadRequest, "ExecutionAlreadyExists", "Execution Already Exists: '"+arn+"'")
		return
	}
	e := &Execution{ARN: arn, Name: name, Input: json.RawMessage(input), Started: time.Now(), Result: Result{Status: StatusRunning}}
	s.execs[arn] = e
	s.order = append(s.order, arn)
	s.running++
	s.wg.Add(1)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		res := s.run(context.Background(), name, []byte(input))
		s.mu.Lock()
		defer s.mu.Unlock()
		e.Result, e.Stopped = res, time.Now()
		s.running--
		if s.lean {
			e.Input, e.Output = nil, nil
		}
	}()
	writeJSON(w, map[string]any{"executionArn": arn, "startDate": epoch(e.Started)})
}

func (s *Server) describeExecution(w http.ResponseWriter, arn string) {
	s.mu.Lock()
	e, ok := s.execs[arn]
	var out map[string]any
	if ok {
		out = describe(e)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+arn+"'")
		return
	}
	writeJSON(w, out)
}

func (s *Server) listExecutions(w http.ResponseWriter, status string) {
	s.mu.Lock()
	var list []map[string]any
	for _, arn := range s.order {
		e := s.execs[arn]
		if status == "" || e.Status == status {
			list = append(list, describe(e))
		}
	}
	s.mu.Unlock()
	sort.SliceStable(list, func(i, j int) bool { return list[i]["startDate"].(float64) > list[j]["startDate"].(float64) })
	writeJSON(w, map[string]any{"executions": list})
}

func describe(e *Execution) map[string]any {
	out := map[string]any{
		"executionArn": e.ARN, "name": e.Name, "status": e.Status,
		"startDate": epoch(e.Started), "input": string(e.Input),
	}
	if !e.Stopped.IsZero() {
		out["stopDate"] = epoch(e.Stopped)
	}
	if e.Output != nil {
		out["output"] = string(e.Output)
	}
	if e.Error != "" {
		out["error"], out["cause"] = e.Error, e.Cause
	}
	return out
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.swf.service.v2.model#" + typ, "message": msg})
}
