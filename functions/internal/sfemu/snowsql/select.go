package snowsql

import (
	"strings"
)

// selectQuery translates a query, taking its select list apart when the query is one plain
// SELECT (after any WITH): jsonCols coerces items bound for VARIANT columns of an INSERT, and
// naming gives each unnamed expression Snowflake's column name, its own text in upper case
// (COUNT(*), PAYLOAD:ACTION::STRING), where DuckDB would name it after its rewritten form.
// TOP n becomes LIMIT n. Any other query is translated as a whole.
func (tr *translator) selectQuery(q []*node, jsonCols []bool, naming bool) (string, error) {
	start := 0
	if q[0].isWord("WITH") {
		start = indexWord(q, 1, "SELECT")
		if start < 0 {
			return tr.seq(q, true)
		}
	}
	if !q[start].isWord("SELECT") {
		return tr.seq(q, true)
	}
	end := len(q)
	for i := start + 1; i < len(q); i++ {
		n := q[i]
		if n.group || n.Kind != Word {
			continue
		}
		switch n.Upper() {
		case "UNION", "EXCEPT", "MINUS", "INTERSECT":
			return tr.seq(q, true)
		case "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "QUALIFY", "WINDOW", "OFFSET", "FETCH":
			if end == len(q) {
				end = i
			}
		}
	}
	head, err := tr.seq(q[:start], true)
	if err != nil {
		return "", err
	}
	i := start + 1
	prefix := "SELECT "
	if i < end && (q[i].isWord("DISTINCT") || q[i].isWord("ALL")) {
		prefix += q[i].Upper() + " "
		i++
	}
	limit := ""
	if i+1 < end && q[i].isWord("TOP") && q[i+1].Kind == Number {
		limit = " LIMIT " + q[i+1].Text
		i += 2
	}
	list := splitCommas(q[i:end])
	parts := make([]string, 0, len(list))
	for k, e := range list {
		if len(e) == 0 {
			return "", compileErr("syntax error line 1 at position %d unexpected ','.", q[i].Pos)
		}
		if hasStar(e) {
			s, err := tr.seq(e, false)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
			continue
		}
		expr, alias := splitAlias(e)
		it, err := tr.expr(expr)
		if err != nil {
			return "", err
		}
		if k < len(jsonCols) && jsonCols[k] {
			t, _ := mapType("VARIANT", nil)
			it = castTo(it, t, false)
		}
		switch {
		case alias != "":
			parts = append(parts, it.sql+" AS "+alias)
		case naming && !isColumnRef(expr):
			parts = append(parts, it.sql+" AS "+QuoteIdent(strings.ToUpper(source(tr.src, expr))))
		default:
			parts = append(parts, it.sql)
		}
	}
	rest, err := tr.seq(q[end:], true)
	if err != nil {
		return "", err
	}
	if limit != "" && indexWord(q, end, "LIMIT") >= 0 {
		return "", compileErr("TOP and LIMIT cannot be used together")
	}
	out := head + " " + prefix + strings.Join(parts, ", ") + " " + rest + limit
	return strings.TrimSpace(out), nil
}

// hasStar reports whether a select item is *, t.* or * EXCLUDE (...): no alias, no coercion.
func hasStar(e []*node) bool {
	for _, n := range e {
		if n.isOp("*") {
			return true
		}
	}
	return false
}

// splitAlias separates "expr AS name" and "expr name" into the expression and the quoted alias.
func splitAlias(e []*node) ([]*node, string) {
	n := len(e)
	if n < 2 || !e[n-1].isName() || e[n-2].isOp(".") || e[n-2].isOp("::") || e[n-2].isOp(":") {
		return e, ""
	}
	if e[n-2].isWord("AS") {
		if n < 3 {
			return e, ""
		}
		return e[:n-2], QuoteIdent(namePart(e[n-1]))
	}
	if e[n-1].Kind == Quoted || (!keywords[e[n-1].Upper()] && isOperandEnd(e[n-2])) {
		return e[:n-1], QuoteIdent(namePart(e[n-1]))
	}
	return e, ""
}

// isColumnRef reports whether a select item is a plain column, which both databases name
// after the column.
func isColumnRef(e []*node) bool {
	name, next, ok := readName(e, 0)
	return ok && next == len(e) && e[0].Kind != String && !bareFunctionName(name)
}

func bareFunctionName(n Name) bool {
	_, ok := bareFunctions[n.String()]
	return ok && len(n) == 1
}
