package asl_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
)

func TestChoice(t *testing.T) {
	tests := []struct {
		name      string
		rule      string // a top-level rule without Next
		input     string
		want      bool
		wantError string
	}{
		{name: "StringEquals", rule: `"Variable":"$.s","StringEquals":"a"`, input: `{"s":"a"}`, want: true},
		{name: "StringEquals on another string", rule: `"Variable":"$.s","StringEquals":"a"`, input: `{"s":"b"}`},
		{name: "StringEquals on a number is false, not an error", rule: `"Variable":"$.s","StringEquals":"1"`, input: `{"s":1}`},
		{name: "StringLessThan", rule: `"Variable":"$.s","StringLessThan":"b"`, input: `{"s":"a"}`, want: true},
		{name: "StringGreaterThanEquals", rule: `"Variable":"$.s","StringGreaterThanEquals":"b"`, input: `{"s":"b"}`, want: true},
		{name: "StringEqualsPath", rule: `"Variable":"$.s","StringEqualsPath":"$.t"`, input: `{"s":"x","t":"x"}`, want: true},
		{name: "StringMatches with a wildcard", rule: `"Variable":"$.k","StringMatches":"incoming/*.json"`, input: `{"k":"incoming/a/b.json"}`, want: true},
		{name: "StringMatches with an escaped star", rule: `"Variable":"$.k","StringMatches":"a\\*"`, input: `{"k":"ab"}`},
		{name: "StringMatches a literal star", rule: `"Variable":"$.k","StringMatches":"a\\*"`, input: `{"k":"a*"}`, want: true},
		{name: "NumericEquals across integer and decimal", rule: `"Variable":"$.n","NumericEquals":3`, input: `{"n":3.0}`, want: true},
		{name: "NumericGreaterThan", rule: `"Variable":"$.n","NumericGreaterThan":2.5`, input: `{"n":3}`, want: true},
		{name: "NumericLessThanEqualsPath", rule: `"Variable":"$.n","NumericLessThanEqualsPath":"$.max"`, input: `{"n":4,"max":4}`, want: true},
		{name: "NumericLessThan on a string is false", rule: `"Variable":"$.n","NumericLessThan":10`, input: `{"n":"3"}`},
		{name: "BooleanEquals", rule: `"Variable":"$.b","BooleanEquals":false`, input: `{"b":false}`, want: true},
		{name: "TimestampLessThan", rule: `"Variable":"$.t","TimestampLessThan":"2026-03-01T12:00:00Z"`, input: `{"t":"2026-03-01T11:00:00+00:00"}`, want: true},
		{name: "TimestampEquals across zones", rule: `"Variable":"$.t","TimestampEquals":"2026-03-01T12:00:00Z"`, input: `{"t":"2026-03-01T13:00:00+01:00"}`, want: true},
		{name: "IsPresent false on a missing field", rule: `"Variable":"$.x","IsPresent":false`, input: `{}`, want: true},
		{name: "IsPresent true on a null field", rule: `"Variable":"$.x","IsPresent":true`, input: `{"x":null}`, want: true},
		{name: "IsNull", rule: `"Variable":"$.x","IsNull":true`, input: `{"x":null}`, want: true},
		{name: "IsNumeric", rule: `"Variable":"$.x","IsNumeric":true`, input: `{"x":1.5}`, want: true},
		{name: "IsString false on a number", rule: `"Variable":"$.x","IsString":true`, input: `{"x":1}`},
		{name: "IsBoolean", rule: `"Variable":"$.x","IsBoolean":true`, input: `{"x":true}`, want: true},
		{name: "IsTimestamp", rule: `"Variable":"$.x","IsTimestamp":true`, input: `{"x":"2026-03-01T12:00:00Z"}`, want: true},
		{name: "And", rule: `"And":[{"Variable":"$.a","NumericGreaterThan":1},{"Variable":"$.b","StringEquals":"x"}]`, input: `{"a":2,"b":"x"}`, want: true},
		{name: "And with one false", rule: `"And":[{"Variable":"$.a","NumericGreaterThan":1},{"Variable":"$.b","StringEquals":"y"}]`, input: `{"a":2,"b":"x"}`},
		{name: "Or", rule: `"Or":[{"Variable":"$.a","IsPresent":false},{"Variable":"$.a","StringEquals":""}]`, input: `{"a":""}`, want: true},
		{name: "Not", rule: `"Not":{"Variable":"$.a","StringEquals":"x"}`, input: `{"a":"y"}`, want: true},
		{name: "the context object", rule: `"Variable":"$$.Execution.Name","StringEquals":"exec-1"`, input: `{}`, want: true},
		{name: "a missing Variable is States.Runtime", rule: `"Variable":"$.x","StringEquals":"a"`, input: `{}`, wantError: asl.ErrRuntime},
		{name: "a missing operand path is States.Runtime", rule: `"Variable":"$.n","NumericEqualsPath":"$.m"`, input: `{"n":1}`, wantError: asl.ErrRuntime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def := `{"StartAt":"C","States":{
				"C":{"Type":"Choice","Choices":[{` + tc.rule + `,"Next":"Yes"}],"Default":"No"},
				"Yes":{"Type":"Pass","Result":"yes","End":true},
				"No":{"Type":"Pass","Result":"no","End":true}}}`
			m := mustLoad(t, def, nil)
			exec, err := m.Run(context.Background(), asl.Bindings{}, newFakeClock(), "exec-1", []byte(tc.input))
			require.NoError(t, err)
			if tc.wantError != "" {
				assert.Equal(t, tc.wantError, exec.Error, exec.Cause)
				return
			}
			require.Equal(t, asl.StatusSucceeded, exec.Status, exec.Cause)
			want := `"no"`
			if tc.want {
				want = `"yes"`
			}
			assert.JSONEq(t, want, string(exec.Output))
		})
	}
}

func TestChoiceWithoutMatchOrDefault(t *testing.T) {
	m := mustLoad(t, `{"StartAt":"C","States":{
		"C":{"Type":"Choice","Choices":[{"Variable":"$.a","NumericEquals":1,"Next":"Done"}]},
		"Done":{"Type":"Succeed"}}}`, nil)
	exec, err := m.Run(context.Background(), asl.Bindings{}, newFakeClock(), "e", []byte(`{"a":2}`))
	require.NoError(t, err)
	assert.Equal(t, asl.StatusFailed, exec.Status)
	assert.Equal(t, asl.ErrNoChoiceMatched, exec.Error)
}

func TestChoiceOutputPath(t *testing.T) {
	m := mustLoad(t, `{"StartAt":"C","States":{
		"C":{"Type":"Choice","InputPath":"$.in","OutputPath":"$.keep","Choices":[{"Variable":"$.go","BooleanEquals":true,"Next":"Done"}]},
		"Done":{"Type":"Succeed"}}}`, nil)
	exec, err := m.Run(context.Background(), asl.Bindings{}, newFakeClock(), "e", []byte(`{"in":{"go":true,"keep":{"k":1}}}`))
	require.NoError(t, err)
	require.Equal(t, asl.StatusSucceeded, exec.Status, exec.Cause)
	assert.JSONEq(t, `{"k":1}`, string(exec.Output))
}
