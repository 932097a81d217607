package asl_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
)

func runMachine(t *testing.T, m *asl.Machine, input string) *asl.Execution {
	t.Helper()
	exec, err := m.Run(context.Background(), asl.Bindings{}, newFakeClock(), "exec-1", []byte(input))
	require.NoError(t, err)
	return exec
}

func TestWait(t *testing.T) {
	tests := []struct {
		name      string
		wait      string
		input     string
		wantSlept []time.Duration
		wantError string
	}{
		{name: "Seconds", wait: `"Seconds":90`, input: `{}`, wantSlept: seconds(90)},
		{name: "Seconds 0 does not sleep", wait: `"Seconds":0`, input: `{}`},
		{name: "SecondsPath", wait: `"SecondsPath":"$.s"`, input: `{"s":7}`, wantSlept: seconds(7)},
		{name: "SecondsPath to a string", wait: `"SecondsPath":"$.s"`, input: `{"s":"7"}`, wantError: asl.ErrRuntime},
		// The fake clock starts at 2026-03-01T12:00:00Z.
		{name: "Timestamp", wait: `"Timestamp":"2026-03-01T12:01:30Z"`, input: `{}`, wantSlept: seconds(90)},
		{name: "Timestamp in the past", wait: `"Timestamp":"2026-03-01T11:00:00Z"`, input: `{}`},
		{name: "TimestampPath", wait: `"TimestampPath":"$.t"`, input: `{"t":"2026-03-01T12:00:05Z"}`, wantSlept: seconds(5)},
		{name: "TimestampPath to a bad timestamp", wait: `"TimestampPath":"$.t"`, input: `{"t":"noon"}`, wantError: asl.ErrRuntime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustLoad(t, `{"StartAt":"W","States":{"W":{"Type":"Wait",`+tc.wait+`,"End":true}}}`, nil)
			clock := newFakeClock()
			exec, err := m.Run(context.Background(), asl.Bindings{}, clock, "e", []byte(tc.input))
			require.NoError(t, err)
			if tc.wantError != "" {
				assert.Equal(t, tc.wantError, exec.Error)
				return
			}
			require.Equal(t, asl.StatusSucceeded, exec.Status, exec.Cause)
			assert.Equal(t, tc.wantSlept, clock.slept)
			assert.JSONEq(t, tc.input, string(exec.Output))
			assert.Empty(t, exec.Delays, "a Wait is not a retry")
		})
	}
}

func TestFail(t *testing.T) {
	tests := []struct {
		name      string
		fail      string
		input     string
		wantError string
		wantCause string
	}{
		{name: "constant Error and Cause", fail: `"Error":"E","Cause":"why"`, input: `{}`, wantError: "E", wantCause: "why"},
		{name: "neither", fail: `"Comment":"nothing to say"`, input: `{}`},
		{name: "ErrorPath and CausePath", fail: `"ErrorPath":"$.e.Error","CausePath":"$.e.Cause"`, input: `{"e":{"Error":"X","Cause":"c"}}`, wantError: "X", wantCause: "c"},
		{
			name: "CausePath with States.Format", fail: `"Error":"E","CausePath":"States.Format('{} failed: {}', $$.Execution.Name, $.why)"`,
			input: `{"why":"no"}`, wantError: "E", wantCause: "exec-1 failed: no",
		},
		{name: "ErrorPath to a number", fail: `"ErrorPath":"$.n"`, input: `{"n":1}`, wantError: asl.ErrRuntime},
		{name: "ErrorPath to nothing", fail: `"ErrorPath":"$.n"`, input: `{}`, wantError: asl.ErrRuntime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustLoad(t, `{"StartAt":"F","States":{"F":{"Type":"Fail",`+tc.fail+`}}}`, nil)
			exec := runMachine(t, m, tc.input)
			assert.Equal(t, asl.StatusFailed, exec.Status)
			assert.Equal(t, tc.wantError, exec.Error)
			if tc.wantCause != "" {
				assert.Equal(t, tc.wantCause, exec.Cause)
			}
			assert.Empty(t, exec.Output)
		})
	}
}

func TestSucceedAndHistory(t *testing.T) {
	m := mustLoad(t, `{"Comment":"two states","StartAt":"P","States":{
		"P":{"Type":"Pass","Result":{"a":{"b":1}},"Next":"S"},
		"S":{"Type":"Succeed","InputPath":"$.a"}}}`, nil)
	exec := runMachine(t, m, `{}`)
	require.Equal(t, asl.StatusSucceeded, exec.Status)
	assert.JSONEq(t, `{"b":1}`, string(exec.Output))
	var types []string
	for i, e := range exec.History {
		assert.Equal(t, i+1, e.ID)
		types = append(types, e.Type)
	}
	assert.Equal(t, []string{"ExecutionStarted", "PassStateEntered", "PassStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}, types)
	assert.Equal(t, map[string]int{"P": 1, "S": 1}, exec.Attempts)
	assert.Equal(t, "arn:aws:states:local:000000000000:execution:local:exec-1", exec.ID)
}
