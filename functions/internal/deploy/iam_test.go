package deploy

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type policyKind string

const (
	identityPolicy policyKind = "identity"
	trustPolicy    policyKind = "trust"
	resourcePolicy policyKind = "resource"
)

// statement is one IAM policy statement, normalised so that single values and lists read alike.
type statement struct {
	owner       string
	kind        policyKind
	sid         string
	effect      string
	actions     []string
	notAction   bool
	resources   []string
	notResource bool
	principal   any
	condition   map[string]any
}

func (s statement) String() string {
	return fmt.Sprintf("%s %s statement %q", s.owner, s.kind, s.sid)
}

// unscopable lists the actions this template grants on "*". None of them has a resource type
// in the Service Authorization Reference, so "*" is the only resource a statement granting
// them can name; any other action must name its resources.
var unscopable = map[string]bool{
	// X-Ray: trace and telemetry upload, and sampling rules for traced state machines.
	"xray:PutTraceSegments":    true,
	"xray:PutTelemetryRecords": true,
	"xray:GetSamplingRules":    true,
	"xray:GetSamplingTargets":  true,
	// CloudWatch Logs vended-log delivery, which Step Functions sets up for execution logs.
	"logs:CreateLogDelivery":        true,
	"logs:GetLogDelivery":           true,
	"logs:UpdateLogDelivery":        true,
	"logs:DeleteLogDelivery":        true,
	"logs:ListLogDeliveries":        true,
	"logs:PutResourcePolicy":        true,
	"logs:DescribeResourcePolicies": true,
	"logs:DescribeLogGroups":        true,
}

// policyTypes are the resource types that carry IAM policies; statements below reads all of
// those this template uses, and TestNoUncheckedPolicies keeps the rest out.
var policyTypes = map[string]bool{
	"AWS::IAM::Role":        true,
	"AWS::S3::BucketPolicy": true,
	"AWS::SQS::QueuePolicy": true,
}

// statements returns every policy statement in the template.
func statements(t *testing.T, v views) []statement {
	t.Helper()
	var out []statement
	for name, r := range v.typed.Resources {
		switch r.AWSCloudFormationType() {
		case "AWS::IAM::Role":
			role, err := v.typed.GetIAMRoleWithName(name)
			require.NoError(t, err)
			out = append(out, statementsOf(t, name, trustPolicy, role.AssumeRolePolicyDocument)...)
			for _, p := range role.Policies {
				out = append(out, statementsOf(t, name+" "+p.PolicyName, identityPolicy, p.PolicyDocument)...)
			}
		case "AWS::S3::BucketPolicy":
			bp, err := v.typed.GetS3BucketPolicyWithName(name)
			require.NoError(t, err)
			out = append(out, statementsOf(t, name, resourcePolicy, bp.PolicyDocument)...)
		case "AWS::SQS::QueuePolicy":
			qp, err := v.typed.GetSQSQueuePolicyWithName(name)
			require.NoError(t, err)
			out = append(out, statementsOf(t, name, resourcePolicy, qp.PolicyDocument)...)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// statementsOf normalises the statements of one policy document.
func statementsOf(t *testing.T, owner string, kind policyKind, doc any) []statement {
	t.Helper()
	m, ok := doc.(map[string]any)
	require.Truef(t, ok, "%s: the policy document is not an object", owner)
	assert.Equalf(t, "2012-10-17", m["Version"], "%s: policy language version", owner)
	var raw []any
	switch st := m["Statement"].(type) {
	case []any:
		raw = st
	case map[string]any:
		raw = []any{st}
	default:
		require.Failf(t, "no statements", "%s", owner)
	}
	out := make([]statement, 0, len(raw))
	for i, r := range raw {
		sm, ok := r.(map[string]any)
		require.Truef(t, ok, "%s: statement %d is not an object", owner, i)
		s := statement{owner: owner, kind: kind, principal: sm["Principal"]}
		s.sid, _ = sm["Sid"].(string)
		if s.sid == "" {
			s.sid = fmt.Sprint(i)
		}
		s.effect, _ = sm["Effect"].(string)
		s.actions = strs(sm["Action"])
		_, s.notAction = sm["NotAction"]
		s.resources = strs(sm["Resource"])
		_, s.notResource = sm["NotResource"]
		s.condition, _ = sm["Condition"].(map[string]any)
		out = append(out, s)
	}
	return out
}

// grants maps each action a role's policies allow to the resources it is allowed on.
func grants(all []statement, role string) map[string][]string {
	out := map[string][]string{}
	for _, s := range all {
		if s.kind != identityPolicy || !strings.HasPrefix(s.owner, role+" ") || s.effect != "Allow" {
			continue
		}
		for _, a := range s.actions {
			out[a] = sorted(append(out[a], s.resources...))
		}
	}
	return out
}

// TestServerlessResourcesUseTemplateRoles keeps SAM from generating roles: a generated role
// carries AWS managed policies with "*" resources (the SQS event source adds receive and
// delete on every queue, tracing adds X-Ray), which the checks below could not see.
func TestServerlessResourcesUseTemplateRoles(t *testing.T) {
	v := template(t)
	names := resourcesOfType(t, v, "AWS::Serverless::Function", "AWS::Serverless::StateMachine")
	for _, name := range names {
		props := resourceProps(t, v, name)
		_, hasPolicies := props["Policies"]
		assert.Falsef(t, hasPolicies, "%s: Policies would make SAM generate a role", name)
		role, _ := props["Role"].(string)
		require.Regexpf(t, `^\$\{[A-Za-z0-9]+\.Arn\}$`, role, "%s: Role must name a role of this template", name)
		logical := strings.TrimSuffix(strings.TrimPrefix(role, "${"), ".Arn}")
		assert.Equalf(t, "AWS::IAM::Role", at(t, v.doc, "Resources", logical, "Type"), "%s: Role", name)
	}
	assert.Equal(t, 3, len(names), "two functions and one state machine")
}

func TestNoUncheckedPolicies(t *testing.T) {
	v := template(t)
	policyBearing := regexp.MustCompile(`^AWS::(IAM::|Lambda::Permission$|SNS::TopicPolicy$|Logs::ResourcePolicy$|S3::BucketPolicy$|SQS::QueuePolicy$|KMS::)`)
	for name, r := range v.typed.Resources {
		typ := r.AWSCloudFormationType()
		if policyBearing.MatchString(typ) {
			assert.Truef(t, policyTypes[typ], "%s: %s carries a policy these tests do not read", name, typ)
		}
	}
	for name := range v.typed.Resources {
		role, err := v.typed.GetIAMRoleWithName(name)
		if err != nil {
			continue
		}
		assert.Emptyf(t, role.ManagedPolicyArns, "%s: managed policies are not visible to these checks", name)
	}
}

// TestAllowedActionsAreExplicit rejects "*" and service wildcards such as "s3:*" or
// "s3:Get*" in anything a policy allows. Deny statements may use wildcards: the bucket
// policy's TLS statements deny every S3 action, which only takes access away.
func TestAllowedActionsAreExplicit(t *testing.T) {
	v := template(t)
	action := regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9]+$`)
	for _, s := range statements(t, v) {
		if s.effect != "Allow" {
			assert.Equalf(t, "Deny", s.effect, "%s", s)
			continue
		}
		assert.Falsef(t, s.notAction, "%s: NotAction allows everything else", s)
		assert.Falsef(t, s.notResource, "%s: NotResource allows everything else", s)
		require.NotEmptyf(t, s.actions, "%s", s)
		for _, a := range s.actions {
			assert.Regexpf(t, action, a, "%s: action must be spelled out", s)
		}
	}
}

// TestWildcardResources allows Resource "*" only for statements made entirely of unscopable
// actions, and other wildcards only below a resource this template creates (objects under a
// prefix of the data bucket, versions of the loader, executions of the state machine).
func TestWildcardResources(t *testing.T) {
	v := template(t)
	ref := regexp.MustCompile(`\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}`)
	for _, s := range statements(t, v) {
		if s.kind != identityPolicy {
			continue
		}
		require.NotEmptyf(t, s.resources, "%s has no Resource", s)
		for _, r := range s.resources {
			if r == "*" {
				for _, a := range s.actions {
					assert.Truef(t, unscopable[a], "%s: %s can name its resources; only unscopable actions get \"*\"", s, a)
				}
				continue
			}
			star := strings.Index(r, "*")
			if star < 0 {
				continue
			}
			anchor := r[:star]
			assert.Truef(t, strings.HasSuffix(anchor, "/") || strings.HasSuffix(anchor, ":"),
				"%s: %q may only end in a wildcard after / or :", s, r)
			var anchored bool
			for _, m := range ref.FindAllStringSubmatch(anchor, -1) {
				if _, ok := v.typed.Resources[m[1]]; ok {
					anchored = true
				}
			}
			assert.Truef(t, anchored, "%s: %q is not scoped to a resource of this template", s, r)
		}
	}
}

// TestRoleGrants pins every permission each role has, so that widening one is a visible,
// reviewed change to this table.
func TestRoleGrants(t *testing.T) {
	v := template(t)
	all := statements(t, v)
	incoming := "${DataBucket.Arn}/" + incomingPrefix + "*"
	quarantine := "${DataBucket.Arn}/" + quarantinePrefix + "*"
	cases := []struct {
		role string
		want map[string][]string
	}{
		{"ValidatorFunctionRole", map[string][]string{
			"sqs:ReceiveMessage":       {"${IngestQueue.Arn}"},
			"sqs:DeleteMessage":        {"${IngestQueue.Arn}"},
			"sqs:GetQueueAttributes":   {"${IngestQueue.Arn}"},
			"s3:GetObject":             {incoming},
			"s3:GetObjectVersion":      {incoming},
			"s3:ListBucket":            {"${DataBucket.Arn}"},
			"s3:PutObject":             {quarantine},
			"states:StartExecution":    {"${LoaderStateMachine}"},
			"states:DescribeExecution": {"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${LoaderStateMachine.Name}:*"},
			"sqs:SendMessage":          {"${DeadLetterQueue.Arn}"},
			"logs:CreateLogStream":     {"${ValidatorLogGroup.Arn}"},
			"logs:PutLogEvents":        {"${ValidatorLogGroup.Arn}"},
			"xray:PutTraceSegments":    {"*"},
			"xray:PutTelemetryRecords": {"*"},
		}},
		{"LoaderFunctionRole", map[string][]string{
			"s3:GetObject":             {incoming},
			"s3:GetObjectVersion":      {incoming},
			"s3:ListBucket":            {"${DataBucket.Arn}"},
			"logs:CreateLogStream":     {"${LoaderLogGroup.Arn}"},
			"logs:PutLogEvents":        {"${LoaderLogGroup.Arn}"},
			"xray:PutTraceSegments":    {"*"},
			"xray:PutTelemetryRecords": {"*"},
		}},
		{"LoaderStateMachineRole", map[string][]string{
			"lambda:InvokeFunction":         {"${LoaderFunction.Arn}", "${LoaderFunction.Arn}:*"},
			"sqs:SendMessage":               {"${DeadLetterQueue.Arn}"},
			"logs:CreateLogDelivery":        {"*"},
			"logs:GetLogDelivery":           {"*"},
			"logs:UpdateLogDelivery":        {"*"},
			"logs:DeleteLogDelivery":        {"*"},
			"logs:ListLogDeliveries":        {"*"},
			"logs:PutResourcePolicy":        {"*"},
			"logs:DescribeResourcePolicies": {"*"},
			"logs:DescribeLogGroups":        {"*"},
			"xray:PutTraceSegments":         {"*"},
			"xray:PutTelemetryRecords":      {"*"},
			"xray:GetSamplingRules":         {"*"},
			"xray:GetSamplingTargets":       {"*"},
		}},
	}
	roles := map[string]bool{}
	for _, tc := range cases {
		roles[tc.role] = true
		t.Run(tc.role, func(t *testing.T) {
			want := map[string][]string{}
			for a, rs := range tc.want {
				want[a] = sorted(rs)
			}
			assert.Equal(t, want, grants(all, tc.role))
		})
	}
	for name, r := range v.typed.Resources {
		if r.AWSCloudFormationType() == "AWS::IAM::Role" {
			assert.Truef(t, roles[name], "role %s has no expected grants in this test", name)
		}
	}
}

// TestLoaderRoleIsReadOnly states the loader's contract on its own: its IAM role is its
// Snowflake identity, so it reads uploaded files and holds no secret, key or parameter access.
func TestLoaderRoleIsReadOnly(t *testing.T) {
	v := template(t)
	g := grants(statements(t, v), "LoaderFunctionRole")
	require.NotEmpty(t, g)
	forbidden := []string{"secretsmanager:", "kms:", "ssm:", "sts:", "iam:", "sqs:", "states:", "lambda:"}
	for action, resources := range g {
		for _, f := range forbidden {
			assert.Falsef(t, strings.HasPrefix(action, f), "the loader may not use %s", action)
		}
		switch {
		case action == "s3:ListBucket":
			// Lets S3 answer 404 for an object deleted after validation, which the loader
			// skips, instead of 403, which it must treat as a missing permission.
			assert.Equal(t, []string{"${DataBucket.Arn}"}, resources)
		case strings.HasPrefix(action, "s3:"):
			assert.Containsf(t, []string{"s3:GetObject", "s3:GetObjectVersion"}, action, "the loader only reads")
			assert.Equalf(t, []string{"${DataBucket.Arn}/" + incomingPrefix + "*"}, resources, "%s", action)
		}
	}
}

func TestTrustPolicies(t *testing.T) {
	v := template(t)
	all := statements(t, v)
	cases := []struct {
		role, service string
		sourceAccount bool
	}{
		{"ValidatorFunctionRole", "lambda.amazonaws.com", false},
		{"LoaderFunctionRole", "lambda.amazonaws.com", false},
		// Step Functions supports the confused-deputy conditions on its role trust.
		{"LoaderStateMachineRole", "states.amazonaws.com", true},
	}
	for _, tc := range cases {
		t.Run(tc.role, func(t *testing.T) {
			var trust []statement
			for _, s := range all {
				if s.kind == trustPolicy && s.owner == tc.role {
					trust = append(trust, s)
				}
			}
			require.Len(t, trust, 1)
			s := trust[0]
			assert.Equal(t, "Allow", s.effect)
			assert.Equal(t, []string{"sts:AssumeRole"}, s.actions)
			assert.Equal(t, map[string]any{"Service": tc.service}, s.principal)
			if tc.sourceAccount {
				assert.Equal(t, "${AWS::AccountId}", scalar(at(t, s.condition, "StringEquals", "aws:SourceAccount")))
			}
		})
	}
}

// TestResourcePolicyAllows checks that resource policies open nothing to the world: every
// Allow names a service principal and pins the calling account.
func TestResourcePolicyAllows(t *testing.T) {
	v := template(t)
	for _, s := range statements(t, v) {
		if s.kind != resourcePolicy || s.effect != "Allow" {
			continue
		}
		p, ok := s.principal.(map[string]any)
		require.Truef(t, ok, "%s: principal %v", s, s.principal)
		assert.Equalf(t, []string{"Service"}, keys(p), "%s: only a service principal", s)
		_, ok = lookup(s.condition, "StringEquals", "aws:SourceAccount")
		assert.Truef(t, ok, "%s: no aws:SourceAccount condition", s)
	}
}
