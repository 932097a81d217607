package sfemu

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

func (s *Server) create(ctx context.Context, sess *session, cmd *snowsql.Command) (string, error) {
	if len(cmd.Name) == 0 {
		return "", compileError("missing object name")
	}
	name := cmd.Name.Last()
	existsAlready := func(ok bool) (bool, error) {
		switch {
		case ok && cmd.IfNotExists:
			return true, nil
		case ok && !cmd.OrReplace:
			return false, alreadyExists(name)
		}
		return false, nil
	}
	created := fmt.Sprintf("%s %s successfully created.", titleCase(cmd.Object), name)
	skipped := fmt.Sprintf("%s already exists, statement succeeded.", name)
	switch cmd.Object {
	case "DATABASE":
		ok, err := s.databaseExists(ctx, name)
		if err != nil {
			return "", err
		}
		if skip, err := existsAlready(ok); skip || err != nil {
			return skipped, err
		}
		if ok {
			if err := s.dropDatabase(ctx, name); err != nil {
				return "", err
			}
		}
		if _, err := s.db.ExecContext(ctx, "INSERT INTO _sfemu.databases VALUES (?, now(), ?)", name, cmd.Props["COMMENT"]); err != nil {
			return "", err
		}
		if _, err := s.db.ExecContext(ctx, "CREATE SCHEMA "+snowsql.QuoteIdent(snowsql.SchemaName(name, "PUBLIC"))); err != nil {
			return "", err
		}
		// Creating a database makes it, and its PUBLIC schema, the session's current ones.
		sess.database, sess.schema = name, "PUBLIC"
	case "SCHEMA":
		db := sess.database
		if len(cmd.Name) == 2 {
			db = cmd.Name[0]
		}
		if db == "" {
			return "", newError("090105", "22000", "Cannot perform CREATE SCHEMA. This session does not have a current database. Call 'USE DATABASE', or use a qualified name.")
		}
		if ok, err := s.databaseExists(ctx, db); err != nil || !ok {
			return "", objectMissing("Database", db)
		}
		ok, err := s.schemaExists(ctx, db, name)
		if err != nil {
			return "", err
		}
		if skip, err := existsAlready(ok); skip || err != nil {
			return skipped, err
		}
		duck := snowsql.QuoteIdent(snowsql.SchemaName(db, name))
		if ok {
			if _, err := s.db.ExecContext(ctx, "DROP SCHEMA "+duck+" CASCADE"); err != nil {
				return "", err
			}
		}
		if _, err := s.db.ExecContext(ctx, "CREATE SCHEMA "+duck); err != nil {
			return "", err
		}
		sess.database, sess.schema = db, name
	case "WAREHOUSE":
		ok, err := s.warehouseExists(ctx, name)
		if err != nil {
			return "", err
		}
		if skip, err := existsAlready(ok); skip || err != nil {
			return skipped, err
		}
		if _, err := s.db.ExecContext(ctx, "INSERT OR REPLACE INTO _sfemu.warehouses VALUES (?, now(), ?)", name, cmd.Props["WAREHOUSE_SIZE"]); err != nil {
			return "", err
		}
		sess.warehouse = name
	case "ROLE":
		ok, err := s.roleExists(ctx, name)
		if err != nil {
			return "", err
		}
		if skip, err := existsAlready(ok); skip || err != nil {
			return skipped, err
		}
		if _, err := s.db.ExecContext(ctx, "INSERT OR REPLACE INTO _sfemu.roles VALUES (?, now(), ?)", name, cmd.Props["COMMENT"]); err != nil {
			return "", err
		}
	case "USER":
		u, err := s.user(ctx, name)
		if err != nil {
			return "", err
		}
		if skip, err := existsAlready(u != nil); skip || err != nil {
			return skipped, err
		}
		if err := s.saveUser(ctx, name, cmd.Props, true); err != nil {
			return "", err
		}
	}
	return created, nil
}

// saveUser writes a user's properties; replace starts from a user with no properties.
func (s *Server) saveUser(ctx context.Context, name string, p map[string]string, replace bool) error {
	if wi := p["WORKLOAD_IDENTITY.TYPE"]; wi != "" && !strings.EqualFold(wi, "AWS") {
		return compileError("WORKLOAD_IDENTITY TYPE = %s is not supported by the Snowflake emulator; use TYPE = AWS.", wi)
	}
	if _, ok := p["WORKLOAD_IDENTITY.TYPE"]; ok && p["WORKLOAD_IDENTITY.ARN"] == "" {
		return compileError("WORKLOAD_IDENTITY of TYPE = AWS needs an ARN.")
	}
	if t := p["TYPE"]; t != "" {
		switch strings.ToUpper(t) {
		case "SERVICE", "PERSON", "LEGACY_SERVICE", "NULL":
		default:
			return compileError("invalid value '%s' for property 'TYPE'", t)
		}
	}
	if replace {
		if _, err := s.db.ExecContext(ctx, "DELETE FROM _sfemu.users WHERE name = ?", name); err != nil {
			return err
		}
		if _, err := s.db.ExecContext(ctx, "INSERT INTO _sfemu.users (name, created_on, disabled) VALUES (?, now(), false)", name); err != nil {
			return err
		}
	}
	set := map[string]string{
		"TYPE": "type", "WORKLOAD_IDENTITY.TYPE": "wi_type", "WORKLOAD_IDENTITY.ARN": "arn",
		"DEFAULT_ROLE": "default_role", "DEFAULT_WAREHOUSE": "default_warehouse",
		"DEFAULT_NAMESPACE": "default_namespace", "COMMENT": "comment",
	}
	for prop, col := range set {
		v, ok := p[prop]
		if !ok {
			continue
		}
		switch prop {
		case "TYPE", "WORKLOAD_IDENTITY.TYPE":
			v = strings.ToUpper(v)
		case "DEFAULT_ROLE", "DEFAULT_WAREHOUSE":
			v = identifier(v)
		}
		if _, err := s.db.ExecContext(ctx, "UPDATE _sfemu.users SET "+col+" = ? WHERE name = ?", v, name); err != nil {
			return err
		}
	}
	return nil
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return s[:1] + strings.ToLower(s[1:])
}

func (s *Server) dropDatabase(ctx context.Context, name string) error {
	rows, err := s.db.QueryContext(ctx, "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() AND starts_with(schema_name, ?)", name+"__")
	if err != nil {
		return err
	}
	var schemas []string
	for rows.Next() {
		var sc string
		if err := rows.Scan(&sc); err != nil {
			rows.Close()
			return err
		}
		schemas = append(schemas, sc)
	}
	rows.Close()
	for _, sc := range schemas {
		if _, err := s.db.ExecContext(ctx, "DROP SCHEMA "+snowsql.QuoteIdent(sc)+" CASCADE"); err != nil {
			return err
		}
	}
	_, err = s.db.ExecContext(ctx, "DELETE FROM _sfemu.databases WHERE name = ?", name)
	if err == nil {
		_, err = s.db.ExecContext(ctx, "DELETE FROM _sfemu.dynamic_tables WHERE database = ?", name)
	}
	return err
}

func (s *Server) drop(ctx context.Context, sess *session, cmd *snowsql.Command) (string, error) {
	name := cmd.Name.Last()
	var (
		ok  bool
		err error
	)
	switch cmd.Object {
	case "DATABASE":
		ok, err = s.databaseExists(ctx, name)
	case "SCHEMA":
		db := sess.database
		if len(cmd.Name) == 2 {
			db = cmd.Name[0]
		}
		ok, err = s.schemaExists(ctx, db, name)
	case "WAREHOUSE":
		ok, err = s.warehouseExists(ctx, name)
	case "ROLE":
		ok, err = s.exists(ctx, "SELECT 1 FROM _sfemu.roles WHERE name = ?", name)
	case "USER":
		var u *userRow
		u, err = s.user(ctx, name)
		ok = u != nil
	}
	if err != nil {
		return "", err
	}
	if !ok {
		if cmd.IfExists {
			return fmt.Sprintf("Drop statement executed successfully (%s already dropped).", name), nil
		}
		return "", objectMissing(titleCase(cmd.Object), cmd.Name.String())
	}
	switch cmd.Object {
	case "DATABASE":
		err = s.dropDatabase(ctx, name)
		if sess.database == name {
			sess.database, sess.schema = "", ""
		}
	case "SCHEMA":
		db := sess.database
		if len(cmd.Name) == 2 {
			db = cmd.Name[0]
		}
		_, err = s.db.ExecContext(ctx, "DROP SCHEMA "+snowsql.QuoteIdent(snowsql.SchemaName(db, name))+" CASCADE")
		if err == nil {
			_, err = s.db.ExecContext(ctx, "DELETE FROM _sfemu.dynamic_tables WHERE database = ? AND schema = ?", db, name)
		}
	case "WAREHOUSE":
		_, err = s.db.ExecContext(ctx, "DELETE FROM _sfemu.warehouses WHERE name = ?", name)
	case "ROLE":
		_, err = s.db.ExecContext(ctx, "DELETE FROM _sfemu.roles WHERE name = ?", name)
		if err == nil {
			_, err = s.db.ExecContext(ctx, "DELETE FROM _sfemu.role_grants WHERE role = ? OR (grantee_kind = 'ROLE' AND grantee = ?)", name, name)
		}
	case "USER":
		_, err = s.db.ExecContext(ctx, "DELETE FROM _sfemu.users WHERE name = ?", name)
		if err == nil {
			_, err = s.db.ExecContext(ctx, "DELETE FROM _sfemu.role_grants WHERE grantee_kind = 'USER' AND grantee = ?", name)
		}
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s successfully dropped.", name), nil
}

func (s *Server) alter(ctx context.Context, cmd *snowsql.Command) (string, error) {
	if cmd.Object != "USER" {
		// Settings of databases, schemas, warehouses and roles change nothing the emulator
		// shows; renames of them are not kept.
		if cmd.RenameTo != nil {
			return "", compileError("ALTER %s ... RENAME TO is not supported by the Snowflake emulator.", cmd.Object)
		}
		return executed, nil
	}
	name := cmd.Name.Last()
	u, err := s.user(ctx, name)
	if err != nil {
		return "", err
	}
	if u == nil {
		if cmd.IfExists {
			return executed, nil
		}
		return "", objectMissing("User", name)
	}
	switch {
	case cmd.RenameTo != nil:
		_, err = s.db.ExecContext(ctx, "UPDATE _sfemu.users SET name = ? WHERE name = ?", cmd.RenameTo.Last(), name)
	case len(cmd.Unset) > 0:
		cols := map[string]string{"WORKLOAD_IDENTITY": "wi_type = NULL, arn = NULL", "DEFAULT_ROLE": "default_role = NULL",
			"DEFAULT_WAREHOUSE": "default_warehouse = NULL", "DEFAULT_NAMESPACE": "default_namespace = NULL", "COMMENT": "comment = NULL", "TYPE": "type = NULL"}
		for _, p := range cmd.Unset {
			if c := cols[p]; c != "" {
				if _, err = s.db.ExecContext(ctx, "UPDATE _sfemu.users SET "+c+" WHERE name = ?", name); err != nil {
					break
				}
			}
		}
	default:
		err = s.saveUser(ctx, name, cmd.Props, false)
	}
	if err != nil {
		return "", err
	}
	return executed, nil
}
