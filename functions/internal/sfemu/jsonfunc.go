package sfemu

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

// parseJSONUDF is snowsql.ParseJSON as a DuckDB scalar function, so PARSE_JSON in any
// statement reads JSON the way the emulator models Snowflake reading it, instead of the way
// DuckDB's JSON extension does.
type parseJSONUDF struct{}

func (parseJSONUDF) Config() duckdb.ScalarFuncConfig {
	text, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	flag, _ := duckdb.NewTypeInfo(duckdb.TYPE_BOOLEAN)
	return duckdb.ScalarFuncConfig{
		InputTypeInfos: []duckdb.TypeInfo{text, text, flag},
		ResultTypeInfo: text,
	}
}

func (parseJSONUDF) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(args []driver.Value) (any, error) {
		text, _ := args[0].(string)
		param, _ := args[1].(string)
		try, _ := args[2].(bool)
		v, null, err := snowsql.ParseJSON(text, param == "d")
		switch {
		case err != nil && try:
			return nil, nil
		case err != nil:
			return nil, err
		case null:
			return nil, nil
		}
		return v, nil
	}}
}

// jsonScalarUDF is snowsql.JSONScalar as a DuckDB scalar function: the value a cast of a
// VARIANT path to a number reads, with every digit the VARIANT holds.
type jsonScalarUDF struct{}

func (jsonScalarUDF) Config() duckdb.ScalarFuncConfig {
	text, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{text, text}, ResultTypeInfo: text}
}

func (jsonScalarUDF) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(args []driver.Value) (any, error) {
		doc, _ := args[0].(string)
		path, _ := args[1].(string)
		if v, ok := snowsql.JSONScalar(doc, path); ok {
			return v, nil
		}
		return nil, nil
	}}
}

// registerFunctions adds the emulator's own SQL functions to the database. DuckDB keeps a
// registered function in the database's catalog, so every connection, and so every
// session, sees it.
func registerFunctions(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sfemu: register functions: %w", err)
	}
	defer conn.Close()
	if err := duckdb.RegisterScalarUDF(conn, snowsql.ParseJSONFunction, parseJSONUDF{}); err != nil {
		return fmt.Errorf("sfemu: register %s: %w", snowsql.ParseJSONFunction, err)
	}
	if err := duckdb.RegisterScalarUDF(conn, snowsql.JSONScalarFunction, jsonScalarUDF{}); err != nil {
		return fmt.Errorf("sfemu: register %s: %w", snowsql.JSONScalarFunction, err)
	}
	return nil
}
