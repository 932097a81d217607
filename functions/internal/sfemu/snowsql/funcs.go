package snowsql

import (
	"fmt"
	"strconv"
	"strings"
)

// callCtx is a function call being translated: its name, translated arguments, and the
// raw argument nodes for functions whose arguments are not expressions (DATE_TRUNC(day, x)).
type callCtx struct {
	tr   *translator
	name string
	args []item
	raw  [][]*node
}

func (c *callCtx) arity(min, max int) error {
	if len(c.args) < min || len(c.args) > max {
		return compileErr("error line 1 at position 0\ninvalid number of arguments (%d) for function %s", len(c.args), c.name)
	}
	return nil
}

func (c *callCtx) joined(from int) string {
	parts := make([]string, 0, len(c.args))
	for _, a := range c.args[from:] {
		parts = append(parts, a.sql)
	}
	return strings.Join(parts, ", ")
}

// part reads a date part argument, written as a word (day) or a string ('day').
func (c *callCtx) part(i int) (string, error) {
	if i < len(c.raw) && len(c.raw[i]) == 1 {
		n := c.raw[i][0]
		if n.Kind == Word || n.Kind == String || n.Kind == Quoted {
			p := strings.ToLower(n.Text)
			if alias, ok := datePartAliases[p]; ok {
				p = alias
			}
			return p, nil
		}
	}
	return "", compileErr("error line 1 at position 0\ninvalid date part for function %s", c.name)
}

func (tr *translator) expr(nodes []*node) (item, error) {
	items, err := tr.items(nodes, false)
	if err != nil {
		return item{}, err
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return item{sql: joinItems(items), kind: kindUnknown}, nil
}

func (tr *translator) call(name Name, args *node, whole []*node) (item, error) {
	if len(name) == 1 && whole[0].Kind == Word {
		up := name[0]
		switch up {
		case "CAST", "TRY_CAST":
			return tr.cast(args, up == "TRY_CAST")
		}
		if f, ok := functions[up]; ok {
			c := &callCtx{tr: tr, name: up, raw: splitCommas(args.kids)}
			for _, p := range c.raw {
				it, err := tr.expr(p)
				if err != nil {
					return item{}, err
				}
				c.args = append(c.args, it)
			}
			return f(c)
		}
		if unsupportedFunctions[up] {
			return item{}, compileErr("Unknown function %s", up)
		}
	}
	var inner string
	var err error
	if args.startsQuery() {
		inner, err = tr.query(args.kids)
	} else {
		inner, err = tr.seq(args.kids, false)
	}
	if err != nil {
		return item{}, err
	}
	parts := make([]string, len(name))
	for i, p := range name {
		parts[i] = p
		if whole[2*i].Kind == Quoted {
			parts[i] = QuoteIdent(p)
		}
	}
	return item{sql: strings.Join(parts, ".") + "(" + inner + ")", kind: kindUnknown}, nil
}

// cast translates CAST(x AS type) and TRY_CAST(x AS type).
func (tr *translator) cast(args *node, try bool) (item, error) {
	kids := args.kids
	as := -1
	for i := len(kids) - 1; i >= 0; i-- {
		if kids[i].isWord("AS") {
			as = i
			break
		}
	}
	if as < 1 {
		return item{}, compileErr("syntax error line 1 at position %d unexpected ')'.", args.end.Pos)
	}
	x, err := tr.expr(kids[:as])
	if err != nil {
		return item{}, err
	}
	name, targs, next, ok := readType(kids, as+1)
	if !ok || next != len(kids) {
		return item{}, compileErr("syntax error line 1 at position %d unexpected '%s'.", kids[as].Pos, source(tr.src, kids[as+1:]))
	}
	t, err := mapType(name, targs)
	if err != nil {
		return item{}, compileErr("%s", err.Error())
	}
	return castTo(x, t, try), nil
}

func literal(s string) item {
	if s == "" {
		return item{sql: "CAST(NULL AS VARCHAR)", kind: kindOther}
	}
	return item{sql: QuoteString(s), kind: kindOther}
}

// bareFunctions may be written without parentheses.
var bareFunctions = map[string]func(tr *translator) item{
	"CURRENT_TIMESTAMP": func(*translator) item { return item{sql: "get_current_timestamp()", kind: kindOther} },
	"LOCALTIMESTAMP":    func(*translator) item { return item{sql: "get_current_timestamp()", kind: kindOther} },
	"CURRENT_DATE":      func(*translator) item { return item{sql: "current_date", kind: kindOther} },
	"CURRENT_TIME":      func(*translator) item { return item{sql: "get_current_time()", kind: kindOther} },
	"CURRENT_USER":      func(tr *translator) item { return literal(tr.env.User) },
	"CURRENT_ROLE":      func(tr *translator) item { return literal(tr.env.Role) },
}

// unsupportedFunctions exist in DuckDB under the same name with another meaning; refusing
// them keeps a test from passing on DuckDB's reading of the call.
var unsupportedFunctions = map[string]bool{"TYPEOF": true}

func sessionLiteral(get func(e *Env) string) func(c *callCtx) (item, error) {
	return func(c *callCtx) (item, error) { return literal(get(c.tr.env)), nil }
}

func rename(duck string) func(c *callCtx) (item, error) {
	return func(c *callCtx) (item, error) {
		return item{sql: duck + "(" + c.joined(0) + ")", kind: kindOther}, nil
	}
}

var functions map[string]func(c *callCtx) (item, error)

// parseJSONCall translates PARSE_JSON(expr [, parameter]) and TRY_PARSE_JSON to the
// emulator's own reading of JSON (ParseJSON), through ParseJSONFunction. The parameter is
// 's' or 'd', as Snowflake allows (https://docs.snowflake.com/en/sql-reference/functions/parse_json).
func parseJSONCall(c *callCtx, try bool) (item, error) {
	if err := c.arity(1, 2); err != nil {
		return item{}, err
	}
	a := c.args[0]
	if a.kind == kindJSON {
		a.sql = a.unwrapped()
	}
	param := "'s'"
	if len(c.args) == 2 {
		p := c.args[1]
		if !p.isLit || p.lit != String || !strings.EqualFold(c.raw[1][0].Text, "s") && !strings.EqualFold(c.raw[1][0].Text, "d") {
			return item{}, compileErr("invalid value [%s] for parameter of function %s; use 's' or 'd'", source(c.tr.src, c.raw[1]), c.name)
		}
		param = QuoteString(strings.ToLower(c.raw[1][0].Text))
	}
	return item{sql: fmt.Sprintf("CAST(%s(%s, %s, %t) AS JSON)", ParseJSONFunction, a.sql, param, try), kind: kindJSON}, nil
}

func init() {
	functions = map[string]func(c *callCtx) (item, error){
		"PARSE_JSON": func(c *callCtx) (item, error) {
			return parseJSONCall(c, false)
		},
		"TRY_PARSE_JSON": func(c *callCtx) (item, error) {
			return parseJSONCall(c, true)
		},
		"TO_VARIANT": func(c *callCtx) (item, error) {
			if err := c.arity(1, 1); err != nil {
				return item{}, err
			}
			t, _ := mapType("VARIANT", nil)
			return castTo(c.args[0], t, false), nil
		},
		"TO_JSON": func(c *callCtx) (item, error) {
			if err := c.arity(1, 1); err != nil {
				return item{}, err
			}
			a := c.args[0]
			switch a.kind {
			case kindJSON:
				return item{sql: "CAST(" + a.sql + " AS VARCHAR)", kind: kindOther}, nil
			case kindUnknown:
				// A VARIANT column is text already; DuckDB's to_json would read it again and
				// write its decimals back as doubles, losing digits Snowflake keeps. typeof
				// is folded while DuckDB binds the statement, so only one branch survives.
				return item{sql: "(CASE WHEN typeof(" + a.sql + ") = 'JSON' THEN CAST(" + a.sql + " AS VARCHAR) ELSE CAST(to_json(" + a.sql + ") AS VARCHAR) END)", kind: kindOther}, nil
			}
			return item{sql: "CAST(to_json(" + a.sql + ") AS VARCHAR)", kind: kindOther}, nil
		},
		"OBJECT_CONSTRUCT": func(c *callCtx) (item, error) {
			if len(c.args)%2 != 0 {
				return item{}, compileErr("error line 1 at position 0\ninvalid number of arguments (%d) for function OBJECT_CONSTRUCT", len(c.args))
			}
			return item{sql: "json_object(" + c.joined(0) + ")", kind: kindJSON}, nil
		},
		"ARRAY_CONSTRUCT": func(c *callCtx) (item, error) {
			return item{sql: "json_array(" + c.joined(0) + ")", kind: kindJSON}, nil
		},
		"ARRAY_SIZE": func(c *callCtx) (item, error) {
			if err := c.arity(1, 1); err != nil {
				return item{}, err
			}
			return item{sql: "json_array_length(" + c.args[0].sql + ")", kind: kindOther}, nil
		},
		"OBJECT_KEYS": func(c *callCtx) (item, error) {
			if err := c.arity(1, 1); err != nil {
				return item{}, err
			}
			return item{sql: "to_json(json_keys(" + c.args[0].sql + "))", kind: kindJSON}, nil
		},
		"GET_PATH": func(c *callCtx) (item, error) {
			if err := c.arity(2, 2); err != nil {
				return item{}, err
			}
			p := c.args[1]
			if !p.isLit || p.lit != String {
				return item{}, compileErr("GET_PATH needs a constant path")
			}
			steps, err := parsePath(c.raw[1][0].Text)
			if err != nil {
				return item{}, err
			}
			return applyPath(c.args[0], steps), nil
		},
		"GET": func(c *callCtx) (item, error) {
			if err := c.arity(2, 2); err != nil {
				return item{}, err
			}
			k := c.args[1]
			switch {
			case k.isLit && k.lit == String:
				return applyPath(c.args[0], []pathStep{{key: c.raw[1][0].Text}}), nil
			case k.isLit && k.lit == Number:
				return applyPath(c.args[0], []pathStep{{index: k.sql}}), nil
			}
			return applyPath(c.args[0], []pathStep{{dynamic: k.sql}}), nil
		},
		"IS_NULL_VALUE": func(c *callCtx) (item, error) {
			if err := c.arity(1, 1); err != nil {
				return item{}, err
			}
			return item{sql: "(json_type(" + c.args[0].sql + ") = 'NULL')", kind: kindOther}, nil
		},
		"IFF": func(c *callCtx) (item, error) {
			if err := c.arity(3, 3); err != nil {
				return item{}, err
			}
			return item{sql: "(CASE WHEN " + c.args[0].sql + " THEN " + c.args[1].sql + " ELSE " + c.args[2].sql + " END)", kind: sameKind(c.args[1], c.args[2])}, nil
		},
		"NVL": func(c *callCtx) (item, error) {
			if err := c.arity(2, 2); err != nil {
				return item{}, err
			}
			return item{sql: "COALESCE(" + c.joined(0) + ")", kind: sameKind(c.args[0], c.args[1])}, nil
		},
		"NVL2": func(c *callCtx) (item, error) {
			if err := c.arity(3, 3); err != nil {
				return item{}, err
			}
			return item{sql: "(CASE WHEN " + c.args[0].sql + " IS NOT NULL THEN " + c.args[1].sql + " ELSE " + c.args[2].sql + " END)", kind: sameKind(c.args[1], c.args[2])}, nil
		},
		"ZEROIFNULL": func(c *callCtx) (item, error) {
			if err := c.arity(1, 1); err != nil {
				return item{}, err
			}
			return item{sql: "COALESCE(" + c.args[0].sql + ", 0)", kind: kindOther}, nil
		},
		"NULLIFZERO": func(c *callCtx) (item, error) {
			if err := c.arity(1, 1); err != nil {
				return item{}, err
			}
			return item{sql: "NULLIF(" + c.args[0].sql + ", 0)", kind: kindOther}, nil
		},
		"EQUAL_NULL": func(c *callCtx) (item, error) {
			if err := c.arity(2, 2); err != nil {
				return item{}, err
			}
			return item{sql: "(" + c.args[0].sql + " IS NOT DISTINCT FROM " + c.args[1].sql + ")", kind: kindOther}, nil
		},
		"DIV0": func(c *callCtx) (item, error) {
			if err := c.arity(2, 2); err != nil {
				return item{}, err
			}
			return item{sql: "(CASE WHEN " + c.args[1].sql + " = 0 THEN 0 ELSE " + c.args[0].sql + " / " + c.args[1].sql + " END)", kind: kindOther}, nil
		},
		"DECODE": func(c *callCtx) (item, error) {
			if len(c.args) < 3 {
				return item{}, c.arity(3, 3)
			}
			var b strings.Builder
			b.WriteString("(CASE")
			k := 1
			for ; k+1 < len(c.args); k += 2 {
				b.WriteString(" WHEN " + c.args[0].sql + " IS NOT DISTINCT FROM " + c.args[k].sql + " THEN " + c.args[k+1].sql)
			}
			if k < len(c.args) {
				b.WriteString(" ELSE " + c.args[k].sql)
			}
			b.WriteString(" END)")
			return item{sql: b.String(), kind: kindUnknown}, nil
		},
		"TO_DATE":          castFunc("DATE"),
		"DATE":             castFunc("DATE"),
		"TO_TIMESTAMP_TZ":  castFunc("TIMESTAMP_TZ"),
		"TO_TIMESTAMP_LTZ": castFunc("TIMESTAMP_LTZ"),
		"TO_TIMESTAMP_NTZ": castFunc("TIMESTAMP_NTZ"),
		"TO_TIMESTAMP":     castFunc("TIMESTAMP_NTZ"),
		"TO_DOUBLE":        castFunc("DOUBLE"),
		"TO_BOOLEAN":       castFunc("BOOLEAN"),
		"TO_NUMBER":        numberFunc,
		"TO_DECIMAL":       numberFunc,
		"TO_NUMERIC":       numberFunc,
		"TO_VARCHAR":       toVarchar,
		"TO_CHAR":          toVarchar,
		"CURRENT_TIMESTAMP": func(c *callCtx) (item, error) {
			return item{sql: "get_current_timestamp()", kind: kindOther}, nil
		},
		"SYSDATE": func(c *callCtx) (item, error) {
			return item{sql: "CAST(get_current_timestamp() AS TIMESTAMP)", kind: kindOther}, nil
		},
		"GETDATE":              func(c *callCtx) (item, error) { return item{sql: "get_current_timestamp()", kind: kindOther}, nil },
		"SYSTIMESTAMP":         func(c *callCtx) (item, error) { return item{sql: "get_current_timestamp()", kind: kindOther}, nil },
		"LOCALTIMESTAMP":       func(c *callCtx) (item, error) { return item{sql: "get_current_timestamp()", kind: kindOther}, nil },
		"CURRENT_DATE":         func(c *callCtx) (item, error) { return item{sql: "current_date", kind: kindOther}, nil },
		"CURRENT_TIME":         func(c *callCtx) (item, error) { return item{sql: "get_current_time()", kind: kindOther}, nil },
		"CURRENT_USER":         sessionLiteral(func(e *Env) string { return e.User }),
		"CURRENT_ROLE":         sessionLiteral(func(e *Env) string { return e.Role }),
		"CURRENT_ACCOUNT":      sessionLiteral(func(e *Env) string { return e.Account }),
		"CURRENT_ACCOUNT_NAME": sessionLiteral(func(e *Env) string { return e.Account }),
		"CURRENT_DATABASE":     sessionLiteral(func(e *Env) string { return e.Database }),
		"CURRENT_SCHEMA":       sessionLiteral(func(e *Env) string { return e.Schema }),
		"CURRENT_WAREHOUSE":    sessionLiteral(func(e *Env) string { return e.Warehouse }),
		"CURRENT_REGION":       sessionLiteral(func(e *Env) string { return e.Region }),
		"CURRENT_VERSION":      func(c *callCtx) (item, error) { return literal("9.0.0"), nil },
		"CURRENT_SESSION": func(c *callCtx) (item, error) {
			return literal(strconv.FormatInt(c.tr.env.SessionID, 10)), nil
		},
		"DATE_TRUNC": func(c *callCtx) (item, error) {
			if err := c.arity(2, 2); err != nil {
				return item{}, err
			}
			p, err := c.part(0)
			if err != nil {
				return item{}, err
			}
			return item{sql: "date_trunc(" + QuoteString(p) + ", " + c.args[1].sql + ")", kind: kindOther}, nil
		},
		"DATE_PART": func(c *callCtx) (item, error) {
			if err := c.arity(2, 2); err != nil {
				return item{}, err
			}
			p, err := c.part(0)
			if err != nil {
				return item{}, err
			}
			return item{sql: "date_part(" + QuoteString(p) + ", " + c.args[1].sql + ")", kind: kindOther}, nil
		},
		"DATEADD":       dateAdd,
		"TIMESTAMPADD":  dateAdd,
		"DATEDIFF":      dateDiff,
		"TIMESTAMPDIFF": dateDiff,
		"LEN":           rename("length"),
		"REGEXP_LIKE":   rename("regexp_full_match"),
		"RLIKE":         rename("regexp_full_match"),
		"REGEXP_SUBSTR": rename("regexp_extract"),
		"STARTSWITH":    rename("starts_with"),
		"ENDSWITH":      rename("ends_with"),
		"BOOLAND_AGG":   rename("bool_and"),
		"BOOLOR_AGG":    rename("bool_or"),
		"REGEXP_REPLACE": func(c *callCtx) (item, error) {
			if err := c.arity(2, 3); err != nil {
				return item{}, err
			}
			if len(c.args) == 2 {
				return item{sql: "regexp_replace(" + c.joined(0) + ", '', 'g')", kind: kindOther}, nil
			}
			return item{sql: "regexp_replace(" + c.joined(0) + ", 'g')", kind: kindOther}, nil
		},
		"LISTAGG": func(c *callCtx) (item, error) {
			if err := c.arity(1, 2); err != nil {
				return item{}, err
			}
			if len(c.args) == 1 {
				return item{sql: "string_agg(" + c.args[0].sql + ", '')", kind: kindOther}, nil
			}
			return item{sql: "string_agg(" + c.joined(0) + ")", kind: kindOther}, nil
		},
		"ARRAY_AGG": func(c *callCtx) (item, error) {
			if err := c.arity(1, 1); err != nil {
				return item{}, err
			}
			return item{sql: "to_json(list(" + c.args[0].sql + "))", kind: kindJSON}, nil
		},
		"UUID_STRING": func(c *callCtx) (item, error) {
			return item{sql: "CAST(uuid() AS VARCHAR)", kind: kindOther}, nil
		},
		"SHA2": func(c *callCtx) (item, error) {
			if err := c.arity(1, 2); err != nil {
				return item{}, err
			}
			if len(c.args) == 2 && c.args[1].sql != "256" {
				return item{}, compileErr("SHA2 digest size %s is not available", c.args[1].sql)
			}
			return item{sql: "sha256(" + c.args[0].sql + ")", kind: kindOther}, nil
		},
		"CHARINDEX": func(c *callCtx) (item, error) {
			if err := c.arity(2, 2); err != nil {
				return item{}, err
			}
			return item{sql: "instr(" + c.args[1].sql + ", " + c.args[0].sql + ")", kind: kindOther}, nil
		},
		"FLATTEN": flatten,
		"TABLE": func(c *callCtx) (item, error) {
			// TABLE(FLATTEN(...)) in a FROM clause: the function already is a relation.
			if err := c.arity(1, 1); err != nil {
				return item{}, err
			}
			return c.args[0], nil
		},
		"SQUARE": func(c *callCtx) (item, error) {
			if err := c.arity(1, 1); err != nil {
				return item{}, err
			}
			return item{sql: "((" + c.args[0].sql + ") * (" + c.args[0].sql + "))", kind: kindOther}, nil
		},
	}
}

func sameKind(a, b item) exprKind {
	if a.kind == b.kind {
		return a.kind
	}
	return kindUnknown
}
