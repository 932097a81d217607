package sfemu

import (
	"context"
	"fmt"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

// snowTypeSQL renders a DuckDB column type in Snowflake's words, for DESCRIBE.
const snowTypeSQL = `CASE
  WHEN data_type = 'JSON' THEN 'VARIANT'
  WHEN data_type = 'VARCHAR' THEN 'VARCHAR(16777216)'
  WHEN data_type LIKE 'DECIMAL%' THEN replace(data_type, 'DECIMAL', 'NUMBER')
  WHEN data_type IN ('DOUBLE', 'FLOAT') THEN 'FLOAT'
  WHEN data_type = 'TIMESTAMP WITH TIME ZONE' THEN 'TIMESTAMP_TZ(9)'
  WHEN data_type LIKE 'TIMESTAMP%' THEN 'TIMESTAMP_NTZ(9)'
  WHEN data_type = 'BLOB' THEN 'BINARY(8388608)'
  WHEN data_type = 'TIME' THEN 'TIME(9)'
  WHEN data_type IN ('BIGINT', 'INTEGER', 'SMALLINT', 'TINYINT', 'HUGEINT') THEN 'NUMBER(38,0)'
  ELSE data_type END`

// scope turns SHOW's IN clause (or the session's context) into a filter on the DuckDB
// schema name: a prefix for a database, an exact name for a schema, nothing for the account.
func scope(sess *session, cmd *snowsql.Command) (prefix, exact string) {
	switch {
	case cmd.InKind == "ACCOUNT":
		return "", ""
	case cmd.InKind == "DATABASE" && len(cmd.In) > 0:
		return cmd.In.Last() + "__", ""
	case len(cmd.In) == 2:
		return "", snowsql.SchemaName(cmd.In[0], cmd.In[1])
	case cmd.InKind == "SCHEMA" && len(cmd.In) == 1:
		return "", snowsql.SchemaName(sess.database, cmd.In[0])
	case len(cmd.In) == 1:
		return cmd.In[0] + "__", ""
	case sess.schema != "":
		return "", snowsql.SchemaName(sess.database, sess.schema)
	case sess.database != "":
		return sess.database + "__", ""
	}
	return "", ""
}

func likeArg(cmd *snowsql.Command) string {
	if cmd.Like == "" {
		return "%"
	}
	return cmd.Like
}

func (s *Server) show(ctx context.Context, sess *session, cmd *snowsql.Command) (*result, error) {
	like := likeArg(cmd)
	prefix, exact := scope(sess, cmd)
	switch cmd.Object {
	case "TABLES", "VIEWS", "DYNAMIC TABLES":
		kinds := map[string]string{"TABLES": "'TABLE', 'TEMPORARY'", "VIEWS": "'VIEW'", "DYNAMIC TABLES": "'DYNAMIC TABLE'"}[cmd.Object]
		temps := []string{}
		for k := range sess.temps {
			temps = append(temps, k)
		}
		return s.rowsResultOn(ctx, sess, typeShow,
			[]string{"created_on", "name", "database_name", "schema_name", "kind", "comment", "rows", "owner", "target_lag", "warehouse"}, `
WITH objs AS (
  SELECT split_part(schema_name, '__', 1) AS db, split_part(schema_name, '__', 2) AS sc, schema_name, table_name AS name,
         'TABLE' AS kind, CAST(estimated_size AS VARCHAR) AS rows FROM duckdb_tables()
   WHERE database_name = current_database() AND schema_name LIKE '%\_\_%' ESCAPE '\'
  UNION ALL
  SELECT split_part(t, '.', 1), split_part(t, '.', 2), NULL, split_part(t, '.', 3), 'TEMPORARY', NULL FROM unnest(?::VARCHAR[]) AS u(t)
  UNION ALL
  SELECT split_part(v.schema_name, '__', 1), split_part(v.schema_name, '__', 2), v.schema_name, v.view_name,
         CASE WHEN d.name IS NULL THEN 'VIEW' ELSE 'DYNAMIC TABLE' END, NULL
    FROM duckdb_views() v LEFT JOIN _sfemu.dynamic_tables d
      ON d.database = split_part(v.schema_name, '__', 1) AND d.schema = split_part(v.schema_name, '__', 2) AND d.name = v.view_name
   WHERE v.database_name = current_database() AND NOT v.internal AND v.schema_name LIKE '%\_\_%' ESCAPE '\')
SELECT CAST(now() AS VARCHAR), o.name, o.db, o.sc, o.kind, '', o.rows, 'ACCOUNTADMIN', d.target_lag, d.warehouse
  FROM objs o LEFT JOIN _sfemu.dynamic_tables d ON d.database = o.db AND d.schema = o.sc AND d.name = o.name
 WHERE o.kind IN (`+kinds+`) AND o.name ILIKE ?
   AND (? = '' OR starts_with(o.db || '__', ?)) AND (? = '' OR o.db || '__' || o.sc = ?)
 ORDER BY o.db, o.sc, o.name`, temps, like, prefix, prefix, exact, exact)
	case "USERS":
		return s.rowsResult(ctx, typeShow,
			[]string{"name", "created_on", "login_name", "display_name", "comment", "disabled", "default_warehouse", "default_namespace", "default_role", "type", "owner", "has_workload_identity"}, `
SELECT name, CAST(created_on AS VARCHAR), name, name, comment, CAST(coalesce(disabled, false) AS VARCHAR), default_warehouse,
       default_namespace, default_role, type, 'ACCOUNTADMIN', CASE WHEN arn IS NULL THEN 'false' ELSE 'true' END
  FROM _sfemu.users WHERE name ILIKE ? ORDER BY name`, like)
	case "ROLES":
		return s.rowsResult(ctx, typeShow, []string{"created_on", "name", "is_current", "assigned_to_users", "owner", "comment"}, `
WITH r AS (SELECT name, CAST(created_on AS VARCHAR) AS created_on, comment FROM _sfemu.roles
           UNION ALL SELECT unnest(?::VARCHAR[]), NULL, NULL)
SELECT r.created_on, r.name, CASE WHEN r.name = ? THEN 'Y' ELSE 'N' END,
       CAST((SELECT count(*) FROM _sfemu.role_grants g WHERE g.role = r.name AND g.grantee_kind = 'USER') AS VARCHAR),
       'ACCOUNTADMIN', r.comment
  FROM r WHERE r.name ILIKE ? ORDER BY r.name`, systemRoles, sess.role, like)
	case "DATABASES":
		return s.rowsResult(ctx, typeShow, []string{"created_on", "name", "is_current", "owner", "comment", "kind"}, `
SELECT CAST(created_on AS VARCHAR), name, CASE WHEN name = ? THEN 'Y' ELSE 'N' END, 'ACCOUNTADMIN', comment, 'STANDARD'
  FROM _sfemu.databases WHERE name ILIKE ? ORDER BY name`, sess.database, like)
	case "SCHEMAS":
		if prefix == "" && exact != "" {
			prefix = sess.database + "__"
		}
		return s.rowsResult(ctx, typeShow, []string{"created_on", "name", "is_current", "database_name", "owner"}, `
SELECT CAST(now() AS VARCHAR), split_part(schema_name, '__', 2), CASE WHEN schema_name = ? THEN 'Y' ELSE 'N' END,
       split_part(schema_name, '__', 1), 'ACCOUNTADMIN'
  FROM duckdb_schemas() WHERE database_name = current_database() AND schema_name LIKE '%\_\_%' ESCAPE '\'
   AND split_part(schema_name, '__', 2) ILIKE ? AND (? = '' OR starts_with(schema_name, ?)) ORDER BY schema_name`,
			snowsql.SchemaName(sess.database, sess.schema), like, prefix, prefix)
	case "WAREHOUSES":
		return s.rowsResult(ctx, typeShow, []string{"name", "state", "type", "size", "is_current", "owner", "created_on"}, `
SELECT name, 'STARTED', 'STANDARD', coalesce(size, 'X-Small'), CASE WHEN name = ? THEN 'Y' ELSE 'N' END, 'ACCOUNTADMIN', CAST(created_on AS VARCHAR)
  FROM _sfemu.warehouses WHERE name ILIKE ? ORDER BY name`, sess.warehouse, like)
	case "GRANTS":
		return s.showGrants(ctx, cmd)
	case "TRANSACTIONS":
		return s.showTransactions(sess, cmd), nil
	case "USER WORKLOAD IDENTITY AUTHENTICATION METHODS":
		return s.rowsResult(ctx, typeShow, []string{"name", "type", "comment", "last_used", "created_on", "additional_info"}, `
SELECT 'DEFAULT', wi_type, NULL, NULL, CAST(created_on AS VARCHAR), json_object('IAM_ROLE', arn)::VARCHAR
  FROM _sfemu.users WHERE name = ? AND arn IS NOT NULL`, cmd.In.Last())
	case "PARAMETERS":
		res := &result{typeID: typeShow}
		for _, n := range []string{"key", "value", "default", "level", "description", "type"} {
			res.columns = append(res.columns, textColumn(n))
		}
		for _, p := range loginParameters() {
			k, v := p["name"].(string), fmt.Sprint(p["value"])
			res.rows = append(res.rows, []*string{&k, &v, &v, ptr(""), ptr(""), ptr("STRING")})
		}
		return res, nil
	}
	return nil, compileError("SHOW %s is not supported by the Snowflake emulator.", cmd.Object)
}

func ptr(s string) *string { return &s }

func (s *Server) showGrants(ctx context.Context, cmd *snowsql.Command) (*result, error) {
	who := cmd.In.Last()
	switch cmd.InKind {
	case "USER":
		return s.rowsResult(ctx, typeShow, []string{"created_on", "role", "granted_to", "grantee_name", "granted_by"}, `
SELECT CAST(created_on AS VARCHAR), role, 'USER', grantee, 'ACCOUNTADMIN' FROM _sfemu.role_grants
 WHERE grantee_kind = 'USER' AND grantee = ? ORDER BY role`, who)
	case "ROLE":
		return s.rowsResult(ctx, typeShow, []string{"created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option", "granted_by"}, `
SELECT CAST(created_on AS VARCHAR), privileges, split_part(on_object, ' ', 1),
       CASE WHEN on_object LIKE '% %' THEN substr(on_object, strpos(on_object, ' ') + 1) ELSE on_object END,
       grantee_kind, grantee, 'false', 'ACCOUNTADMIN'
  FROM _sfemu.privilege_grants WHERE grantee_kind = 'ROLE' AND grantee = ?
UNION ALL
SELECT CAST(created_on AS VARCHAR), 'USAGE', 'ROLE', role, 'ROLE', grantee, 'false', 'ACCOUNTADMIN'
  FROM _sfemu.role_grants WHERE grantee_kind = 'ROLE' AND grantee = ? ORDER BY 3, 4`, who, who)
	}
	// SHOW GRANTS OF ROLE r: who holds the role.
	return s.rowsResult(ctx, typeShow, []string{"created_on", "role", "granted_to", "grantee_name", "granted_by"}, `
SELECT CAST(created_on AS VARCHAR), role, grantee_kind, grantee, 'ACCOUNTADMIN' FROM _sfemu.role_grants
 WHERE role = ? ORDER BY grantee_kind, grantee`, who)
}

func (s *Server) describe(ctx context.Context, sess *session, cmd *snowsql.Command) (*result, error) {
	if cmd.Object == "USER" {
		u, err := s.user(ctx, cmd.Name.Last())
		if err != nil {
			return nil, err
		}
		if u == nil {
			return nil, objectMissing("User", cmd.Name.Last())
		}
		res := &result{typeID: typeDescribe}
		for _, n := range []string{"property", "value", "default", "description"} {
			res.columns = append(res.columns, textColumn(n))
		}
		for _, kv := range [][2]string{{"NAME", u.Name}, {"TYPE", u.Type}, {"DEFAULT_ROLE", u.DefaultRole},
			{"DEFAULT_WAREHOUSE", u.DefaultWarehouse}, {"DEFAULT_NAMESPACE", u.DefaultNamespace}, {"COMMENT", u.Comment}} {
			k, v := kv[0], kv[1]
			var vp *string
			if v != "" {
				vp = &v
			}
			res.rows = append(res.rows, []*string{&k, vp, nil, ptr("")})
		}
		return res, nil
	}
	if cmd.Object != "TABLE" && cmd.Object != "VIEW" && cmd.Object != "DYNAMIC TABLE" {
		return nil, compileError("DESCRIBE %s is not supported by the Snowflake emulator.", cmd.Object)
	}
	env := sess.env()
	var ref snowsql.TableRef
	switch n := cmd.Name; len(n) {
	case 1:
		ref = snowsql.TableRef{Database: env.Database, Schema: env.Schema, Table: n[0]}
	case 2:
		ref = snowsql.TableRef{Database: env.Database, Schema: n[0], Table: n[1]}
	default:
		ref = snowsql.TableRef{Database: n[0], Schema: n[1], Table: n[2]}
	}
	ref.Temp = sess.temps[tempKey(ref.Database, ref.Schema, ref.Table)]
	dbName, schema := "current_database()", snowsql.QuoteString(snowsql.SchemaName(ref.Database, ref.Schema))
	if ref.Temp {
		dbName, schema = "'temp'", "'main'"
	}
	res, err := s.rowsResultOn(ctx, sess, typeDescribe,
		[]string{"name", "type", "kind", "null?", "default", "primary key", "unique key", "check", "expression", "comment"}, `
SELECT column_name, `+snowTypeSQL+`, 'COLUMN', CASE WHEN is_nullable THEN 'Y' ELSE 'N' END, column_default, 'N', 'N', NULL, NULL, NULL
  FROM duckdb_columns() WHERE database_name = `+dbName+` AND schema_name = `+schema+` AND table_name = ? ORDER BY column_index`, ref.Table)
	if err == nil && len(res.rows) == 0 {
		return nil, objectMissing("Table", ref.Snow())
	}
	return res, err
}

// rowsResultOn is rowsResult on the session's own connection, which sees its temporary tables.
func (s *Server) rowsResultOn(ctx context.Context, sess *session, typeID int64, names []string, query string, args ...any) (*result, error) {
	res, err := s.queryRows(ctx, sess, query, args)
	if err != nil {
		return nil, err
	}
	res.typeID = typeID
	for i := range res.columns {
		if i < len(names) {
			res.columns[i] = textColumn(names[i])
		}
	}
	return res, nil
}
