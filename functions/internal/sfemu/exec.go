package sfemu

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

func bindNotSet(n int) error {
	return newError("002049", "42601", "SQL compilation error: error line 1 at position 0\nBind variable ? not set (bind %d of the statement has no value).", n)
}

// run executes one statement in a session.
func (s *Server) run(ctx context.Context, sess *session, st *snowsql.Stmt, b *bindSet) (*result, error) {
	if err := st.Substitute(sess.vars); err != nil {
		return nil, err
	}
	if name, query, ok := st.SetVariable(); ok {
		return s.setVariable(ctx, sess, name, query)
	}
	if name, ok := st.UnsetVariable(); ok {
		delete(sess.vars, name)
		return statusResult(typeSession, executed), nil
	}
	cmd, ok, err := st.Command()
	if err != nil {
		return nil, err
	}
	if ok {
		return s.command(ctx, sess, cmd)
	}
	if res, ok, err := s.abortCall(sess, st, b); ok {
		return res, err
	}
	env := sess.env()
	env.Columns = func(ref snowsql.TableRef) ([]snowsql.Column, error) { return s.columns(ctx, sess, ref) }
	tr, err := st.Translate(env)
	if err != nil {
		return nil, err
	}
	if tr.Binds > b.count() {
		return nil, bindNotSet(b.count() + 1)
	}
	switch {
	case tr.Creates != nil || tr.Drops != nil || st.Kind() == "ALTER":
		return s.ddl(ctx, sess, tr)
	case tr.Query:
		if b != nil && b.rows > 0 {
			return nil, compileError("Array binds are supported for INSERT, UPDATE, DELETE and MERGE, not for queries.")
		}
		args, err := b.scalarArgs(tr.Binds)
		if err != nil {
			return nil, err
		}
		return s.inTx(ctx, sess, nil, func() (*result, error) { return s.queryRows(ctx, sess, tr.SQL, args) })
	}
	return s.inTx(ctx, sess, tr.Target, func() (*result, error) { return s.dml(ctx, sess, st, env, tr, b) })
}

// ddl runs a CREATE, DROP or ALTER of a table or view. Snowflake commits an open
// transaction before DDL and runs the DDL on its own, so the emulator does the same.
func (s *Server) ddl(ctx context.Context, sess *session, tr *snowsql.Translation) (*result, error) {
	if sess.inTx {
		if err := s.endTx(ctx, sess, true); err != nil {
			return nil, err
		}
	}
	if c := tr.Creates; c != nil && c.Kind == "DYNAMIC TABLE" {
		if ok, err := s.warehouseExists(ctx, c.Warehouse); err != nil || !ok {
			return nil, objectMissing("Warehouse", c.Warehouse)
		}
	}
	var tables []string
	if c := tr.Creates; c != nil && !c.Ref.Temp {
		tables = append(tables, lockName(c.Ref))
	}
	if d := tr.Drops; d != nil && !d.Ref.Temp {
		tables = append(tables, lockName(d.Ref))
	}
	if tr.Target != nil && !tr.Target.Temp {
		tables = append(tables, lockName(*tr.Target))
	}
	t, err := s.lockWrites(ctx, sess, tables...)
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() { s.unlockWrites(t, committed) }()
	if tr.SQL != "" {
		err := s.atomically(ctx, sess, func() error {
			for _, q := range append(tr.Pre, tr.SQL) {
				if _, err := sess.conn.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		committed = true
	}
	if c := tr.Creates; c != nil {
		key := tempKey(c.Ref.Database, c.Ref.Schema, c.Ref.Table)
		if c.Ref.Temp {
			sess.temps[key] = true
		}
		if c.Kind == "DYNAMIC TABLE" {
			_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO _sfemu.dynamic_tables VALUES (?, ?, ?, ?, ?, now())`,
				c.Ref.Database, c.Ref.Schema, c.Ref.Table, c.TargetLag, c.Warehouse)
			if err != nil {
				return nil, err
			}
		}
	}
	if d := tr.Drops; d != nil {
		delete(sess.temps, tempKey(d.Ref.Database, d.Ref.Schema, d.Ref.Table))
		if d.Kind == "DYNAMIC TABLE" {
			_, _ = s.db.ExecContext(ctx, `DELETE FROM _sfemu.dynamic_tables WHERE database = ? AND schema = ? AND name = ?`, d.Ref.Database, d.Ref.Schema, d.Ref.Table)
		}
	}
	return statusResult(typeDDL, tr.Status), nil
}

// dml runs INSERT, UPDATE, DELETE, MERGE or TRUNCATE and answers with Snowflake's counts.
func (s *Server) dml(ctx context.Context, sess *session, st *snowsql.Stmt, env *snowsql.Env, tr *snowsql.Translation, b *bindSet) (*result, error) {
	kind := st.Kind()
	if b != nil && b.rows > 0 {
		if kind == "INSERT" {
			if bulk, ok, err := st.Bulk(env); err != nil {
				return nil, err
			} else if ok && bulk.Binds > 0 {
				if err := s.bulkInsert(ctx, sess, bulk, b); err != nil {
					return nil, err
				}
				return countResult(typeInsert, []string{"number of rows inserted"}, []int64{int64(b.rows)}), nil
			}
		}
	}
	rows := 1
	if b != nil && b.rows > 0 {
		rows = b.rows
	}
	counts := make([]int64, 3)
	err := s.atomically(ctx, sess, func() error {
		for _, q := range tr.Pre {
			if _, err := sess.conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		for r := 0; r < rows; r++ {
			args, err := b.rowArgs(tr.Binds, r)
			if err != nil {
				return err
			}
			if kind == "MERGE" {
				if err := s.merge(ctx, sess, tr.SQL, args, counts); err != nil {
					return err
				}
				continue
			}
			res, err := sess.conn.ExecContext(ctx, tr.SQL, args...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			counts[0] += n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch kind {
	case "INSERT":
		return countResult(typeInsert, []string{"number of rows inserted"}, counts[:1]), nil
	case "UPDATE":
		return countResult(typeUpdate, []string{"number of rows updated", "number of multi-joined rows updated"}, []int64{counts[0], 0}), nil
	case "DELETE":
		return countResult(typeDelete, []string{"number of rows deleted"}, counts[:1]), nil
	case "MERGE":
		var names []string
		var values []int64
		for _, a := range tr.MergeActions {
			names = append(names, "number of rows "+a)
			values = append(values, counts[map[string]int{"inserted": 0, "updated": 1, "deleted": 2}[a]])
		}
		return countResult(typeMerge, names, values), nil
	}
	return statusResult(typeDDL, tr.Status), nil
}

// merge runs a MERGE and counts its rows by action; DuckDB reports one total otherwise,
// while Snowflake answers with one count per action.
func (s *Server) merge(ctx context.Context, sess *session, sql string, args []any, counts []int64) error {
	rows, err := sess.conn.QueryContext(ctx, sql+" RETURNING merge_action", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var action string
		if err := rows.Scan(&action); err != nil {
			return err
		}
		switch action {
		case "INSERT":
			counts[0]++
		case "UPDATE":
			counts[1]++
		case "DELETE":
			counts[2]++
		}
	}
	return rows.Err()
}

// bulkInsert loads array-bound rows with DuckDB's appender: the rows go into a relation of
// binds and one INSERT ... SELECT reads them all, instead of one statement per row.
func (s *Server) bulkInsert(ctx context.Context, sess *session, bulk *snowsql.BulkInsert, b *bindSet) error {
	n := bulk.Binds
	types := make([]duckdb.TypeInfo, n)
	names := make([]string, n)
	cols := make([][]driver.Value, n)
	for i := 0; i < n; i++ {
		bd := &b.binds[i]
		t, err := appendType(bd, b.rows)
		if err != nil {
			return err
		}
		vals, err := columnValues(i+1, bd, b.rows, t)
		if err != nil {
			return err
		}
		types[i], names[i], cols[i] = t, snowsql.BindColumn(i+1), vals
	}
	return s.atomically(ctx, sess, func() error {
		for _, q := range bulk.Pre {
			if _, err := sess.conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return sess.conn.Raw(func(dc any) error {
			a, err := duckdb.NewQueryAppender(dc.(driver.Conn), bulk.SQL, snowsql.BindTable, types, names)
			if err != nil {
				return err
			}
			row := make([]driver.Value, n)
			for r := 0; r < b.rows; r++ {
				for i := range cols {
					row[i] = cols[i][r]
				}
				if err := a.AppendRow(row...); err != nil {
					_ = a.Close()
					return err
				}
			}
			return a.Close()
		})
	})
}

// queryRows runs a query and converts its rows to Snowflake's JSON result format.
func (s *Server) queryRows(ctx context.Context, sess *session, query string, args []any) (*result, error) {
	rows, err := sess.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		rows.Close()
		return nil, err
	}
	var jsonCols []int
	for i, ct := range cts {
		if ct.DatabaseTypeName() == "JSON" {
			jsonCols = append(jsonCols, i)
		}
	}
	if len(jsonCols) > 0 {
		// The DuckDB driver hands JSON back decoded, losing number precision and key order;
		// reading the query through a projection that casts JSON to text keeps the document.
		rows.Close()
		rows, err = sess.conn.QueryContext(ctx, jsonAsText(query, len(cts), jsonCols), args...)
		if err != nil {
			return nil, err
		}
	}
	defer rows.Close()
	res := &result{typeID: typeSelect}
	formats := make([]cellFormat, len(cts))
	for i, ct := range cts {
		res.columns = append(res.columns, column{})
		res.columns[i], formats[i] = describeColumn(ct)
	}
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]*string, len(vals))
		for i, v := range vals {
			if v == nil {
				continue
			}
			str, err := formats[i](v)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", cts[i].Name(), err)
			}
			row[i] = &str
		}
		res.rows = append(res.rows, row)
	}
	return res, rows.Err()
}

func jsonAsText(query string, n int, jsonCols []int) string {
	isJSON := map[int]bool{}
	for _, i := range jsonCols {
		isJSON[i] = true
	}
	sel := make([]string, n)
	alias := make([]string, n)
	for i := 0; i < n; i++ {
		alias[i] = "c" + strconv.Itoa(i+1)
		sel[i] = alias[i]
		if isJSON[i] {
			sel[i] = "CAST(" + alias[i] + " AS VARCHAR)"
		}
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM (" + query + ") AS sfemu_q(" + strings.Join(alias, ", ") + ")"
}

// columns lists a table's columns, looking in the session's temporary tables first.
func (s *Server) columns(ctx context.Context, sess *session, ref snowsql.TableRef) ([]snowsql.Column, error) {
	q := `SELECT column_name, data_type FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index`
	args := []any{snowsql.SchemaName(ref.Database, ref.Schema), ref.Table}
	if ref.Temp {
		q = `SELECT column_name, data_type FROM duckdb_columns()
WHERE database_name = 'temp' AND schema_name = 'main' AND table_name = ? ORDER BY column_index`
		args = args[1:]
	}
	rows, err := sess.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []snowsql.Column
	for rows.Next() {
		var c snowsql.Column
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, sql.ErrNoRows
	}
	return out, rows.Err()
}

// setVariable runs SET name = expr: the expression is evaluated once, like Snowflake does.
func (s *Server) setVariable(ctx context.Context, sess *session, name, query string) (*result, error) {
	st, err := snowsql.Parse(query)
	if err != nil {
		return nil, err
	}
	res, err := s.run(ctx, sess, st, nil)
	if err != nil {
		return nil, err
	}
	if len(res.rows) != 1 || len(res.rows[0]) != 1 {
		return nil, compileError("SET %s needs a single value", name)
	}
	v := snowsql.Var{}
	if cell := res.rows[0][0]; cell != nil {
		v.Text = *cell
	}
	v.Number = res.columns[0].Type == "fixed" || res.columns[0].Type == "real"
	sess.vars[name] = v
	return statusResult(typeSession, executed), nil
}
