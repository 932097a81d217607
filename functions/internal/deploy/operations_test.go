package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/announce"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
)

// lambdaLevels ranks the levels of Lambda's log-level filtering, most detailed first.
var lambdaLevels = map[string]int{"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}

// lambdaKeeps says whether Lambda's application log filter at level passes a JSON line: a line
// whose "level" is missing or unknown counts as INFO.
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
func lambdaKeeps(t *testing.T, line []byte, level string) bool {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(line, &doc), "every line the functions write is JSON: %s", line)
	s, _ := doc["level"].(string)
	rank, ok := lambdaLevels[s]
	if !ok {
		rank = lambdaLevels["INFO"]
	}
	return rank >= lambdaLevels[level]
}

// TestMetricsSurviveLogLevel writes, for each LogLevel the template allows, what a function
// writes in one invocation (a debug line, a warning and its metric line) to one stdout, and
// passes it through Lambda's filter as the template configures it. The metric line must reach
// CloudWatch whatever the level, and LOG_LEVEL must still decide which log lines do.
func TestMetricsSurviveLogLevel(t *testing.T) {
	v := template(t)
	appLevel, _ := at(t, v.doc, "Globals", "Function", "LoggingConfig", "ApplicationLogLevel").(string)
	require.Contains(t, lambdaLevels, appLevel)
	sysLevel, _ := at(t, v.doc, "Globals", "Function", "LoggingConfig", "SystemLogLevel").(string)
	require.Contains(t, lambdaLevels, sysLevel)
	assert.LessOrEqual(t, lambdaLevels[sysLevel], lambdaLevels["INFO"], "the platform's REPORT lines (Max Memory Used) are INFO")
	assert.Equal(t, "${LogLevel}", at(t, v.doc, "Globals", "Function", "Environment", "Variables", "LOG_LEVEL"),
		"the functions filter their own lines at LogLevel")

	p := v.typed.Parameters["LogLevel"]
	for _, lv := range p.AllowedValues {
		level := scalar(lv)
		t.Run(level, func(t *testing.T) {
			slogLevel, err := obs.ParseLevel(level)
			require.NoError(t, err)
			var stdout bytes.Buffer
			logger := obs.NewLogger(&stdout, slogLevel)
			logger.DebugContext(context.Background(), "file gated")
			logger.WarnContext(context.Background(), "file rejected")
			m := obs.NewMetrics("loader", "dev")
			m.Add(obs.RowsLoaded, 5)
			require.NoError(t, m.Flush(&stdout))

			var metricLines, debugLines, warnLines int
			sc := bufio.NewScanner(&stdout)
			for sc.Scan() {
				line := sc.Bytes()
				if !lambdaKeeps(t, line, appLevel) {
					continue
				}
				switch {
				case bytes.Contains(line, []byte(`"_aws"`)):
					metricLines++
				case bytes.Contains(line, []byte("file gated")):
					debugLines++
				case bytes.Contains(line, []byte("file rejected")):
					warnLines++
				}
			}
			assert.Equal(t, 1, metricLines, "the metric line reaches CloudWatch")
			assert.Equal(t, level == "DEBUG", debugLines == 1, "debug lines only at DEBUG")
			assert.Equal(t, level != "ERROR", warnLines == 1, "warnings at WARN and below")
		})
	}
}

func TestLoaderConcurrencyIsBounded(t *testing.T) {
	v := template(t)
	assert.Equal(t, "${LoaderConcurrency}", at(t, resourceProps(t, v, "LoaderFunction"), "ReservedConcurrentExecutions"))
	p := v.typed.Parameters["LoaderConcurrency"]
	require.NotNil(t, p.MinValue)
	// Reserved concurrency 0 would stop every load.
	assert.GreaterOrEqual(t, *p.MinValue, 1.0)
	_, bounded := lookup(resourceProps(t, v, "ValidatorFunction"), "ReservedConcurrentExecutions")
	assert.False(t, bounded, "the validator is bounded by its event source's MaximumConcurrency instead")
}

// TestThrottlingOutlastsABurst reads the state machine's retrier for a throttled loader and
// checks that, with the template's defaults, a burst of 10,000 files waits its turn rather than
// reaching the dead-letter queue: the retries' expected span (full jitter halves each delay on
// average) outlasts the time the loaders take to work through the burst, each batch taking the
// loader's whole timeout.
func TestThrottlingOutlastsABurst(t *testing.T) {
	v := template(t)
	data, err := os.ReadFile(definitionPath)
	require.NoError(t, err)
	var def struct {
		States map[string]struct {
			Retry []struct {
				ErrorEquals     []string
				IntervalSeconds float64
				BackoffRate     float64
				MaxAttempts     int
				MaxDelaySeconds float64
				JitterStrategy  string
			}
		}
	}
	require.NoError(t, json.Unmarshal(data, &def))
	var found int
	var span float64
	for _, r := range def.States["LoadBatch"].Retry {
		if !contains(r.ErrorEquals, "Lambda.TooManyRequestsException") {
			continue
		}
		found++
		assert.Equal(t, []string{"Lambda.TooManyRequestsException"}, r.ErrorEquals, "throttling has a retrier of its own")
		assert.Equal(t, "FULL", r.JitterStrategy, "waiting batches spread out instead of retrying together")
		require.Positive(t, r.MaxDelaySeconds, "the backoff is capped, so a freed loader is taken up soon")
		d := r.IntervalSeconds
		for range r.MaxAttempts {
			span += math.Min(d, r.MaxDelaySeconds) / 2
			d *= r.BackoffRate
		}
	}
	require.Equal(t, 1, found, "exactly one retrier names Lambda.TooManyRequestsException")

	loader, err := v.typed.GetServerlessFunctionWithName("LoaderFunction")
	require.NoError(t, err)
	require.NotNil(t, loader.Timeout)
	concurrency, err := strconv.Atoi(scalar(v.typed.Parameters["LoaderConcurrency"].Default))
	require.NoError(t, err)
	const files = 10_000
	batches := (files + batch.DefaultCaps().MaxFiles - 1) / batch.DefaultCaps().MaxFiles
	rounds := (batches + concurrency - 1) / concurrency
	drain := float64(rounds * *loader.Timeout)
	assert.Greater(t, span, drain, "%d batches, %d at a time, %d s each: %.0f s to drain; retries span %.0f s", batches, concurrency, *loader.Timeout, drain, span)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestBucketLifecycle(t *testing.T) {
	v := template(t)
	rules, ok := at(t, resourceProps(t, v, "DataBucket"), "LifecycleConfiguration", "Rules").([]any)
	require.True(t, ok)
	var abort, noncurrent bool
	for _, r := range rules {
		assert.Equal(t, "Enabled", at(t, r, "Status"))
		if d, ok := lookup(r, "AbortIncompleteMultipartUpload", "DaysAfterInitiation"); ok {
			abort = true
			assert.Positive(t, number(t, d))
		}
		if d, ok := lookup(r, "NoncurrentVersionExpiration", "NoncurrentDays"); ok {
			noncurrent = true
			assert.Equal(t, "${NoncurrentVersionDays}", d)
		}
		_, expiresCurrent := lookup(r, "ExpirationInDays")
		assert.False(t, expiresCurrent, "current versions are the data: they never expire")
	}
	assert.True(t, abort, "incomplete multipart uploads are aborted")
	assert.True(t, noncurrent, "noncurrent versions expire")
	p := v.typed.Parameters["NoncurrentVersionDays"]
	require.NotNil(t, p.MinValue)
	assert.GreaterOrEqual(t, *p.MinValue, 1.0)
}

// TestLogGroupsAndAlarmsCarryTags checks that the resources operators find by tag (cost
// reports, tag-based access) carry the stage tag like the rest of the stack.
func TestLogGroupsAndAlarmsCarryTags(t *testing.T) {
	v := template(t)
	names := resourcesOfType(t, v, "AWS::Logs::LogGroup", "AWS::CloudWatch::Alarm")
	for _, name := range names {
		tags, _ := lookup(v.doc, "Resources", name, "Properties", "Tags")
		assert.Contains(t, tags, map[string]any{"Key": "stage", "Value": "${StageName}"}, name)
	}
	assert.GreaterOrEqual(t, len(names), 10)
}

func TestAbortedAndTimedOutExecutionsAlarm(t *testing.T) {
	v := template(t)
	metrics, ok := at(t, resourceProps(t, v, "LoadAbortedOrTimedOutAlarm"), "Metrics").([]any)
	require.True(t, ok)
	var names []string
	for _, m := range metrics {
		if stat, ok := lookup(m, "MetricStat", "Metric"); ok {
			assert.Equal(t, "AWS/States", at(t, stat, "Namespace"))
			names = append(names, at(t, stat, "MetricName").(string))
			assert.Equal(t, []any{map[string]any{"Name": "StateMachineArn", "Value": "${LoaderStateMachine}"}}, at(t, stat, "Dimensions"))
		}
	}
	assert.ElementsMatch(t, []string{"ExecutionsAborted", "ExecutionsTimedOut"}, names)
}

// TestStackNameLimitAgrees checks that the template, the README and env.example state the
// same stack name limit, and that it keeps the bucket name <stack>-<account>-<region> within
// S3's 63 characters for a region name of up to 15 characters (the longest today has 14).
func TestStackNameLimitAgrees(t *testing.T) {
	v := template(t)
	re := regexp.MustCompile(`at most (\d+) characters`)
	desc := re.FindStringSubmatch(v.typed.Description)
	require.NotNil(t, desc, "the template's description states the limit")
	limit, err := strconv.Atoi(desc[1])
	require.NoError(t, err)
	assert.LessOrEqual(t, limit+len("-123456789012-")+15, 63)
	for _, file := range []string{"../../../README.md", "../../../env.example"} {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			if n, _ := strconv.Atoi(m[1]); n > 20 && n < 63 {
				assert.Equal(t, limit, n, "%s states another limit", file)
			}
		}
		assert.Contains(t, string(data), "at most "+desc[1]+" characters", file)
	}
}

// TestBackfillAnnouncesWhatTheBucketDoes checks that a backfill announces the same suffixes as
// the bucket's notification configuration: no more (S3 would never have sent them) and no less.
func TestBackfillAnnouncesWhatTheBucketDoes(t *testing.T) {
	v := template(t)
	b, err := v.typed.GetS3BucketWithName("DataBucket")
	require.NoError(t, err)
	require.NotNil(t, b.NotificationConfiguration)
	var suffixes []string
	for _, qc := range b.NotificationConfiguration.QueueConfigurations {
		require.NotNil(t, qc.Filter)
		require.NotNil(t, qc.Filter.S3Key)
		for _, r := range qc.Filter.S3Key.Rules {
			if r.Name == "suffix" {
				suffixes = append(suffixes, r.Value)
			}
		}
	}
	assert.ElementsMatch(t, suffixes, announce.Suffixes)
}
