package sfemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attestation builds a WIF token the way gosnowflake v1.19.1 does: a signed, never sent,
// sts:GetCallerIdentity request, as base64 of {url, method, headers}.
type attestation struct {
	keyID, secret, region, url, method string
	at                                 time.Time
	audience                           string
	beforeSign, afterSign              func(r *http.Request)
}

func (a attestation) token(t *testing.T) string {
	t.Helper()
	if a.region == "" {
		a.region = "us-east-1"
	}
	if a.url == "" {
		a.url = "https://sts." + a.region + ".amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
	}
	if a.method == "" {
		a.method = http.MethodPost
	}
	if a.audience == "" {
		a.audience = "snowflakecomputing.com"
	}
	req, err := http.NewRequest(a.method, a.url, nil)
	require.NoError(t, err)
	req.Header.Set("Host", req.URL.Host)
	req.Header.Set("X-Snowflake-Audience", a.audience)
	if a.beforeSign != nil {
		a.beforeSign(req)
	}
	empty := sha256.Sum256(nil)
	creds := aws.Credentials{AccessKeyID: a.keyID, SecretAccessKey: a.secret, SessionToken: "session-token"}
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(empty[:]), "sts", a.region, a.at))
	if a.afterSign != nil {
		a.afterSign(req)
	}
	headers := map[string]string{}
	for k, v := range req.Header {
		headers[k] = v[0]
	}
	b, err := json.Marshal(map[string]any{"url": a.url, "method": a.method, "headers": headers})
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

func TestVerifyAttestation(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s := &Server{now: func() time.Time { return now }, cfg: Config{Identities: []Identity{{AccessKeyID: testKeyID, SecretAccessKey: testSecret, ARN: testARN}}}}
	good := attestation{keyID: testKeyID, secret: testSecret, at: now.Add(-time.Minute)}
	cases := []struct {
		name   string
		att    attestation
		reason string // substring of the refusal; "" means accepted
	}{
		{name: "valid", att: good},
		{name: "china region", att: attestation{keyID: testKeyID, secret: testSecret, at: now, region: "cn-north-1",
			url: "https://sts.cn-north-1.amazonaws.com.cn?Action=GetCallerIdentity&Version=2011-06-15"}},
		{name: "signed 16 minutes ago", att: attestation{keyID: testKeyID, secret: testSecret, at: now.Add(-16 * time.Minute)}, reason: "more than 15m0s"},
		{name: "signed 16 minutes ahead", att: attestation{keyID: testKeyID, secret: testSecret, at: now.Add(16 * time.Minute)}, reason: "more than 15m0s"},
		{name: "wrong secret", att: attestation{keyID: testKeyID, secret: "wrong", at: now}, reason: "does not match"},
		{name: "unknown key", att: attestation{keyID: "AKIAOTHER", secret: testSecret, at: now}, reason: "unknown access key"},
		{name: "wrong audience", att: attestation{keyID: testKeyID, secret: testSecret, at: now, audience: "example.com"}, reason: "X-Snowflake-Audience"},
		{name: "audience added after signing", att: attestation{keyID: testKeyID, secret: testSecret, at: now,
			beforeSign: func(r *http.Request) { r.Header.Del("X-Snowflake-Audience") },
			afterSign:  func(r *http.Request) { r.Header.Set("X-Snowflake-Audience", "snowflakecomputing.com") }}, reason: "does not sign the header x-snowflake-audience"},
		{name: "global sts endpoint", att: attestation{keyID: testKeyID, secret: testSecret, at: now,
			url: "https://sts.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}, reason: "regional STS endpoint"},
		{name: "another host", att: attestation{keyID: testKeyID, secret: testSecret, at: now,
			url: "https://sts.us-east-1.amazonaws.com.evil.example?Action=GetCallerIdentity&Version=2011-06-15"}, reason: "regional STS endpoint"},
		{name: "another action", att: attestation{keyID: testKeyID, secret: testSecret, at: now,
			url: "https://sts.us-east-1.amazonaws.com?Action=AssumeRole&Version=2011-06-15"}, reason: "GetCallerIdentity"},
		{name: "GET request", att: attestation{keyID: testKeyID, secret: testSecret, at: now, method: http.MethodGet}, reason: "GetCallerIdentity"},
		{name: "tampered date", att: attestation{keyID: testKeyID, secret: testSecret, at: now,
			afterSign: func(r *http.Request) { r.Header.Set("X-Amz-Date", now.Add(time.Second).Format(amzDateFormat)) }}, reason: "does not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			arn, err := s.verifyAttestation(context.Background(), tc.att.token(t))
			if tc.reason == "" {
				require.NoError(t, err)
				assert.Equal(t, testARN, arn)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.reason)
		})
	}
	for name, token := range map[string]string{"not base64": "%%%", "not json": base64.StdEncoding.EncodeToString([]byte("nope"))} {
		t.Run(name, func(t *testing.T) {
			_, err := s.verifyAttestation(context.Background(), token)
			var ae *attestationError
			assert.ErrorAs(t, err, &ae)
		})
	}
}

// TestRawProtocol logs in and heartbeats with hand-made requests, checking the parts of
// the protocol the driver only uses with settings tests cannot wait for.
func TestRawProtocol(t *testing.T) {
	s := startServer(t, "")
	token := attestation{keyID: testKeyID, secret: testSecret, at: time.Now()}.token(t)
	post := func(path, auth string, body any) map[string]any {
		var buf bytes.Buffer
		if body != nil {
			require.NoError(t, json.NewEncoder(&buf).Encode(body))
		}
		req, err := http.NewRequest(http.MethodPost, s.URL()+path, &buf)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", `Snowflake Token="`+auth+`"`)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
		return out
	}
	login := post("/session/v1/login-request?roleName=loader_role&databaseName=LOADER_DB", "", map[string]any{"data": map[string]any{
		"ACCOUNT_NAME": testAccount, "AUTHENTICATOR": "WORKLOAD_IDENTITY", "PROVIDER": "AWS", "TOKEN": token}})
	require.Equal(t, true, login["success"], login)
	data := login["data"].(map[string]any)
	info := data["sessionInfo"].(map[string]any)
	assert.Equal(t, "LOADER_ROLE", info["roleName"])
	assert.Equal(t, "PUBLIC", info["schemaName"], "the database's PUBLIC schema is the default")
	params := map[string]any{}
	for _, p := range data["parameters"].([]any) {
		params[p.(map[string]any)["name"].(string)] = p.(map[string]any)["value"]
	}
	assert.EqualValues(t, 65280, params["CLIENT_STAGE_ARRAY_BINDING_THRESHOLD"], "Snowflake's default, which sends large array binds through a stage")
	session := data["token"].(string)

	hb := post("/session/heartbeat", session, nil)
	assert.Equal(t, true, hb["success"])
	assert.Equal(t, int64(1), s.Stats().Heartbeats)
	s.ExpireSessions()
	hb = post("/session/heartbeat", session, nil)
	assert.Equal(t, "390112", hb["code"])

	q := post("/queries/v1/query-request?requestId=r1", "nonsense", map[string]any{"sqlText": "SELECT 1"})
	assert.Equal(t, "390111", q["code"])
	assert.True(t, strings.HasPrefix(q["message"].(string), "Session no longer exists"))

	telemetry := post("/telemetry/send", session, map[string]any{"logs": []any{}})
	assert.Equal(t, true, telemetry["success"])
}
