package deploy

import (
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/policies"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3local"
)

func TestDataBucket(t *testing.T) {
	v := template(t)
	b, err := v.typed.GetS3BucketWithName("DataBucket")
	require.NoError(t, err)

	require.NotNil(t, b.PublicAccessBlockConfiguration)
	pab := b.PublicAccessBlockConfiguration
	for name, setting := range map[string]*bool{
		"BlockPublicAcls":       pab.BlockPublicAcls,
		"BlockPublicPolicy":     pab.BlockPublicPolicy,
		"IgnorePublicAcls":      pab.IgnorePublicAcls,
		"RestrictPublicBuckets": pab.RestrictPublicBuckets,
	} {
		t.Run(name, func(t *testing.T) {
			require.NotNil(t, setting)
			assert.True(t, *setting)
		})
	}

	t.Run("encryption", func(t *testing.T) {
		require.NotNil(t, b.BucketEncryption)
		require.Len(t, b.BucketEncryption.ServerSideEncryptionConfiguration, 1)
		def := b.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault
		require.NotNil(t, def)
		assert.Equal(t, "AES256", def.SSEAlgorithm, "SSE-S3: no reader needs KMS permissions")
	})
	t.Run("versioning", func(t *testing.T) {
		require.NotNil(t, b.VersioningConfiguration)
		assert.Equal(t, "Enabled", b.VersioningConfiguration.Status)
	})
	t.Run("ownership", func(t *testing.T) {
		require.NotNil(t, b.OwnershipControls)
		require.Len(t, b.OwnershipControls.Rules, 1)
		require.NotNil(t, b.OwnershipControls.Rules[0].ObjectOwnership)
		assert.Equal(t, "BucketOwnerEnforced", *b.OwnershipControls.Rules[0].ObjectOwnership)
	})
	t.Run("retained with the stack, but not after a failed create", func(t *testing.T) {
		// A failed first deployment must not leave a bucket behind whose fixed name makes
		// every retry fail.
		assert.Equal(t, policies.DeletionPolicy("RetainExceptOnCreate"), b.AWSCloudFormationDeletionPolicy)
		assert.Equal(t, policies.UpdateReplacePolicy("Retain"), b.AWSCloudFormationUpdateReplacePolicy)
	})
	t.Run("created after its queue policy", func(t *testing.T) {
		// S3 validates the queue destination when the bucket's notifications are written.
		assert.Contains(t, b.AWSCloudFormationDependsOn, "IngestQueuePolicy")
	})
}

func TestBucketNotifications(t *testing.T) {
	v := template(t)
	b, err := v.typed.GetS3BucketWithName("DataBucket")
	require.NoError(t, err)
	require.NotNil(t, b.NotificationConfiguration)
	nc := b.NotificationConfiguration
	assert.Empty(t, nc.LambdaConfigurations)
	assert.Empty(t, nc.TopicConfigurations)
	require.NotEmpty(t, nc.QueueConfigurations)

	type filter struct{ event, prefix, suffix string }
	var filters []filter
	for i, qc := range nc.QueueConfigurations {
		assert.Equalf(t, "s3:ObjectCreated:*", qc.Event, "configuration %d", i)
		assert.Equalf(t, "${IngestQueue.Arn}", qc.Queue, "configuration %d", i)
		require.NotNilf(t, qc.Filter, "configuration %d has no filter", i)
		require.NotNilf(t, qc.Filter.S3Key, "configuration %d has no key filter", i)
		f := filter{event: qc.Event}
		names := map[string]int{}
		for _, r := range qc.Filter.S3Key.Rules {
			names[strings.ToLower(r.Name)]++
			switch strings.ToLower(r.Name) {
			case "prefix":
				f.prefix = r.Value
			case "suffix":
				f.suffix = r.Value
			}
		}
		// S3 takes at most one rule of each kind per configuration.
		assert.Equalf(t, map[string]int{"prefix": 1, "suffix": 1}, names, "configuration %d", i)
		assert.Equalf(t, incomingPrefix, f.prefix, "configuration %d", i)
		filters = append(filters, f)
	}

	var want, got []string
	for _, ext := range []string{".json", ".ndjson", ".jsonl"} {
		want = append(want, ext, ext+".gz")
	}
	for _, f := range filters {
		got = append(got, f.suffix)
	}
	assert.ElementsMatch(t, want, got, "one configuration per accepted suffix")

	// The local S3 delivers by the same filters, so a file the deployed bucket would never
	// announce is not announced locally either.
	var local []filter
	for _, f := range s3local.IngestFilters {
		local = append(local, filter{event: "s3:ObjectCreated:*", prefix: f.Prefix, suffix: f.Suffix})
	}
	assert.ElementsMatch(t, filters, local, "s3local.IngestFilters says what template.yaml says")

	// S3 rejects two configurations for the same event whose filters overlap: prefixes where
	// one starts the other, and suffixes where one ends the other.
	for i := range filters {
		for j := i + 1; j < len(filters); j++ {
			a, b := filters[i], filters[j]
			if a.event != b.event {
				continue
			}
			prefixes := strings.HasPrefix(a.prefix, b.prefix) || strings.HasPrefix(b.prefix, a.prefix)
			suffixes := strings.HasSuffix(a.suffix, b.suffix) || strings.HasSuffix(b.suffix, a.suffix)
			assert.Falsef(t, prefixes && suffixes, "S3 would reject overlapping filters %+v and %+v", a, b)
		}
	}
}

func TestPrefixesAreDisjoint(t *testing.T) {
	v := template(t)
	b, err := v.typed.GetS3BucketWithName("DataBucket")
	require.NoError(t, err)
	validator, err := v.typed.GetServerlessFunctionWithName("ValidatorFunction")
	require.NoError(t, err)
	require.NotNil(t, validator.Environment)
	env := validator.Environment.Variables
	require.NotNil(t, b.NotificationConfiguration)

	quarantine := env["QUARANTINE_PREFIX"]
	assert.Equal(t, quarantinePrefix, quarantine)
	assert.Equal(t, incomingPrefix, env["INCOMING_PREFIX"])
	for _, p := range []string{quarantine, env["INCOMING_PREFIX"]} {
		assert.True(t, strings.HasSuffix(p, "/"), "%q must be a whole folder", p)
	}

	// A quarantined copy must never be announced: no notification prefix may contain the
	// quarantine prefix, nor the other way round.
	for _, qc := range b.NotificationConfiguration.QueueConfigurations {
		require.NotNil(t, qc.Filter)
		require.NotNil(t, qc.Filter.S3Key)
		for _, r := range qc.Filter.S3Key.Rules {
			if strings.ToLower(r.Name) != "prefix" {
				continue
			}
			assert.Equal(t, env["INCOMING_PREFIX"], r.Value, "the validator must know the prefix S3 notifies for")
			assert.False(t, strings.HasPrefix(quarantine, r.Value), "%q lies under %q", quarantine, r.Value)
			assert.False(t, strings.HasPrefix(r.Value, quarantine), "%q lies under %q", r.Value, quarantine)
		}
	}
}

func TestBucketPolicyDeniesInsecureTransport(t *testing.T) {
	v := template(t)
	bp, err := v.typed.GetS3BucketPolicyWithName("DataBucketPolicy")
	require.NoError(t, err)
	assert.Equal(t, "${DataBucket}", bp.Bucket)

	var found bool
	for _, s := range statementsOf(t, "DataBucketPolicy", resourcePolicy, bp.PolicyDocument) {
		cond, ok := lookup(s.condition, "Bool", "aws:SecureTransport")
		if !ok {
			continue
		}
		found = true
		assert.Equal(t, "false", scalar(cond))
		assert.Equal(t, "Deny", s.effect)
		assert.Equal(t, "*", s.principal)
		assert.Equal(t, []string{"s3:*"}, s.actions)
		assert.ElementsMatch(t, []string{"${DataBucket.Arn}", "${DataBucket.Arn}/*"}, s.resources, "the bucket and every object")
	}
	assert.True(t, found, "no statement denies requests without TLS")
}

func TestIngestQueue(t *testing.T) {
	v := template(t)
	q, err := v.typed.GetSQSQueueWithName("IngestQueue")
	require.NoError(t, err)
	fn, err := v.typed.GetServerlessFunctionWithName("ValidatorFunction")
	require.NoError(t, err)
	g, err := v.typed.GetServerlessGlobalFunction()
	require.NoError(t, err)

	timeout := effective(fn.Timeout, g.Timeout)
	require.Positive(t, timeout)
	window := number(t, at(t, validatorEvent(t, v), "Properties", "MaximumBatchingWindowInSeconds"))
	require.NotNil(t, q.VisibilityTimeout)
	// Lambda's guidance for SQS event sources: at least six times the function timeout, plus
	// the batching window.
	assert.GreaterOrEqual(t, *q.VisibilityTimeout, 6*timeout+window)

	require.NotNil(t, q.MessageRetentionPeriod)
	assert.GreaterOrEqual(t, *q.MessageRetentionPeriod, 4*24*3600)
	require.NotNil(t, q.SqsManagedSseEnabled)
	assert.True(t, *q.SqsManagedSseEnabled)

	assert.Equal(t, "${DeadLetterQueue.Arn}", at(t, q.RedrivePolicy, "deadLetterTargetArn"))
	assert.Equal(t, 5, number(t, at(t, q.RedrivePolicy, "maxReceiveCount")))
}

func TestDeadLetterQueue(t *testing.T) {
	v := template(t)
	dlq, err := v.typed.GetSQSQueueWithName("DeadLetterQueue")
	require.NoError(t, err)
	ingest, err := v.typed.GetSQSQueueWithName("IngestQueue")
	require.NoError(t, err)

	require.NotNil(t, dlq.MessageRetentionPeriod)
	assert.Equal(t, 1209600, *dlq.MessageRetentionPeriod, "14 days, SQS's maximum")
	require.NotNil(t, ingest.MessageRetentionPeriod)
	// A moved message keeps its first enqueue time, so the dead-letter queue must keep
	// messages longer than the queue they come from.
	assert.Greater(t, *dlq.MessageRetentionPeriod, *ingest.MessageRetentionPeriod)
	require.NotNil(t, dlq.SqsManagedSseEnabled)
	assert.True(t, *dlq.SqsManagedSseEnabled)

	// The allow policy names the ingest queue by an ARN built from its fixed name: referring
	// to the ingest queue itself would close a cycle through its redrive policy.
	require.NotNil(t, ingest.QueueName, "the ingest queue needs a fixed name for the redrive allow policy")
	assert.Equal(t, "byQueue", at(t, dlq.RedriveAllowPolicy, "redrivePermission"))
	assert.Equal(t,
		[]string{"arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:" + *ingest.QueueName},
		strs(at(t, dlq.RedriveAllowPolicy, "sourceQueueArns")))
}

func TestIngestQueuePolicy(t *testing.T) {
	v := template(t)
	qp, err := v.typed.GetSQSQueuePolicyWithName("IngestQueuePolicy")
	require.NoError(t, err)
	b, err := v.typed.GetS3BucketWithName("DataBucket")
	require.NoError(t, err)
	require.NotNil(t, b.BucketName, "the bucket needs a fixed name for the queue policy")
	assert.NotContains(t, *b.BucketName, "${DataBucket", "the name cannot come from the bucket itself")

	assert.Equal(t, []string{"${IngestQueue}"}, qp.Queues)
	st := statementsOf(t, "IngestQueuePolicy", resourcePolicy, qp.PolicyDocument)
	require.Len(t, st, 1)
	s := st[0]
	assert.Equal(t, "Allow", s.effect)
	assert.Equal(t, map[string]any{"Service": "s3.amazonaws.com"}, s.principal)
	assert.Equal(t, []string{"sqs:SendMessage"}, s.actions)
	assert.Equal(t, []string{"${IngestQueue.Arn}"}, s.resources)

	cases := []struct {
		operator, key, want string
	}{
		{"ArnEquals", "aws:SourceArn", "arn:${AWS::Partition}:s3:::" + *b.BucketName},
		{"StringEquals", "aws:SourceAccount", "${AWS::AccountId}"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			assert.Equal(t, tc.want, scalar(at(t, s.condition, tc.operator, tc.key)))
		})
	}
}

func TestValidatorEvent(t *testing.T) {
	v := template(t)
	ev := validatorEvent(t, v)
	assert.Equal(t, "SQS", at(t, ev, "Type"))
	props := at(t, ev, "Properties")
	cases := []struct {
		key  []string
		want any
	}{
		{[]string{"Queue"}, "${IngestQueue.Arn}"},
		{[]string{"BatchSize"}, 100.0},
		{[]string{"MaximumBatchingWindowInSeconds"}, 5.0},
		{[]string{"FunctionResponseTypes"}, []any{"ReportBatchItemFailures"}},
		{[]string{"ScalingConfig", "MaximumConcurrency"}, 5.0},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.key, "."), func(t *testing.T) {
			assert.Equal(t, tc.want, at(t, props, tc.key...))
		})
	}

	t.Run("loader has no event source", func(t *testing.T) {
		_, ok := resourceProps(t, v, "LoaderFunction")["Events"]
		assert.False(t, ok, "only the state machine invokes the loader")
	})
}

// validatorEvent returns the validator's one event source from the generic view: goformation
// cannot decode an SQS event with the newer batching and scaling properties.
func validatorEvent(t *testing.T, v views) map[string]any {
	t.Helper()
	events, ok := resourceProps(t, v, "ValidatorFunction")["Events"].(map[string]any)
	require.True(t, ok, "the validator has no events")
	require.Len(t, events, 1)
	for _, ev := range events {
		m, ok := ev.(map[string]any)
		require.True(t, ok)
		return m
	}
	return nil
}
