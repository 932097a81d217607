package snowsql

import (
	"strings"
)

// pathStep is one step of a variant path: a key, a fixed index, or a computed subscript.
type pathStep struct {
	key     string
	index   string
	dynamic string
}

// postfix applies the operators that follow an operand: variant path steps (:key, .key,
// [index], ['key']) and :: casts, collecting consecutive steps into one json_extract.
func (tr *translator) postfix(nodes []*node, next int, it item) (item, int, error) {
	var steps []pathStep
	flush := func() {
		if len(steps) == 0 {
			return
		}
		it = applyPath(it, steps)
		steps = nil
	}
	for next < len(nodes) {
		m := nodes[next]
		switch {
		case m.isOp(":") && next+1 < len(nodes) && (nodes[next+1].isName() || nodes[next+1].Kind == Number):
			steps = append(steps, pathStep{key: pathKey(nodes[next+1])})
			next += 2
			for next+1 < len(nodes) && nodes[next].isOp(".") && nodes[next+1].isName() {
				steps = append(steps, pathStep{key: pathKey(nodes[next+1])})
				next += 2
			}
		case m.isOp(".") && len(steps) > 0 && next+1 < len(nodes) && nodes[next+1].isName():
			steps = append(steps, pathStep{key: pathKey(nodes[next+1])})
			next += 2
		case m.isGroup("["):
			kids := m.kids
			switch {
			case len(kids) == 1 && kids[0].Kind == Number:
				steps = append(steps, pathStep{index: kids[0].Text})
			case len(kids) == 1 && kids[0].Kind == String:
				steps = append(steps, pathStep{key: kids[0].Text})
			default:
				s, err := tr.seq(kids, false)
				if err != nil {
					return item{}, 0, err
				}
				steps = append(steps, pathStep{dynamic: s})
			}
			next++
		case m.isOp("::"):
			flush()
			name, args, nx, ok := readType(nodes, next+1)
			if !ok {
				return item{}, 0, compileErr("syntax error line 1 at position %d unexpected '::'.", m.Pos)
			}
			t, err := mapType(name, args)
			if err != nil {
				return item{}, 0, compileErr("%s", err.Error())
			}
			it = castTo(it, t, false)
			next = nx
		default:
			flush()
			return it, next, nil
		}
	}
	flush()
	return it, next, nil
}

// pathKey is a path element as written: Snowflake keys are case-sensitive, so an unquoted
// key keeps its case instead of being upper-cased like an identifier.
func pathKey(n *node) string { return n.Text }

// applyPath renders the steps as json_extract calls on the operand.
func applyPath(base item, steps []pathStep) item {
	// A path on a VARCHAR holding JSON text parses it, which json_extract does too.
	expr := base.sql
	var path strings.Builder
	var lastBase, lastPath string // the json_extract that produced expr, if one did last
	emit := func() {
		if path.Len() > 0 {
			lastBase, lastPath = expr, "$"+path.String()
			expr = "json_extract(" + expr + ", " + QuoteString(lastPath) + ")"
			path.Reset()
		}
	}
	for _, s := range steps {
		switch {
		case s.dynamic != "":
			emit()
			// A computed subscript is a key when it is text and an index otherwise.
			d := s.dynamic
			lastBase, lastPath = "", ""
			expr = "(CASE WHEN typeof(" + d + ") = 'VARCHAR' THEN json_extract(" + expr + ", '$.\"' || replace(CAST(" + d +
				" AS VARCHAR), '\"', '\\\"') || '\"') ELSE json_extract(" + expr + ", TRY_CAST(" + d + " AS BIGINT)) END)"
		case s.index != "":
			path.WriteString("[" + s.index + "]")
		default:
			path.WriteString(`."` + strings.ReplaceAll(s.key, `"`, `\"`) + `"`)
		}
	}
	emit()
	return item{sql: expr, kind: kindJSON, pathBase: lastBase, path: lastPath}
}

// joinItems writes the items out, first giving comparisons between a VARIANT and a literal
// Snowflake's meaning: the variant's own value is compared, not its JSON text.
func joinItems(items []item) string {
	isCmp := func(s string) bool {
		switch s {
		case "=", "!=", "<>", "<", ">", "<=", ">=", "||":
			return true
		}
		return false
	}
	for i := range items {
		it := items[i]
		switch {
		case it.lit == Op && isCmp(it.sql) && i > 0 && i+1 < len(items):
			l, r := &items[i-1], &items[i+1]
			fixCompare(l, *r, it.sql)
			fixCompare(r, *l, it.sql)
		case it.lit == Word && (it.sql == "LIKE" || it.sql == "ILIKE") && i > 0 && items[i-1].kind == kindJSON:
			items[i-1].sql, items[i-1].kind = items[i-1].unwrapped(), kindOther
		case it.lit == Word && it.sql == "IN" && i > 0 && i+1 < len(items) && items[i-1].kind == kindJSON && items[i+1].strList:
			items[i-1].sql, items[i-1].kind = items[i-1].unwrapped(), kindOther
		}
	}
	var b strings.Builder
	for i, it := range items {
		if i > 0 && it.sql != "," && it.sql != "." && items[i-1].sql != "." {
			b.WriteByte(' ')
		}
		b.WriteString(it.sql)
	}
	return b.String()
}

func fixCompare(side *item, other item, op string) {
	if side.kind != kindJSON {
		return
	}
	switch {
	case op == "||":
		side.sql, side.kind = side.unwrapped(), kindOther
	case other.isLit && other.lit == String:
		side.sql, side.kind = side.unwrapped(), kindOther
	case other.isLit && other.lit == Number:
		side.sql, side.kind = "TRY_CAST("+side.unwrapped()+" AS DOUBLE)", kindOther
	}
}
