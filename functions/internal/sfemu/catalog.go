package sfemu

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

// The account's own objects (databases, warehouses, roles, users, grants) live in DuckDB
// schema _sfemu, so they persist in the same file as the tables. Each Snowflake schema is a
// DuckDB schema named DB__SCHEMA (snowsql.SchemaName).
const catalogDDL = `
CREATE SCHEMA IF NOT EXISTS _sfemu;
CREATE TABLE IF NOT EXISTS _sfemu.databases (name VARCHAR PRIMARY KEY, created_on TIMESTAMPTZ, comment VARCHAR);
CREATE TABLE IF NOT EXISTS _sfemu.warehouses (name VARCHAR PRIMARY KEY, created_on TIMESTAMPTZ, size VARCHAR);
CREATE TABLE IF NOT EXISTS _sfemu.roles (name VARCHAR PRIMARY KEY, created_on TIMESTAMPTZ, comment VARCHAR);
CREATE TABLE IF NOT EXISTS _sfemu.users (
  name VARCHAR PRIMARY KEY, created_on TIMESTAMPTZ, type VARCHAR, wi_type VARCHAR, arn VARCHAR,
  default_role VARCHAR, default_warehouse VARCHAR, default_namespace VARCHAR, comment VARCHAR, disabled BOOLEAN);
CREATE TABLE IF NOT EXISTS _sfemu.role_grants (role VARCHAR, grantee_kind VARCHAR, grantee VARCHAR, created_on TIMESTAMPTZ,
  PRIMARY KEY (role, grantee_kind, grantee));
CREATE TABLE IF NOT EXISTS _sfemu.privilege_grants (privileges VARCHAR, on_object VARCHAR, grantee_kind VARCHAR, grantee VARCHAR, created_on TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS _sfemu.dynamic_tables (database VARCHAR, schema VARCHAR, name VARCHAR, target_lag VARCHAR,
  warehouse VARCHAR, created_on TIMESTAMPTZ, PRIMARY KEY (database, schema, name));
`

// systemRoles exist in every account.
var systemRoles = []string{"ACCOUNTADMIN", "ORGADMIN", "PUBLIC", "SECURITYADMIN", "SYSADMIN", "USERADMIN"}

func (s *Server) initCatalog(ctx context.Context) error {
	for _, stmt := range strings.Split(catalogDDL, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sfemu: create catalog: %w", err)
		}
	}
	return nil
}

// User is a user created with CREATE USER, as the emulator keeps it.
type User struct {
	Name string
	// Type is SERVICE, PERSON or LEGACY_SERVICE ("" when not given).
	Type string
	// ARN is the AWS principal of WORKLOAD_IDENTITY = (TYPE = AWS ARN = '...').
	ARN         string
	DefaultRole string
}

type userRow struct {
	User
	WIType, DefaultWarehouse, DefaultNamespace, Comment string
	CreatedOn                                           time.Time
}

const userColumns = `name, coalesce(type, ''), coalesce(wi_type, ''), coalesce(arn, ''), coalesce(default_role, ''),
  coalesce(default_warehouse, ''), coalesce(default_namespace, ''), coalesce(comment, ''), created_on`

func scanUsers(rows *sql.Rows) ([]userRow, error) {
	defer rows.Close()
	var out []userRow
	for rows.Next() {
		var u userRow
		if err := rows.Scan(&u.Name, &u.Type, &u.WIType, &u.ARN, &u.DefaultRole, &u.DefaultWarehouse, &u.DefaultNamespace, &u.Comment, &u.CreatedOn); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *Server) users(ctx context.Context) ([]userRow, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+userColumns+" FROM _sfemu.users ORDER BY name")
	if err != nil {
		return nil, err
	}
	return scanUsers(rows)
}

func (s *Server) user(ctx context.Context, name string) (*userRow, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+userColumns+" FROM _sfemu.users WHERE name = ?", name)
	if err != nil {
		return nil, err
	}
	us, err := scanUsers(rows)
	if err != nil || len(us) == 0 {
		return nil, err
	}
	return &us[0], nil
}

// Users lists the users of the account.
func (s *Server) Users() []User {
	us, err := s.users(context.Background())
	if err != nil {
		s.log.Error("list users", "error", err)
		return nil
	}
	out := make([]User, 0, len(us))
	for _, u := range us {
		out = append(out, u.User)
	}
	return out
}

func (s *Server) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM ("+query+")", args...).Scan(&n)
	return n > 0, err
}

func (s *Server) databaseExists(ctx context.Context, name string) (bool, error) {
	return s.exists(ctx, "SELECT 1 FROM _sfemu.databases WHERE name = ?", name)
}

func (s *Server) schemaExists(ctx context.Context, db, schema string) (bool, error) {
	return s.exists(ctx, "SELECT 1 FROM duckdb_schemas() WHERE database_name = current_database() AND schema_name = ?", snowsql.SchemaName(db, schema))
}

func (s *Server) warehouseExists(ctx context.Context, name string) (bool, error) {
	return s.exists(ctx, "SELECT 1 FROM _sfemu.warehouses WHERE name = ?", name)
}

func (s *Server) roleExists(ctx context.Context, name string) (bool, error) {
	for _, r := range systemRoles {
		if r == name {
			return true, nil
		}
	}
	return s.exists(ctx, "SELECT 1 FROM _sfemu.roles WHERE name = ?", name)
}

// grantedRoles is every role the user can use: roles granted to the user, the roles
// granted to those roles, and PUBLIC.
func (s *Server) grantedRoles(ctx context.Context, user string) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `
WITH RECURSIVE r(role) AS (
  SELECT role FROM _sfemu.role_grants WHERE grantee_kind = 'USER' AND grantee = ?
  UNION
  SELECT g.role FROM _sfemu.role_grants g JOIN r ON g.grantee_kind = 'ROLE' AND g.grantee = r.role)
SELECT role FROM r`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{"PUBLIC": true}
	for rows.Next() {
		var role string
		if err := rows.Scan(&role); err != nil {
			return nil, err
		}
		out[role] = true
	}
	return out, rows.Err()
}

// canUseRole applies the login rule: the role is granted to the user, or it is the user's
// DEFAULT_ROLE.
func (s *Server) canUseRole(ctx context.Context, u *userRow, role string) (bool, error) {
	if ok, err := s.roleExists(ctx, role); err != nil || !ok {
		return false, err
	}
	if strings.EqualFold(role, u.DefaultRole) {
		return true, nil
	}
	roles, err := s.grantedRoles(ctx, u.Name)
	if err != nil {
		return false, err
	}
	return roles[role], nil
}

// userForARN finds the user whose workload identity trusts the verified caller: its ARN is
// the IAM role behind the assumed-role session, or the presented ARN itself.
func (s *Server) userForARN(ctx context.Context, presented string) (*userRow, error) {
	candidates := []string{presented}
	if role := roleARN(presented); role != "" {
		candidates = append(candidates, role)
	}
	us, err := s.users(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		if u.WIType != "" && u.WIType != "AWS" {
			continue
		}
		for _, c := range candidates {
			if u.ARN != "" && u.ARN == c {
				return &u, nil
			}
		}
	}
	return nil, nil
}

// roleARN turns arn:aws:sts::ACCT:assumed-role/ROLE/SESSION into arn:aws:iam::ACCT:role/ROLE,
// the ARN a Snowflake user's WORKLOAD_IDENTITY names. Other ARNs give "".
func roleARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sts" {
		return ""
	}
	res := strings.Split(parts[5], "/")
	if len(res) < 3 || res[0] != "assumed-role" {
		return ""
	}
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + res[1]
}
