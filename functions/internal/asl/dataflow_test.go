package asl_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
)

// runPass runs a one-state machine whose only state is the given Pass state.
func runPass(t *testing.T, passState, input string) *asl.Execution {
	t.Helper()
	m := mustLoad(t, `{"StartAt":"P","States":{"P":`+passState+`}}`, nil)
	exec, err := m.Run(context.Background(), asl.Bindings{}, newFakeClock(), "exec-1", []byte(input))
	require.NoError(t, err)
	return exec
}

func TestPassDataFlow(t *testing.T) {
	tests := []struct {
		name      string
		state     string
		input     string
		want      string // output when the execution succeeds
		wantError string // error name when it fails
	}{
		{
			name:  "no paths pass the input through",
			state: `{"Type":"Pass","End":true}`, input: `{"a":1}`, want: `{"a":1}`,
		},
		{
			name:  "Result replaces the input by default",
			state: `{"Type":"Pass","Result":{"x":true},"End":true}`, input: `{"a":1}`, want: `{"x":true}`,
		},
		{
			name:  "ResultPath creates the objects on its way",
			state: `{"Type":"Pass","Result":"r","ResultPath":"$.b.c","End":true}`, input: `{"a":1}`, want: `{"a":1,"b":{"c":"r"}}`,
		},
		{
			name:  "ResultPath null keeps the input",
			state: `{"Type":"Pass","Result":"r","ResultPath":null,"End":true}`, input: `{"a":1}`, want: `{"a":1}`,
		},
		{
			name:  "ResultPath replaces an existing field",
			state: `{"Type":"Pass","Result":[1,2],"ResultPath":"$.a","End":true}`, input: `{"a":1,"k":"v"}`, want: `{"a":[1,2],"k":"v"}`,
		},
		{
			name:  "ResultPath into an array element",
			state: `{"Type":"Pass","Result":"z","ResultPath":"$.list[1]","End":true}`, input: `{"list":["x","y"]}`, want: `{"list":["x","z"]}`,
		},
		{
			name:  "ResultPath into a string input cannot apply",
			state: `{"Type":"Pass","Result":"r","ResultPath":"$.a","End":true}`, input: `"text"`, wantError: asl.ErrResultPathMatch,
		},
		{
			name:  "ResultPath through a non-object field cannot apply",
			state: `{"Type":"Pass","Result":"r","ResultPath":"$.a.b","End":true}`, input: `{"a":5}`, wantError: asl.ErrResultPathMatch,
		},
		{
			name:  "InputPath and OutputPath select",
			state: `{"Type":"Pass","InputPath":"$.in","OutputPath":"$.keep","End":true}`, input: `{"in":{"keep":{"v":1},"drop":2}}`, want: `{"v":1}`,
		},
		{
			name:  "InputPath null gives an empty object",
			state: `{"Type":"Pass","InputPath":null,"End":true}`, input: `{"a":1}`, want: `{}`,
		},
		{
			name:  "OutputPath null gives an empty object",
			state: `{"Type":"Pass","OutputPath":null,"End":true}`, input: `{"a":1}`, want: `{}`,
		},
		{
			name:  "ResultPath merges into the raw input, not the InputPath selection",
			state: `{"Type":"Pass","InputPath":"$.in","Parameters":{"v.$":"$.v"},"ResultPath":"$.out","End":true}`,
			input: `{"in":{"v":7}}`, want: `{"in":{"v":7},"out":{"v":7}}`,
		},
		{
			name:  "Parameters mix literals, paths and nested objects",
			state: `{"Type":"Pass","Parameters":{"lit":"x","n":3,"nested":{"v.$":"$.a.b","list":[1,{"w.$":"$.a"}]},"big.$":"$.big"},"End":true}`,
			input: `{"a":{"b":"B"},"big":9007199254740993}`,
			want:  `{"lit":"x","n":3,"nested":{"v":"B","list":[1,{"w":{"b":"B"}}]},"big":9007199254740993}`,
		},
		{
			name:  "an indefinite path yields a list",
			state: `{"Type":"Pass","Parameters":{"ids.$":"$.items[*].id","big.$":"$.items[?(@.n > 1)].id","none.$":"$.items[?(@.n > 9)].id"},"End":true}`,
			input: `{"items":[{"id":"a","n":1},{"id":"b","n":2.5}]}`,
			want:  `{"ids":["a","b"],"big":["b"],"none":[]}`,
		},
		{
			name:  "the context object",
			state: `{"Type":"Pass","Parameters":{"name.$":"$$.Execution.Name","state.$":"$$.State.Name","in.$":"$$.Execution.Input.a","retries.$":"$$.State.RetryCount","started.$":"$$.Execution.StartTime"},"End":true}`,
			input: `{"a":1}`,
			want:  `{"name":"exec-1","state":"P","in":1,"retries":0,"started":"2026-03-01T12:00:00.000Z"}`,
		},
		{
			name:  "a missing Parameters path is States.Runtime",
			state: `{"Type":"Pass","Parameters":{"v.$":"$.missing"},"End":true}`, input: `{"a":1}`, wantError: asl.ErrRuntime,
		},
		{
			name:  "a missing InputPath is States.Runtime",
			state: `{"Type":"Pass","InputPath":"$.missing","End":true}`, input: `{"a":1}`, wantError: asl.ErrRuntime,
		},
		{
			name:  "a null value is present",
			state: `{"Type":"Pass","Parameters":{"v.$":"$.a"},"End":true}`, input: `{"a":null}`, want: `{"v":null}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exec := runPass(t, tc.state, tc.input)
			if tc.wantError != "" {
				assert.Equal(t, asl.StatusFailed, exec.Status)
				assert.Equal(t, tc.wantError, exec.Error, exec.Cause)
				return
			}
			require.Equal(t, asl.StatusSucceeded, exec.Status, exec.Cause)
			assert.JSONEq(t, tc.want, string(exec.Output))
		})
	}
}

func TestIntrinsics(t *testing.T) {
	tests := []struct {
		name      string
		expr      string
		input     string
		want      string
		wantError string
	}{
		{name: "Format with strings, numbers and null", expr: `States.Format('{} has {} rows, {}', $.t, $.n, null)`, input: `{"t":"RAW","n":3}`, want: `"RAW has 3 rows, null"`},
		{name: "Format keeps escaped braces and quotes", expr: `States.Format('\{{}\} it\'s', $.t)`, input: `{"t":"x"}`, want: `"{x} it's"`},
		{name: "Format with too few arguments", expr: `States.Format('{} {}', $.t)`, input: `{"t":"x"}`, wantError: asl.ErrRuntime},
		{name: "Format refuses an object", expr: `States.Format('{}', $)`, input: `{"t":"x"}`, wantError: asl.ErrRuntime},
		{name: "StringToJson", expr: `States.StringToJson($.s)`, input: `{"s":"{\"a\":[1,2]}"}`, want: `{"a":[1,2]}`},
		{name: "StringToJson of bad JSON", expr: `States.StringToJson($.s)`, input: `{"s":"{"}`, wantError: asl.ErrRuntime},
		{name: "JsonToString", expr: `States.JsonToString($.o)`, input: `{"o":{"b":"<&>","a":1}}`, want: `"{\"a\":1,\"b\":\"<&>\"}"`},
		{name: "Array of mixed arguments", expr: `States.Array('a', 2, $.o, States.Array())`, input: `{"o":{"k":true}}`, want: `["a",2,{"k":true},[]]`},
		{name: "ArrayGetItem and ArrayLength", expr: `States.Array(States.ArrayGetItem($.l, 1), States.ArrayLength($.l))`, input: `{"l":["x","y","z"]}`, want: `["y",3]`},
		{name: "ArrayContains", expr: `States.ArrayContains($.l, 'y')`, input: `{"l":["x","y"]}`, want: `true`},
		{name: "MathAdd", expr: `States.MathAdd($.n, -1)`, input: `{"n":5}`, want: `4`},
		{name: "StringSplit", expr: `States.StringSplit($.s, ',')`, input: `{"s":"a,b,,c"}`, want: `["a","b","c"]`},
		{name: "Base64 round trip", expr: `States.Base64Decode(States.Base64Encode($.s))`, input: `{"s":"héllo"}`, want: `"héllo"`},
		{name: "a path with a comma inside brackets", expr: `States.Format('{}', $['a,b'])`, input: `{"a,b":"ok"}`, want: `"ok"`},
		{name: "a missing path argument", expr: `States.Format('{}', $.nope)`, input: `{}`, wantError: asl.ErrRuntime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			quoted := fmt.Sprintf("%q", tc.expr)
			exec := runPass(t, `{"Type":"Pass","Parameters":{"v.$":`+quoted+`},"End":true}`, tc.input)
			if tc.wantError != "" {
				assert.Equal(t, tc.wantError, exec.Error, exec.Cause)
				return
			}
			require.Equal(t, asl.StatusSucceeded, exec.Status, exec.Cause)
			assert.JSONEq(t, `{"v":`+tc.want+`}`, string(exec.Output))
		})
	}
}

func TestUUIDIntrinsic(t *testing.T) {
	exec := runPass(t, `{"Type":"Pass","Parameters":{"id.$":"States.UUID()"},"End":true}`, `{}`)
	require.Equal(t, asl.StatusSucceeded, exec.Status, exec.Cause)
	assert.Regexp(t, `^\{"id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"\}$`, string(exec.Output))
}
