package sfemu

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

// sfError is an error in Snowflake's shape: the code and SQL state a client sees.
type sfError struct {
	Code, SQLState, Message string
}

func (e *sfError) Error() string { return fmt.Sprintf("%s (%s): %s", e.Code, e.SQLState, e.Message) }

func newError(code, state, format string, args ...any) *sfError {
	return &sfError{Code: code, SQLState: state, Message: fmt.Sprintf(format, args...)}
}

func compileError(format string, args ...any) *sfError {
	return newError("001003", "42000", "SQL compilation error:\n"+format, args...)
}

func objectMissing(kind, name string) *sfError {
	if kind == "" {
		return newError("002003", "42S02", "SQL compilation error:\nObject '%s' does not exist or not authorized.", name)
	}
	return newError("002003", "02000", "SQL compilation error:\n%s '%s' does not exist or not authorized.", kind, name)
}

func alreadyExists(name string) *sfError {
	return newError("002002", "42710", "SQL compilation error:\nObject '%s' already exists.", name)
}

var (
	reMissingTable  = regexp.MustCompile(`(?:Table|View|Table Function) with name "?([^" ]+)"? does not exist`)
	reMissingSchema = regexp.MustCompile(`Schema with name "?([^" ]+)"? does not exist`)
	reMissingColumn = regexp.MustCompile(`(?:Referenced column|column with name) "?([^" ]+)"? not found`)
	reExistsAlready = regexp.MustCompile(`with name "?([^" ]+)"? already exists`)
	// DuckDB's words for a value that does not fit a DECIMAL, from a string or a JSON value.
	reDecimalOverflow = regexp.MustCompile(`(?:Could not convert string "([^"]*)" to DECIMAL|Failed to cast value to decimal: (\S+))`)
)

// fromDuck turns a DuckDB error into the error Snowflake gives for the same mistake, so a
// client's error handling meets the codes it meets in production.
func fromDuck(err error) *sfError {
	var sf *sfError
	if errors.As(err, &sf) {
		return sf
	}
	var ce *snowsql.CompileError
	if errors.As(err, &ce) {
		return &sfError{Code: ce.Code, SQLState: ce.SQLState, Message: ce.Message}
	}
	var se *snowsql.SyntaxError
	if errors.As(err, &se) {
		return compileError("%s", se.Error())
	}
	var mv *snowsql.MissingVariablesError
	if errors.As(err, &mv) {
		return compileError("%s", mv.Error())
	}
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return newError("000603", "XX000", "SQL execution internal error:\n%s", err.Error())
	}
	msg := firstLine(de.Msg)
	switch de.Type {
	case duckdb.ErrorTypeCatalog:
		if m := reMissingTable.FindStringSubmatch(msg); m != nil {
			return objectMissing("", m[1])
		}
		if m := reMissingSchema.FindStringSubmatch(msg); m != nil {
			return objectMissing("Schema", strings.ReplaceAll(m[1], "__", "."))
		}
		if m := reExistsAlready.FindStringSubmatch(msg); m != nil {
			return alreadyExists(m[1])
		}
		return compileError("%s", msg)
	case duckdb.ErrorTypeBinder:
		if m := reMissingColumn.FindStringSubmatch(msg); m != nil {
			return newError("000904", "42000", "SQL compilation error: error line 1 at position 0\ninvalid identifier '%s'", m[1])
		}
		return compileError("%s", msg)
	case duckdb.ErrorTypeParser, duckdb.ErrorTypeSyntax:
		return compileError("syntax error: %s", msg)
	case duckdb.ErrorTypeConversion, duckdb.ErrorTypeInvalidInput:
		if i := strings.Index(msg, "Error parsing JSON: "); i >= 0 {
			// The emulator's own PARSE_JSON (snowsql.ParseJSON) wrote Snowflake's message.
			return newError("100069", "22P02", "%s", msg[i:])
		}
		if strings.Contains(msg, "JSON") {
			return newError("100069", "22P02", "Error parsing JSON: %s", msg)
		}
		if m := reDecimalOverflow.FindStringSubmatch(msg); m != nil {
			if m[1] == "" {
				m[1] = m[2]
			}
			if _, ok := new(big.Float).SetString(m[1]); ok {
				// A number that does not fit the NUMBER it is cast to. Snowflake calls that
				// out of range: 100039, SQL state 22003 (gosnowflake sqlstate.go,
				// SQLStateNumericValueOutOfRange), not "not recognized".
				return newError("100039", "22003", "Numeric value '%s' is out of range", m[1])
			}
		}
		return newError("100038", "22018", "%s", msg)
	case duckdb.ErrorTypeConstraint:
		if strings.Contains(msg, "NOT NULL") {
			return newError("100072", "22000", "NULL result in a non-nullable column")
		}
		return newError("100072", "22000", "%s", msg)
	case duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeDecimal:
		return newError("100039", "22003", "Numeric value out of range: %s", msg)
	case duckdb.ErrorTypeDivideByZero:
		return newError("100051", "22012", "Division by zero")
	case duckdb.ErrorTypeTransaction:
		return newError("000625", "57014", "Statement was aborted because of a conflicting transaction: %s", msg)
	case duckdb.ErrorTypeInterrupt:
		return newError("000604", "57014", "SQL execution canceled")
	case duckdb.ErrorTypeOutOfMemory:
		// The emulator's own memory limit is no fault of the statement. Snowflake, when a
		// warehouse has no room for a statement, queues it and cancels it once
		// STATEMENT_QUEUED_TIMEOUT_IN_SECONDS passes (000630), which a client retries
		// (https://docs.snowflake.com/en/sql-reference/parameters#statement-queued-timeout-in-seconds).
		return newError("000630", "57014", "Statement reached its statement or warehouse timeout of 0 second(s) and was canceled: the warehouse has no memory for it now (%s).", msg)
	}
	return newError("100000", "XX000", "%s", msg)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	// DuckDB prefixes its messages with the error class ("Binder Error: ...").
	if i := strings.Index(s, " Error: "); i >= 0 && i < 30 {
		s = s[i+len(" Error: "):]
	}
	return s
}
