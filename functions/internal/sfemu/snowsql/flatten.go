package snowsql

import (
	"strings"
)

// flatten translates FLATTEN(INPUT => v [, PATH => 'p'] [, OUTER => b] [, RECURSIVE => b]
// [, MODE => m]) into a subquery over DuckDB's json_each (json_tree when recursive) with
// Snowflake's columns SEQ, KEY, PATH, INDEX, VALUE and THIS.
func flatten(c *callCtx) (item, error) {
	named := map[string]item{}
	order := []string{"INPUT", "PATH", "OUTER", "RECURSIVE", "MODE"}
	for i, raw := range c.raw {
		if len(raw) >= 3 && raw[0].Kind == Word && raw[1].isOp("=>") {
			it, err := c.tr.expr(raw[2:])
			if err != nil {
				return item{}, err
			}
			named[raw[0].Upper()] = it
			continue
		}
		if i >= len(order) {
			return item{}, compileErr("error line 1 at position 0\ninvalid number of arguments for function FLATTEN")
		}
		named[order[i]] = c.args[i]
	}
	in, ok := named["INPUT"]
	if !ok {
		return item{}, compileErr("error line 1 at position 0\nFLATTEN needs INPUT")
	}
	if in.kind != kindJSON {
		t, _ := mapType("VARIANT", nil)
		in = castTo(in, t, false)
	}
	if p, ok := named["PATH"]; ok {
		if !p.isLit || p.lit != String {
			return item{}, compileErr("FLATTEN PATH must be a string literal")
		}
		steps, err := parsePath(strings.Trim(p.sql, "'"))
		if err != nil {
			return item{}, err
		}
		in = applyPath(in, steps)
	}
	if o, ok := named["OUTER"]; ok && strings.EqualFold(o.sql, "TRUE") {
		return item{}, compileErr("FLATTEN with OUTER => TRUE is not supported by the Snowflake emulator")
	}
	fn := "json_each"
	if r, ok := named["RECURSIVE"]; ok && strings.EqualFold(r.sql, "TRUE") {
		fn = "json_tree"
	}
	x := in.sql
	isArray := "json_type(" + x + ") = 'ARRAY'"
	sql := "(SELECT CAST(1 AS BIGINT) AS SEQ, " +
		"CASE WHEN " + isArray + " THEN NULL ELSE sfemu_e.key END AS \"KEY\", " +
		"CASE WHEN " + isArray + " THEN '[' || sfemu_e.key || ']' ELSE sfemu_e.key END AS \"PATH\", " +
		"CASE WHEN " + isArray + " THEN CAST(sfemu_e.key AS BIGINT) END AS \"INDEX\", " +
		"sfemu_e.value AS \"VALUE\", " + x + " AS \"THIS\" FROM " + fn + "(" + x + ") AS sfemu_e)"
	return item{sql: sql, kind: kindOther}, nil
}

// parsePath reads a GET_PATH path such as a.b[0]."c d".
func parsePath(p string) ([]pathStep, error) {
	toks, err := Tokenize(p)
	if err != nil {
		return nil, err
	}
	nodes, err := buildTree(toks, p)
	if err != nil {
		return nil, err
	}
	var steps []pathStep
	for i, n := range nodes {
		switch {
		case n.isName():
			steps = append(steps, pathStep{key: n.Text})
		case n.isGroup("[") && len(n.kids) == 1 && n.kids[0].Kind == Number:
			steps = append(steps, pathStep{index: n.kids[0].Text})
		case n.isGroup("[") && len(n.kids) == 1 && n.kids[0].Kind == String:
			steps = append(steps, pathStep{key: n.kids[0].Text})
		case n.isOp(".") && i > 0:
		default:
			return nil, compileErr("invalid path '%s'", p)
		}
	}
	return steps, nil
}
