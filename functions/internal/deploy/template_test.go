package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
)

func TestTemplateIsSAM(t *testing.T) {
	v := template(t)
	require.NotNil(t, v.typed.Transform)
	require.NotNil(t, v.typed.Transform.String)
	assert.Equal(t, "AWS::Serverless-2016-10-31", *v.typed.Transform.String)
}

func TestParameterDefaults(t *testing.T) {
	v := template(t)
	caps := batch.DefaultCaps()
	cases := []struct {
		name string
		want string
	}{
		{"SnowflakeUser", "LAMBDA_LOADER_BOT"},
		{"SnowflakeRole", "LOADER_ROLE"},
		{"SnowflakeWarehouse", "LOADER_WH"},
		{"SnowflakeDatabase", "LOADER_DB"},
		{"SnowflakeSchema", "RAW"},
		{"StageName", "dev"},
		// The batch caps default to what the validator uses when the variables are unset.
		{"BatchMaxFiles", strconv.Itoa(caps.MaxFiles)},
		{"BatchMaxBytes", strconv.FormatInt(caps.MaxBytes, 10)},
		{"LogLevel", "INFO"},
		{"AlarmEmail", ""},
		{"LoaderConcurrency", "4"},
		{"NoncurrentVersionDays", "30"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := v.typed.Parameters[tc.name]
			require.True(t, ok, "parameter missing")
			require.NotNil(t, p.Default, "parameter has no default")
			assert.Equal(t, tc.want, scalar(p.Default))
		})
	}
	t.Run("SnowflakeAccount has no default", func(t *testing.T) {
		p, ok := v.typed.Parameters["SnowflakeAccount"]
		require.True(t, ok)
		assert.Nil(t, p.Default, "every deployment names its own account")
	})
}

// TestLogLevelChoices checks that every choice is a level both Lambda's log filter
// (ApplicationLogLevel) and log/slog, which the functions parse LOG_LEVEL with, accept.
func TestLogLevelChoices(t *testing.T) {
	v := template(t)
	lambdaLevels := []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
	slogLevels := []string{"DEBUG", "INFO", "WARN", "ERROR"}
	p := v.typed.Parameters["LogLevel"]
	require.NotEmpty(t, p.AllowedValues)
	for _, lv := range p.AllowedValues {
		level := scalar(lv)
		assert.Contains(t, lambdaLevels, level)
		assert.Contains(t, slogLevels, level)
	}
	assert.Contains(t, p.AllowedValues, p.Default)
}

func TestGlobals(t *testing.T) {
	v := template(t)
	g, err := v.typed.GetServerlessGlobalFunction()
	require.NoError(t, err)
	require.NotNil(t, g.Runtime)
	require.NotNil(t, g.Architectures)
	require.NotNil(t, g.Tracing)
	assert.Equal(t, "provided.al2023", *g.Runtime)
	assert.Equal(t, []string{"arm64"}, *g.Architectures)
	assert.Equal(t, "Active", *g.Tracing)

	// goformation's global function has no LoggingConfig: read it from the generic view.
	cases := []struct {
		key, want string
	}{
		{"LogFormat", "JSON"},
		// Lambda filters nothing the functions write (they filter their own lines at
		// LOG_LEVEL), so metric lines, which carry no level, always pass: see TestMetricsSurviveLogLevel.
		{"ApplicationLogLevel", "TRACE"},
		// REPORT lines, with each invocation's Max Memory Used, are platform INFO lines.
		{"SystemLogLevel", "INFO"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			assert.Equal(t, tc.want, at(t, v.doc, "Globals", "Function", "LoggingConfig", tc.key))
		})
	}
}

func TestFunctions(t *testing.T) {
	v := template(t)
	g, err := v.typed.GetServerlessGlobalFunction()
	require.NoError(t, err)
	cases := []struct {
		name, codeURI, role, logGroup string
	}{
		{"ValidatorFunction", "functions/validator", "${ValidatorFunctionRole.Arn}", "ValidatorLogGroup"},
		{"LoaderFunction", "functions/loader", "${LoaderFunctionRole.Arn}", "LoaderLogGroup"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn, err := v.typed.GetServerlessFunctionWithName(tc.name)
			require.NoError(t, err)
			require.NotNil(t, fn.CodeUri)
			require.NotNil(t, fn.CodeUri.String)
			assert.Equal(t, tc.codeURI, *fn.CodeUri.String)
			// SAM builds the CodeUri directory with `go build`: it must be a main package.
			assert.FileExists(t, filepath.Join("../../..", tc.codeURI, "main.go"))
			require.NotNil(t, fn.Handler)
			assert.Equal(t, "bootstrap", *fn.Handler, "provided.al2023 runs the binary named bootstrap")
			assert.Equal(t, "go1.x", fn.AWSCloudFormationMetadata["BuildMethod"])
			require.NotNil(t, fn.Role)
			assert.Equal(t, tc.role, *fn.Role)

			// The function must not override the runtime settings Globals give it.
			if fn.Runtime != nil {
				assert.Equal(t, *g.Runtime, *fn.Runtime)
			}
			if fn.Architectures != nil {
				assert.Equal(t, *g.Architectures, fn.Architectures)
			}
			if fn.Tracing != nil {
				assert.Equal(t, *g.Tracing, *fn.Tracing)
			}
			assert.LessOrEqual(t, effective(fn.Timeout, g.Timeout), 900, "Lambda's maximum timeout")
			assert.Positive(t, effective(fn.MemorySize, g.MemorySize))

			assert.Equal(t, "${"+tc.logGroup+"}", at(t, resourceProps(t, v, tc.name), "LoggingConfig", "LogGroup"))
			lg, err := v.typed.GetLogsLogGroupWithName(tc.logGroup)
			require.NoError(t, err)
			require.NotNil(t, lg.RetentionInDays, "logs must not be kept forever")
			assert.Positive(t, *lg.RetentionInDays)
		})
	}
}

func TestFunctionEnvironment(t *testing.T) {
	v := template(t)
	g, err := v.typed.GetServerlessGlobalFunction()
	require.NoError(t, err)
	cases := []struct {
		name string
		want map[string]string
	}{
		{"ValidatorFunction", map[string]string{
			"LOG_LEVEL": "${LogLevel}", "STAGE": "${StageName}",
			"INCOMING_PREFIX":       incomingPrefix,
			"QUARANTINE_PREFIX":     quarantinePrefix,
			"STATE_MACHINE_ARN":     "${LoaderStateMachine}",
			"DEAD_LETTER_QUEUE_URL": "${DeadLetterQueue}",
			"BATCH_MAX_FILES":       "${BatchMaxFiles}",
			"BATCH_MAX_BYTES":       "${BatchMaxBytes}",
			"LOSSY_NUMBERS":         "${LossyNumbers}",
		}},
		{"LoaderFunction", map[string]string{
			"LOG_LEVEL": "${LogLevel}", "STAGE": "${StageName}",
			"SNOWFLAKE_ACCOUNT":   "${SnowflakeAccount}",
			"SNOWFLAKE_USER":      "${SnowflakeUser}",
			"SNOWFLAKE_ROLE":      "${SnowflakeRole}",
			"SNOWFLAKE_WAREHOUSE": "${SnowflakeWarehouse}",
			"SNOWFLAKE_DATABASE":  "${SnowflakeDatabase}",
			"SNOWFLAKE_SCHEMA":    "${SnowflakeSchema}",
		}},
	}
	secret := regexp.MustCompile(`PASSWORD|PASSPHRASE|PRIVATE_KEY|SECRET|TOKEN|CREDENTIAL`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn, err := v.typed.GetServerlessFunctionWithName(tc.name)
			require.NoError(t, err)
			// SAM merges the global variables with the function's own.
			got := map[string]string{}
			if g.Environment != nil {
				for k, val := range g.Environment.Variables {
					got[k] = val
				}
			}
			if fn.Environment != nil {
				for k, val := range fn.Environment.Variables {
					got[k] = val
				}
			}
			assert.Equal(t, tc.want, got)
			for k := range got {
				assert.NotRegexp(t, secret, k, "the loader is keyless: no variable carries a secret")
			}
		})
	}
}

func TestStateMachine(t *testing.T) {
	v := template(t)
	sm, err := v.typed.GetServerlessStateMachineWithName("LoaderStateMachine")
	require.NoError(t, err)

	require.NotNil(t, sm.Type)
	assert.Equal(t, "STANDARD", *sm.Type)
	require.NotNil(t, sm.DefinitionUri)
	require.NotNil(t, sm.DefinitionUri.String)
	assert.Equal(t, "statemachine/loader.asl.json", *sm.DefinitionUri.String)
	require.NotNil(t, sm.Role)
	assert.Equal(t, "${LoaderStateMachineRole.Arn}", *sm.Role)
	require.NotNil(t, sm.Tracing)
	require.NotNil(t, sm.Tracing.Enabled)
	assert.True(t, *sm.Tracing.Enabled)

	require.NotNil(t, sm.Logging)
	assert.Contains(t, []string{"ERROR", "ALL"}, sm.Logging.Level)
	assert.True(t, sm.Logging.IncludeExecutionData)
	require.Len(t, sm.Logging.Destinations, 1)
	require.NotNil(t, sm.Logging.Destinations[0].CloudWatchLogsLogGroup)
	assert.Equal(t, "${StateMachineLogGroup.Arn}", sm.Logging.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn)
	lg, err := v.typed.GetLogsLogGroupWithName("StateMachineLogGroup")
	require.NoError(t, err)
	require.NotNil(t, lg.RetentionInDays)
	assert.Positive(t, *lg.RetentionInDays)

	assert.Equal(t, map[string]string{
		"LoaderFunctionArn":  "${LoaderFunction.Arn}",
		"DeadLetterQueueUrl": "${DeadLetterQueue}",
	}, sm.DefinitionSubstitutions)
}

// TestDefinitionSubstitutionsMatchPlaceholders reads the definition SAM deploys: a
// placeholder without a substitution reaches Step Functions as literal text, and a
// substitution without a placeholder is a sign the two files drifted apart.
func TestDefinitionSubstitutionsMatchPlaceholders(t *testing.T) {
	v := template(t)
	sm, err := v.typed.GetServerlessStateMachineWithName("LoaderStateMachine")
	require.NoError(t, err)
	data, err := os.ReadFile(definitionPath)
	require.NoError(t, err, "the state machine definition must exist")
	require.True(t, json.Valid(data), "%s is not JSON", definitionPath)

	var placeholders []string
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([^}]*)\}`).FindAllStringSubmatch(string(data), -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			placeholders = append(placeholders, m[1])
		}
	}
	assert.ElementsMatch(t, keys(sm.DefinitionSubstitutions), placeholders)
}

// TestLoaderTimeoutFitsTask checks that the loader's own timeout fires before the task's, so
// a slow load fails with Lambda's error rather than a bare States.Timeout.
func TestLoaderTimeoutFitsTask(t *testing.T) {
	v := template(t)
	fn, err := v.typed.GetServerlessFunctionWithName("LoaderFunction")
	require.NoError(t, err)
	g, err := v.typed.GetServerlessGlobalFunction()
	require.NoError(t, err)
	data, err := os.ReadFile(definitionPath)
	require.NoError(t, err)
	var def map[string]any
	require.NoError(t, json.Unmarshal(data, &def))

	for _, name := range []string{"LoadBatch", "LoadBatchAfterAbortWindow"} {
		task, ok := lookup(def, "States", name)
		require.True(t, ok, "the definition has no %s state", name)
		if ts, ok := lookup(task, "TimeoutSeconds"); ok {
			assert.Greater(t, number(t, ts), effective(fn.Timeout, g.Timeout), name)
		}
	}
}

func TestAlarms(t *testing.T) {
	v := template(t)
	cases := []struct {
		name, namespace, metric, dimension, value string
	}{
		{"DeadLetterQueueAlarm", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${DeadLetterQueue.QueueName}"},
		{"LoadFailedAlarm", "AWS/States", "ExecutionsFailed", "StateMachineArn", "${LoaderStateMachine}"},
		{"ValidatorErrorsAlarm", "AWS/Lambda", "Errors", "FunctionName", "${ValidatorFunction}"},
		{"LoaderErrorsAlarm", "AWS/Lambda", "Errors", "FunctionName", "${LoaderFunction}"},
		{"ValidatorThrottlesAlarm", "AWS/Lambda", "Throttles", "FunctionName", "${ValidatorFunction}"},
		{"LoaderThrottlesAlarm", "AWS/Lambda", "Throttles", "FunctionName", "${LoaderFunction}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := v.typed.GetCloudWatchAlarmWithName(tc.name)
			require.NoError(t, err)
			require.NotNil(t, a.Namespace)
			require.NotNil(t, a.MetricName)
			assert.Equal(t, tc.namespace, *a.Namespace)
			assert.Equal(t, tc.metric, *a.MetricName)
			require.Len(t, a.Dimensions, 1)
			assert.Equal(t, tc.dimension, a.Dimensions[0].Name)
			assert.Equal(t, tc.value, a.Dimensions[0].Value)
			assert.Equal(t, "GreaterThanThreshold", a.ComparisonOperator)
			require.NotNil(t, a.Threshold)
			assert.Zero(t, *a.Threshold, "a single occurrence raises the alarm")
		})
	}
}

// TestAlarmNotifications checks the conditional wiring in the unprocessed template: the topic
// exists only with an email address, and every alarm notifies it only then.
func TestAlarmNotifications(t *testing.T) {
	v := template(t)
	assert.Equal(t,
		map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AlarmEmail"}, ""}}}},
		at(t, v.raw, "Conditions", "HasAlarmEmail"))
	for _, name := range []string{"AlarmTopic", "AlarmEmailSubscription"} {
		assert.Equal(t, "HasAlarmEmail", at(t, v.raw, "Resources", name, "Condition"), name)
	}
	sub, err := v.typed.GetSNSSubscriptionWithName("AlarmEmailSubscription")
	require.NoError(t, err)
	assert.Equal(t, "email", sub.Protocol)
	require.NotNil(t, sub.Endpoint)
	assert.Equal(t, "${AlarmEmail}", *sub.Endpoint)
	assert.Equal(t, "${AlarmTopic}", sub.TopicArn)

	want := map[string]any{"Fn::If": []any{
		"HasAlarmEmail",
		[]any{map[string]any{"Ref": "AlarmTopic"}},
		map[string]any{"Ref": "AWS::NoValue"},
	}}
	resources, ok := v.raw["Resources"].(map[string]any)
	require.True(t, ok)
	var alarms int
	for _, name := range keys(resources) {
		if at(t, resources, name, "Type") != "AWS::CloudWatch::Alarm" {
			continue
		}
		alarms++
		assert.Equal(t, want, at(t, resources, name, "Properties", "AlarmActions"), name)
	}
	assert.GreaterOrEqual(t, alarms, 4)
}

func TestOutputs(t *testing.T) {
	v := template(t)
	cases := []struct {
		name, value string
	}{
		{"DataBucketName", "${DataBucket}"},
		{"IngestQueueUrl", "${IngestQueue}"},
		{"IngestQueueArn", "${IngestQueue.Arn}"},
		{"DeadLetterQueueUrl", "${DeadLetterQueue}"},
		{"DeadLetterQueueArn", "${DeadLetterQueue.Arn}"},
		{"StateMachineArn", "${LoaderStateMachine}"},
		// The ARN the Snowflake service user's workload identity names.
		{"LoaderRoleArn", "${LoaderFunctionRole.Arn}"},
		{"ValidatorFunctionName", "${ValidatorFunction}"},
		{"LoaderFunctionName", "${LoaderFunction}"},
		{"ValidatorLogGroup", "${ValidatorLogGroup}"},
		{"LoaderLogGroup", "${LoaderLogGroup}"},
		{"StateMachineLogGroup", "${StateMachineLogGroup}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := v.typed.Outputs[tc.name]
			require.True(t, ok, "output missing")
			assert.Equal(t, tc.value, out.Value)
		})
	}
}

// scalar renders a parameter default or condition value the way CloudFormation passes it on.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestNoDependencyCycles derives the dependencies CloudFormation sees, from references (Ref,
// GetAtt, Sub variables) and DependsOn, and fails on a cycle, for which CloudFormation
// rejects the whole template. The fixed bucket and queue names exist to avoid two of them:
// bucket -> queue policy -> bucket ARN, and ingest queue -> dead-letter queue -> ingest ARN.
func TestNoDependencyCycles(t *testing.T) {
	v := template(t)
	resources, ok := v.doc["Resources"].(map[string]any)
	require.True(t, ok)
	ref := regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}`)

	deps := map[string][]string{}
	for _, name := range keys(resources) {
		res, _ := resources[name].(map[string]any)
		seen := map[string]bool{}
		add := func(dep string) {
			if _, ok := resources[dep]; ok && !seen[dep] {
				seen[dep] = true
				deps[name] = append(deps[name], dep)
			}
		}
		var walk func(any)
		walk = func(x any) {
			switch y := x.(type) {
			case string:
				for _, m := range ref.FindAllStringSubmatch(y, -1) {
					add(m[1])
				}
			case []any:
				for _, e := range y {
					walk(e)
				}
			case map[string]any:
				for _, k := range keys(y) {
					walk(y[k])
				}
			}
		}
		walk(res["Properties"])
		for _, d := range strs(res["DependsOn"]) {
			add(d)
		}
		sort.Strings(deps[name])
	}

	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string) []string
	visit = func(n string) []string {
		state[n] = visiting
		stack = append(stack, n)
		for _, d := range deps[n] {
			switch state[d] {
			case visiting:
				i := slices.Index(stack, d)
				return append(append([]string(nil), stack[i:]...), d)
			case unvisited:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	for _, name := range keys(resources) {
		if state[name] == unvisited {
			cycle := visit(name)
			require.Nil(t, cycle, "dependency cycle: %s", strings.Join(cycle, " -> "))
		}
	}
}
