package snowsql

import (
	"fmt"
	"strconv"
	"strings"
)

// exprKind says what a translated expression holds, as far as the text shows. Snowflake
// converts a VARIANT by what it contains (payload:action::STRING is the bare string), while
// DuckDB's JSON is text; the rewriter needs to know which operands are JSON to get that right.
type exprKind int

const (
	kindUnknown exprKind = iota // a column or anything whose type only DuckDB knows
	kindJSON                    // a VARIANT, OBJECT or ARRAY value
	kindOther                   // known not to be JSON: literals, most functions
)

// sqlType is a Snowflake data type and the DuckDB type that stores it.
type sqlType struct {
	snow  string // Snowflake name as written, upper case, for messages
	duck  string // DuckDB type
	class exprKind
	text  bool // a string type: casting JSON to it yields the bare string
}

// mapType translates a Snowflake type name with its arguments (already translated text, e.g.
// "18", "2") into the DuckDB type.
func mapType(name string, args []string) (sqlType, error) {
	up := strings.ToUpper(name)
	t := sqlType{snow: up, class: kindOther}
	switch up {
	case "VARIANT", "OBJECT", "ARRAY":
		t.duck, t.class = "JSON", kindJSON
	case "VARCHAR", "STRING", "TEXT", "CHAR", "CHARACTER", "NCHAR", "NVARCHAR", "NVARCHAR2", "CHAR VARYING", "NCHAR VARYING":
		t.duck, t.text = "VARCHAR", true
	case "NUMBER", "NUMERIC", "DECIMAL", "DEC":
		p, s := 38, 0
		if len(args) > 0 {
			v, err := strconv.Atoi(args[0])
			if err != nil || v < 1 || v > 38 {
				return t, fmt.Errorf("invalid precision %q for %s", args[0], up)
			}
			p = v
		}
		if len(args) > 1 {
			v, err := strconv.Atoi(args[1])
			if err != nil || v < 0 || v > p {
				return t, fmt.Errorf("invalid scale %q for %s", args[1], up)
			}
			s = v
		}
		t.duck = fmt.Sprintf("DECIMAL(%d,%d)", p, s)
	case "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT":
		t.duck = "DECIMAL(38,0)"
	case "FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL":
		t.duck = "DOUBLE"
	case "BOOLEAN", "BOOL":
		t.duck = "BOOLEAN"
	case "TIMESTAMP_TZ", "TIMESTAMP_LTZ", "TIMESTAMPTZ", "TIMESTAMPLTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH LOCAL TIME ZONE":
		t.duck = "TIMESTAMPTZ"
	case "TIMESTAMP_NTZ", "TIMESTAMP", "DATETIME", "TIMESTAMPNTZ", "TIMESTAMP WITHOUT TIME ZONE":
		t.duck = "TIMESTAMP"
	case "DATE":
		t.duck = "DATE"
	case "TIME":
		t.duck = "TIME"
	case "BINARY", "VARBINARY":
		t.duck = "BLOB"
	default:
		return t, fmt.Errorf("unsupported data type '%s'", up)
	}
	return t, nil
}

// numeric reports whether t is one of the number types.
func (t sqlType) numeric() bool {
	return strings.HasPrefix(t.duck, "DECIMAL") || t.duck == "DOUBLE"
}

// readType reads a type at nodes[i]: a name, possibly of several words (DOUBLE PRECISION,
// TIMESTAMP WITH TIME ZONE), and an optional argument group. It returns the node after it.
func readType(nodes []*node, i int) (name string, args []string, next int, ok bool) {
	if i >= len(nodes) || !nodes[i].isName() || nodes[i].Kind != Word {
		return "", nil, i, false
	}
	name = nodes[i].Upper()
	next = i + 1
	multi := map[string][]string{
		"DOUBLE":    {"PRECISION"},
		"CHAR":      {"VARYING"},
		"NCHAR":     {"VARYING"},
		"TIMESTAMP": {"WITH TIME ZONE", "WITH LOCAL TIME ZONE", "WITHOUT TIME ZONE"},
	}
	for _, tail := range multi[name] {
		words := strings.Fields(tail)
		if next+len(words) > len(nodes) {
			continue
		}
		match := true
		for k, w := range words {
			if !nodes[next+k].isWord(w) {
				match = false
				break
			}
		}
		if match {
			name += " " + tail
			next += len(words)
			break
		}
	}
	if next < len(nodes) && nodes[next].isGroup("(") {
		for _, a := range splitCommas(nodes[next].kids) {
			var parts []string
			for _, n := range a {
				parts = append(parts, n.Text)
			}
			args = append(args, strings.Join(parts, ""))
		}
		next++
	}
	return name, args, next, true
}

// castTo renders a cast of a translated expression to t with Snowflake's VARIANT semantics:
// a JSON value is unwrapped before it becomes a scalar, and a scalar becomes a JSON value
// of its own (a string stays a string, it is not parsed).
func castTo(x item, t sqlType, try bool) item {
	cast := "CAST"
	if try {
		cast = "TRY_CAST"
	}
	plain := func(e string) string { return cast + "(" + e + " AS " + t.duck + ")" }
	unwrapped := "json_extract_string(" + x.sql + ", '$')"
	out := item{kind: t.class}
	switch {
	case t.class == kindJSON:
		switch x.kind {
		case kindJSON:
			out.sql = x.sql
		case kindOther:
			out.sql = "to_json(" + x.sql + ")"
		default:
			out.sql = "(CASE WHEN typeof(" + x.sql + ") = 'JSON' THEN CAST(" + x.sql + " AS JSON) ELSE to_json(" + x.sql + ") END)"
		}
	case x.kind == kindJSON && t.text:
		out.sql = unwrapped
	case x.kind == kindJSON && t.numeric():
		// DuckDB reads a JSON number as a double, so 9999999999999999.99 would become 1e16;
		// Snowflake keeps the NUMBER in a VARIANT exact
		// (https://docs.snowflake.com/en/sql-reference/data-types-semistructured).
		// JSONScalarFunction reads the text.
		base, path := x.sql, "$"
		if x.pathBase != "" {
			base, path = x.pathBase, x.path
		}
		out.sql = plain(JSONScalarFunction + "(" + base + ", " + QuoteString(path) + ")")
	case x.kind == kindJSON:
		out.sql = plain(unwrapped)
	case x.kind == kindOther:
		out.sql = plain(x.sql)
	default:
		// typeof is folded while DuckDB binds the statement, so only one branch survives.
		jsonBranch := plain("json_extract_string(CAST(" + x.sql + " AS JSON), '$')")
		if t.text {
			jsonBranch = "json_extract_string(CAST(" + x.sql + " AS JSON), '$')"
		}
		out.sql = "(CASE WHEN typeof(" + x.sql + ") = 'JSON' THEN " + jsonBranch + " ELSE " + plain(x.sql) + " END)"
	}
	return out
}
