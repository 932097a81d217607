package asl_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/asl"
)

func TestLoadRejects(t *testing.T) {
	const lambdaTask = `"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"}`
	tests := []struct {
		name       string
		definition string
		subs       map[string]string
		wantState  string
		wantField  string
		wantReason string // a part of the reason
	}{
		{
			name:       "an unsupported state type",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[],"End":true}}}`,
			wantState:  "P", wantField: "Type", wantReason: `"Parallel" is not supported`,
		},
		{
			name:       "an unsupported field",
			definition: `{"StartAt":"T","States":{"T":{` + lambdaTask + `,"HeartbeatSeconds":10,"End":true}}}`,
			wantState:  "T", wantField: "HeartbeatSeconds", wantReason: "is not supported",
		},
		{
			name:       "a field of another state type",
			definition: `{"StartAt":"S","States":{"S":{"Type":"Succeed","Next":"S"}}}`,
			wantState:  "S", wantField: "Next", wantReason: "is not supported",
		},
		{
			name:       "an unsupported resource",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","Parameters":{},"End":true}}}`,
			wantState:  "T", wantField: "Resource", wantReason: "dynamodb:putItem",
		},
		{
			name:       "an unsupported integration parameter",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","InvocationType":"Event"},"End":true}}}`,
			wantState:  "T", wantField: "Parameters.InvocationType", wantReason: "is not supported",
		},
		{
			name:       "a missing required parameter",
			definition: `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","Parameters":{"QueueUrl":"q"},"End":true}}}`,
			wantState:  "T", wantField: "Parameters.MessageBody", wantReason: "is required",
		},
		{
			name:       "a placeholder without a substitution",
			definition: "{\"StartAt\":\"T\",\n\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\",\"Parameters\":{\"FunctionName\":\"${X}\"},\"End\":true}}}",
			subs:       map[string]string{"Y": "unused"},
			wantReason: "${X} (line 2)",
		},
		{
			name:       "States.ALL together with other errors",
			definition: `{"StartAt":"T","States":{"T":{` + lambdaTask + `,"Retry":[{"ErrorEquals":["States.ALL","E"]}],"End":true}}}`,
			wantState:  "T", wantField: "Retry[0].ErrorEquals", wantReason: "States.ALL must appear alone",
		},
		{
			name:       "States.ALL before another catcher",
			definition: `{"StartAt":"T","States":{"T":{` + lambdaTask + `,"Catch":[{"ErrorEquals":["States.ALL"],"Next":"T"},{"ErrorEquals":["E"],"Next":"T"}],"End":true}}}`,
			wantState:  "T", wantField: "Catch[0].ErrorEquals", wantReason: "in the last entry",
		},
		{
			name:       "an unsupported retrier field",
			definition: `{"StartAt":"T","States":{"T":{` + lambdaTask + `,"Retry":[{"ErrorEquals":["E"],"MaxRetries":2}],"End":true}}}`,
			wantState:  "T", wantField: "Retry[0].MaxRetries", wantReason: "is not supported",
		},
		{
			name:       "a BackoffRate below 1",
			definition: `{"StartAt":"T","States":{"T":{` + lambdaTask + `,"Retry":[{"ErrorEquals":["E"],"BackoffRate":0.5}],"End":true}}}`,
			wantState:  "T", wantField: "Retry[0].BackoffRate", wantReason: "at least 1.0",
		},
		{
			name:       "an unknown JitterStrategy",
			definition: `{"StartAt":"T","States":{"T":{` + lambdaTask + `,"Retry":[{"ErrorEquals":["E"],"JitterStrategy":"HALF"}],"End":true}}}`,
			wantState:  "T", wantField: "Retry[0].JitterStrategy", wantReason: "FULL or NONE",
		},
		{
			name:       "an unsupported intrinsic",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"h.$":"States.Hash($.a, 'SHA-1')"},"End":true}}}`,
			wantState:  "P", wantReason: "States.Hash is not supported",
		},
		{
			name:       "an intrinsic with the wrong number of arguments",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"h.$":"States.StringToJson($.a, $.b)"},"End":true}}}`,
			wantState:  "P", wantReason: "takes 1 arguments, not 2",
		},
		{
			name:       "a path that does not start with $",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"a.b","End":true}}}`,
			wantState:  "P", wantField: "InputPath", wantReason: "must start with $",
		},
		{
			name:       "an indefinite ResultPath",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","ResultPath":"$.a[*]","End":true}}}`,
			wantState:  "P", wantField: "ResultPath", wantReason: "single value",
		},
		{
			name:       "a transition to a missing state",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"Nowhere"}}}`,
			wantState:  "P", wantField: "Next", wantReason: `"Nowhere" does not exist`,
		},
		{
			name:       "both Next and End",
			definition: `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"P","End":true}}}`,
			wantState:  "P", wantReason: "exactly one of Next and End",
		},
		{
			name:       "a missing StartAt state",
			definition: `{"StartAt":"Q","States":{"P":{"Type":"Succeed"}}}`,
			wantField:  "StartAt", wantReason: `"Q" does not exist`,
		},
		{
			name:       "JSONata",
			definition: `{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Succeed"}}}`,
			wantField:  "QueryLanguage", wantReason: "only JSONPath",
		},
		{
			name:       "a top-level TimeoutSeconds",
			definition: `{"TimeoutSeconds":60,"StartAt":"P","States":{"P":{"Type":"Succeed"}}}`,
			wantField:  "TimeoutSeconds", wantReason: "is not supported",
		},
		{
			name:       "a Choice rule with two operators",
			definition: `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","StringEquals":"x","IsPresent":true,"Next":"C"}]}}}`,
			wantState:  "C", wantReason: "exactly one operator",
		},
		{
			name:       "a nested Choice rule with Next",
			definition: `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.a","IsNull":true,"Next":"C"},"Next":"C"}]}}}`,
			wantState:  "C", wantReason: "Choices[0].Not.Next",
		},
		{
			name:       "Fail with both Cause and CausePath",
			definition: `{"StartAt":"F","States":{"F":{"Type":"Fail","Cause":"c","CausePath":"$.c"}}}`,
			wantState:  "F", wantField: "CausePath", wantReason: "together with Cause",
		},
		{
			name:       "a Wait with two durations",
			definition: `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}}}`,
			wantState:  "W", wantReason: "exactly one of Seconds",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := asl.Load([]byte(tc.definition), tc.subs)
			var de *asl.DefinitionError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.wantState, de.State)
			assert.Equal(t, tc.wantField, de.Field)
			assert.Contains(t, de.Reason, tc.wantReason)
		})
	}
}

func TestLoadSubstitutesPlaceholders(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"arn":"${Arn}","q":"${Quoted}"},"End":true}}}`
	m, err := asl.Load([]byte(def), map[string]string{"Arn": "arn:aws:lambda:eu-west-1:1:function:f", "Quoted": `a "b"`})
	require.NoError(t, err)
	exec := runMachine(t, m, `{}`)
	assert.JSONEq(t, `{"arn":"arn:aws:lambda:eu-west-1:1:function:f","q":"a \"b\""}`, string(exec.Output))
}

func TestDefinitionErrorNamesStateAndField(t *testing.T) {
	err := &asl.DefinitionError{State: "LoadBatch", Field: "Retry[0].MaxRetries", Reason: "is not supported"}
	assert.Equal(t, `asl: state "LoadBatch": field Retry[0].MaxRetries: is not supported`, err.Error())
}
