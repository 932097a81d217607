package sfemu

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The attestation a WORKLOAD_IDENTITY login with PROVIDER AWS carries: a SigV4-signed
// sts:GetCallerIdentity request that the client built but never sent. Snowflake sends it to
// STS itself; the emulator cannot, so it checks the signature against the secret of a
// configured identity and takes that identity's ARN as STS's answer.
type awsAttestation struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
}

const (
	audienceHeader = "X-Snowflake-Audience"
	audience       = "snowflakecomputing.com"
	maxClockSkew   = 15 * time.Minute
	amzDateFormat  = "20060102T150405Z"
)

var (
	stsHost    = regexp.MustCompile(`^sts\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)
	authHeader = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)
)

// attestationError says why an attestation was refused; the login answer carries it.
type attestationError struct{ reason string }

func (e *attestationError) Error() string { return e.reason }

func refuse(format string, args ...any) error {
	return &attestationError{reason: fmt.Sprintf(format, args...)}
}

// verifyAttestation checks the TOKEN of a WIF login and returns the caller's ARN.
func (s *Server) verifyAttestation(ctx context.Context, token string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return "", refuse("The AWS attestation is not valid base64: %v", err)
	}
	var att awsAttestation
	if err := json.Unmarshal(raw, &att); err != nil {
		return "", refuse("The AWS attestation is not a signed request: %v", err)
	}
	u, err := url.Parse(att.URL)
	if err != nil {
		return "", refuse("The AWS attestation URL %q is not valid", att.URL)
	}
	m := stsHost.FindStringSubmatch(u.Host)
	if u.Scheme != "https" || m == nil || (u.Path != "" && u.Path != "/") {
		return "", refuse("The AWS attestation is not a request to a regional STS endpoint: %s", att.URL)
	}
	region := m[1]
	q := u.Query()
	if att.Method != http.MethodPost || q.Get("Action") != "GetCallerIdentity" || q.Get("Version") != "2011-06-15" {
		return "", refuse("The AWS attestation is not an sts:GetCallerIdentity request: %s %s", att.Method, att.URL)
	}
	headers := http.Header{}
	for k, v := range att.Headers {
		headers.Set(k, v)
	}
	if headers.Get("Host") != u.Host {
		return "", refuse("The AWS attestation's Host header %q does not match its URL", headers.Get("Host"))
	}
	if headers.Get(audienceHeader) != audience {
		return "", refuse("The AWS attestation lacks the header %s: %s", audienceHeader, audience)
	}
	a := authHeader.FindStringSubmatch(headers.Get("Authorization"))
	if a == nil {
		return "", refuse("The AWS attestation's Authorization header is not a SigV4 signature")
	}
	keyID, scopeDate, scopeRegion, service, signed := a[1], a[2], a[3], a[4], strings.Split(a[5], ";")
	if service != "sts" || scopeRegion != region {
		return "", refuse("The AWS attestation is signed for %s in %s, not sts in %s", service, scopeRegion, region)
	}
	for _, want := range []string{"host", "x-amz-date", strings.ToLower(audienceHeader)} {
		if !slices.Contains(signed, want) {
			return "", refuse("The AWS attestation does not sign the header %s", want)
		}
	}
	signedAt, err := time.Parse(amzDateFormat, headers.Get("X-Amz-Date"))
	if err != nil || signedAt.Format("20060102") != scopeDate {
		return "", refuse("The AWS attestation's X-Amz-Date %q is not valid", headers.Get("X-Amz-Date"))
	}
	if skew := s.now().Sub(signedAt); skew > maxClockSkew || skew < -maxClockSkew {
		return "", refuse("The AWS attestation was signed at %s, more than %s from the server's time %s", signedAt.Format(time.RFC3339), maxClockSkew, s.now().UTC().Format(time.RFC3339))
	}
	id := s.identity(keyID)
	if id == nil {
		return "", refuse("The security token included in the AWS attestation is invalid: unknown access key %s", keyID)
	}
	want, err := resign(ctx, att, headers, signed, *id, region, signedAt)
	if err != nil {
		return "", refuse("The AWS attestation cannot be checked: %v", err)
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(headers.Get("Authorization"))) != 1 {
		return "", refuse("The request signature in the AWS attestation does not match the signature computed with the secret of access key %s", keyID)
	}
	return id.ARN, nil
}

func (s *Server) identity(keyID string) *Identity {
	for i := range s.cfg.Identities {
		if s.cfg.Identities[i].AccessKeyID == keyID {
			return &s.cfg.Identities[i]
		}
	}
	return nil
}

// resign signs a copy of the attested request, holding exactly the headers it claims to
// sign, with the AWS SDK's own signer, and returns the Authorization header that results.
func resign(ctx context.Context, att awsAttestation, headers http.Header, signed []string, id Identity, region string, at time.Time) (string, error) {
	req, err := http.NewRequestWithContext(ctx, att.Method, att.URL, nil)
	if err != nil {
		return "", err
	}
	creds := aws.Credentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: id.SecretAccessKey}
	for _, h := range signed {
		switch h {
		case "host":
			req.Host = headers.Get("Host")
		case "x-amz-date":
			// The signer writes X-Amz-Date from the signing time.
		case "x-amz-security-token":
			creds.SessionToken = headers.Get(h)
		default:
			req.Header.Set(h, headers.Get(h))
		}
	}
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), "sts", region, at); err != nil {
		return "", err
	}
	return req.Header.Get("Authorization"), nil
}
