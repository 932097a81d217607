package sfemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

type loginRequest struct {
	Data struct {
		AccountName   string `json:"ACCOUNT_NAME"`
		LoginName     string `json:"LOGIN_NAME"`
		Authenticator string `json:"AUTHENTICATOR"`
		Provider      string `json:"PROVIDER"`
		Token         string `json:"TOKEN"`
	} `json:"data"`
}

// identifier normalises a name from the connect string: unquoted names are upper case.
func identifier(s string) string {
	if len(s) >= 2 && strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) {
		return s[1 : len(s)-1]
	}
	return strings.ToUpper(s)
}

// loginParameters are the session parameters a login answer carries, with Snowflake's
// defaults. CLIENT_STAGE_ARRAY_BINDING_THRESHOLD is among them, as in production: an array
// bind of that many values or more makes the driver create a temporary stage and PUT the
// binds (bind_uploader.go in gosnowflake), which the emulator refuses clearly (query.go)
// instead of loading it inline as production never would.
func loginParameters() []map[string]any {
	return []map[string]any{
		{"name": "CLIENT_STAGE_ARRAY_BINDING_THRESHOLD", "value": 65280},
		{"name": "TIMEZONE", "value": "UTC"},
		{"name": "AUTOCOMMIT", "value": true},
		{"name": "CLIENT_PREFETCH_THREADS", "value": 4},
		{"name": "CLIENT_RESULT_CHUNK_SIZE", "value": 16},
		{"name": "CLIENT_SESSION_KEEP_ALIVE", "value": false},
		{"name": "CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY", "value": 3600},
		{"name": "CLIENT_TELEMETRY_ENABLED", "value": true},
		{"name": "TIMESTAMP_OUTPUT_FORMAT", "value": "YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM"},
		{"name": "DATE_OUTPUT_FORMAT", "value": "YYYY-MM-DD"},
	}
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	status, body := s.login(r)
	if body["success"] != true {
		s.mu.Lock()
		s.stats.FailedLogins++
		s.mu.Unlock()
		s.log.Warn("login refused", "code", body["code"], "message", body["message"])
	}
	writeJSON(w, status, body)
}

func (s *Server) login(r *http.Request) (int, map[string]any) {
	var req loginRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return http.StatusBadRequest, failure("390100", "Login request body is not valid JSON: "+err.Error(), nil)
	}
	d := req.Data
	if s.cfg.Account != "" && !strings.EqualFold(d.AccountName, s.cfg.Account) {
		// Snowflake finds the account by host name and answers a mismatch with 403.
		return http.StatusForbidden, failure("390144", "Invalid account name or host.", nil)
	}
	hostPort := net.JoinHostPort(s.host, strconv.Itoa(s.port))
	connectFailed := func(reason string) (int, map[string]any) {
		return http.StatusOK, failure("250001", fmt.Sprintf("Failed to connect to DB: %s. %s", hostPort, reason), nil)
	}
	switch auth := strings.ToUpper(d.Authenticator); {
	case auth == "" || auth == "SNOWFLAKE":
		return http.StatusOK, failure("390100", "Incorrect username or password was specified.", nil)
	case auth != "WORKLOAD_IDENTITY":
		return http.StatusOK, failure("390100", fmt.Sprintf("Authenticator %s is not allowed for this account; it accepts WORKLOAD_IDENTITY only.", auth), nil)
	}
	if p := strings.ToUpper(d.Provider); p != "AWS" {
		return connectFailed(fmt.Sprintf("Workload identity provider '%s' is not supported; this account verifies AWS attestations only.", d.Provider))
	}
	ctx := r.Context()
	arn, err := s.verifyAttestation(ctx, d.Token)
	var ae *attestationError
	if errors.As(err, &ae) {
		return connectFailed(ae.reason)
	}
	if err != nil {
		return http.StatusInternalServerError, failure("390100", err.Error(), nil)
	}
	u, err := s.userForARN(ctx, arn)
	if err != nil {
		return http.StatusInternalServerError, failure("390100", err.Error(), nil)
	}
	if u == nil {
		return connectFailed(fmt.Sprintf("Unable to find an associated Snowflake user for the verified AWS Caller Identity with ARN '%s'", arn))
	}

	q := r.URL.Query()
	sess := &session{user: u.Name, account: strings.ToUpper(d.AccountName)}
	sess.role = identifier(q.Get("roleName"))
	if sess.role == "" {
		sess.role = u.DefaultRole
	}
	if sess.role == "" {
		sess.role = "PUBLIC"
	}
	ok, err := s.canUseRole(ctx, u, sess.role)
	if err != nil {
		return http.StatusInternalServerError, failure("390100", err.Error(), nil)
	}
	if !ok {
		return http.StatusOK, failure("390189", fmt.Sprintf("Role '%s' specified in the connect string is not granted to this user. Contact your local system administrator, or attempt to login with another role, e.g. PUBLIC.", sess.role), nil)
	}
	sess.database, sess.schema, sess.warehouse = identifier(q.Get("databaseName")), identifier(q.Get("schemaName")), identifier(q.Get("warehouse"))
	if sess.database == "" && u.DefaultNamespace != "" {
		if parts := strings.SplitN(u.DefaultNamespace, ".", 2); len(parts) > 0 {
			sess.database = identifier(parts[0])
			if len(parts) == 2 && sess.schema == "" {
				sess.schema = identifier(parts[1])
			}
		}
	}
	if sess.warehouse == "" {
		sess.warehouse = u.DefaultWarehouse
	}
	if fail := s.checkLoginContext(r, sess); fail != nil {
		return http.StatusOK, fail
	}
	if err := s.openSession(ctx, sess); err != nil {
		return http.StatusInternalServerError, failure("390100", err.Error(), nil)
	}
	s.mu.Lock()
	s.stats.Logins++
	s.mu.Unlock()
	s.log.Info("login", "session", sess.id, "user", sess.user, "role", sess.role, "arn", arn)
	return http.StatusOK, map[string]any{
		"data": map[string]any{
			"token": sess.token, "masterToken": sess.master,
			"validityInSeconds": sessionValidity, "masterValidityInSeconds": masterValidity,
			"displayUserName": sess.user, "serverVersion": "9.0.0", "firstLogin": false,
			"remMeToken": nil, "remMeValidityInSeconds": 0, "healthCheckInterval": 45,
			"newClientForUpgrade": nil, "sessionId": sess.id, "parameters": loginParameters(),
			"sessionInfo": map[string]any{
				"databaseName": nullable(sess.database), "schemaName": nullable(sess.schema),
				"warehouseName": nullable(sess.warehouse), "roleName": sess.role,
			},
			"idToken": nil, "idTokenValidityInSeconds": 0, "responseData": nil,
			"mfaToken": nil, "mfaTokenValidityInSeconds": 0,
		},
		"code": nil, "message": nil, "success": true,
	}
}

// checkLoginContext refuses a database, schema or warehouse that does not exist, as
// Snowflake does when the driver asks it to validate them (CLIENT_VALIDATE_DEFAULT_PARAMETERS).
func (s *Server) checkLoginContext(r *http.Request, sess *session) map[string]any {
	ctx := r.Context()
	missing := func(what string) map[string]any {
		return failure("390201", fmt.Sprintf("The requested %s does not exist or not authorized.", what), nil)
	}
	if sess.database != "" {
		if ok, err := s.databaseExists(ctx, sess.database); err != nil || !ok {
			return missing("database")
		}
		if sess.schema == "" {
			if ok, _ := s.schemaExists(ctx, sess.database, "PUBLIC"); ok {
				sess.schema = "PUBLIC"
			}
		} else if ok, err := s.schemaExists(ctx, sess.database, sess.schema); err != nil || !ok {
			return missing("schema")
		}
	} else if sess.schema != "" {
		return missing("schema")
	}
	if sess.warehouse != "" {
		if ok, err := s.warehouseExists(ctx, sess.warehouse); err != nil || !ok {
			return missing("warehouse")
		}
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
