package sfemu

import (
	"context"
	"database/sql"
	"strings"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

const executed = "Statement executed successfully."

// command runs an account command: transactions, USE, and the objects that are not
// tables (databases, schemas, warehouses, roles, users, grants), SHOW and DESCRIBE.
func (s *Server) command(ctx context.Context, sess *session, cmd *snowsql.Command) (*result, error) {
	switch cmd.Verb {
	case "BEGIN":
		// A BEGIN inside a transaction is ignored, as Snowflake does.
		s.beginTx(sess)
		return statusResult(typeTCL, executed), nil
	case "COMMIT", "ROLLBACK":
		if err := s.endTx(ctx, sess, cmd.Verb == "COMMIT"); err != nil {
			return nil, err
		}
		return statusResult(typeTCL, executed), nil
	case "USE":
		return s.use(ctx, sess, cmd)
	case "SHOW":
		return s.show(ctx, sess, cmd)
	case "DESCRIBE":
		return s.describe(ctx, sess, cmd)
	case "COMMENT":
		return statusResult(typeDDL, executed), nil
	case "ALTER":
		if cmd.Object == "SESSION" {
			return s.alterSession(ctx, sess, cmd)
		}
		if cmd.Object == "ACCOUNT" {
			return statusResult(typeDDL, executed), nil
		}
	}
	// Everything else changes the account: Snowflake commits an open transaction first.
	if sess.inTx {
		if err := s.endTx(ctx, sess, true); err != nil {
			return nil, err
		}
	}
	t, err := s.lockWrites(ctx, sess)
	if err != nil {
		return nil, err
	}
	defer s.unlockWrites(t, false)
	var msg string
	switch cmd.Verb {
	case "CREATE":
		msg, err = s.create(ctx, sess, cmd)
	case "DROP":
		msg, err = s.drop(ctx, sess, cmd)
	case "ALTER":
		msg, err = s.alter(ctx, cmd)
	case "GRANT", "REVOKE":
		msg, err = s.grant(ctx, cmd)
	default:
		err = compileError("Statement %s %s is not supported by the Snowflake emulator.", cmd.Verb, cmd.Object)
	}
	if err != nil {
		return nil, err
	}
	return statusResult(typeDDL, msg), nil
}

// alterSession applies the session parameters the emulator models: AUTOCOMMIT, and
// LOCK_TIMEOUT and STATEMENT_TIMEOUT_IN_SECONDS (txadmin.go). Others are accepted and change
// nothing.
func (s *Server) alterSession(ctx context.Context, sess *session, cmd *snowsql.Command) (*result, error) {
	if err := sess.setParameters(cmd); err != nil {
		return nil, err
	}
	auto, set := true, false
	if v, ok := cmd.Props["AUTOCOMMIT"]; ok {
		switch strings.ToUpper(strings.Trim(v, "'")) {
		case "TRUE", "ON", "1":
		case "FALSE", "OFF", "0":
			auto = false
		default:
			return nil, compileError("invalid value [%s] for parameter 'AUTOCOMMIT'", v)
		}
		set = true
	}
	for _, name := range cmd.Unset {
		if name == "AUTOCOMMIT" {
			auto, set = true, true
		}
	}
	if set && sess.manualCommit != !auto {
		// A change of commit mode ends the open transaction the way a DDL statement does.
		if sess.inTx {
			if err := s.endTx(ctx, sess, true); err != nil {
				return nil, err
			}
		}
		sess.manualCommit = !auto
	}
	return statusResult(typeSession, executed), nil
}

func (s *Server) use(ctx context.Context, sess *session, cmd *snowsql.Command) (*result, error) {
	name := cmd.Name
	switch cmd.Object {
	case "SECONDARY ROLES":
	case "DATABASE":
		if len(name) != 1 {
			return nil, compileError("invalid database name '%s'", name)
		}
		if ok, err := s.databaseExists(ctx, name[0]); err != nil || !ok {
			return nil, objectMissing("Database", name[0])
		}
		sess.database, sess.schema = name[0], ""
		if ok, _ := s.schemaExists(ctx, name[0], "PUBLIC"); ok {
			sess.schema = "PUBLIC"
		}
	case "SCHEMA":
		db, schema := sess.database, name.Last()
		if len(name) == 2 {
			db = name[0]
		}
		if db == "" {
			return nil, newError("090105", "22000", "Cannot perform USE SCHEMA. This session does not have a current database. Call 'USE DATABASE', or use a qualified name.")
		}
		if ok, err := s.schemaExists(ctx, db, schema); err != nil || !ok {
			return nil, objectMissing("Schema", db+"."+schema)
		}
		sess.database, sess.schema = db, schema
	case "WAREHOUSE":
		if ok, err := s.warehouseExists(ctx, name.Last()); err != nil || !ok {
			return nil, objectMissing("Warehouse", name.Last())
		}
		sess.warehouse = name.Last()
	case "ROLE":
		role := name.Last()
		if !sess.admin {
			u, err := s.user(ctx, sess.user)
			if err != nil {
				return nil, err
			}
			ok := false
			if u != nil {
				ok, err = s.canUseRole(ctx, u, role)
				if err != nil {
					return nil, err
				}
			}
			if !ok {
				return nil, newError("003013", "42501", "SQL access control error:\nRequested role '%s' is not assigned to the executing user. Specify another role to activate.", role)
			}
		} else if ok, err := s.roleExists(ctx, role); err != nil || !ok {
			return nil, objectMissing("Role", role)
		}
		sess.role = role
	}
	return statusResult(typeUse, executed), nil
}

func (s *Server) grant(ctx context.Context, cmd *snowsql.Command) (string, error) {
	grantee := cmd.Grantee.Last()
	if cmd.GranteeKind == "USER" {
		if u, err := s.user(ctx, grantee); err != nil || u == nil {
			return "", objectMissing("User", grantee)
		}
	} else if cmd.GranteeKind == "ROLE" {
		if ok, err := s.roleExists(ctx, grantee); err != nil || !ok {
			return "", objectMissing("Role", grantee)
		}
	}
	if cmd.Privileges == "ROLE" {
		role := cmd.Role.Last()
		if ok, err := s.roleExists(ctx, role); err != nil || !ok {
			return "", objectMissing("Role", role)
		}
		var err error
		if cmd.Verb == "GRANT" {
			_, err = s.db.ExecContext(ctx, "INSERT OR REPLACE INTO _sfemu.role_grants VALUES (?, ?, ?, now())", role, cmd.GranteeKind, grantee)
		} else {
			_, err = s.db.ExecContext(ctx, "DELETE FROM _sfemu.role_grants WHERE role = ? AND grantee_kind = ? AND grantee = ?", role, cmd.GranteeKind, grantee)
		}
		return executed, err
	}
	// Privileges on objects are recorded for SHOW GRANTS, one row per privilege as Snowflake
	// lists them; granting one twice changes nothing. The emulator does not enforce them.
	for _, priv := range strings.Split(cmd.Privileges, ",") {
		priv = strings.TrimSpace(priv)
		_, err := s.db.ExecContext(ctx, "DELETE FROM _sfemu.privilege_grants WHERE privileges = ? AND on_object = ? AND grantee_kind = ? AND grantee = ?",
			priv, cmd.On, cmd.GranteeKind, grantee)
		if err == nil && cmd.Verb == "GRANT" {
			_, err = s.db.ExecContext(ctx, "INSERT INTO _sfemu.privilege_grants VALUES (?, ?, ?, ?, now())", priv, cmd.On, cmd.GranteeKind, grantee)
		}
		if err != nil {
			return "", err
		}
	}
	s.log.Debug("grant recorded", "verb", cmd.Verb, "privileges", cmd.Privileges, "on", cmd.On, "grantee", grantee)
	return executed, nil
}

// rowsResult runs a catalog query whose columns are all text and answers with its rows.
func (s *Server) rowsResult(ctx context.Context, typeID int64, names []string, query string, args ...any) (*result, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	res := &result{typeID: typeID}
	for _, n := range names {
		res.columns = append(res.columns, textColumn(n))
	}
	for rows.Next() {
		vals := make([]sql.NullString, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]*string, len(names))
		for i, v := range vals {
			if v.Valid {
				str := v.String
				row[i] = &str
			}
		}
		res.rows = append(res.rows, row)
	}
	return res, rows.Err()
}
