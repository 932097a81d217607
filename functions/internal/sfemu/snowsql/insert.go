package snowsql

import (
	"strconv"
	"strings"
)

// insertShape is an INSERT statement taken apart.
type insertShape struct {
	overwrite bool
	ref       TableRef
	cols      []string // named target columns; empty means all, in table order
	values    [][]*node
	query     []*node
	jsonCols  []bool // per value position: the target column is VARIANT
}

// semiStructured are the functions whose result Snowflake refuses in a VALUES clause.
var semiStructured = map[string]bool{
	"PARSE_JSON": true, "TRY_PARSE_JSON": true, "OBJECT_CONSTRUCT": true, "OBJECT_CONSTRUCT_KEEP_NULL": true,
	"ARRAY_CONSTRUCT": true, "ARRAY_CONSTRUCT_COMPACT": true, "TO_VARIANT": true, "TO_OBJECT": true,
	"TO_ARRAY": true, "ARRAY_AGG": true, "OBJECT_AGG": true,
}

func (tr *translator) parseInsert(nodes []*node) (*insertShape, error) {
	sh := &insertShape{}
	i := 1
	if i < len(nodes) && nodes[i].isWord("OVERWRITE") {
		sh.overwrite = true
		i++
	}
	if i >= len(nodes) || !nodes[i].isWord("INTO") {
		return nil, unsupported(tr.src, nodes)
	}
	name, next, ok := readName(nodes, i+1)
	if !ok {
		return nil, tr.unexpected(nodes, i+1)
	}
	ref, err := tr.resolve(name, "INSERT")
	if err != nil {
		return nil, err
	}
	sh.ref = ref
	i = next
	if i < len(nodes) && nodes[i].isGroup("(") && !nodes[i].startsQuery() {
		for _, c := range splitCommas(nodes[i].kids) {
			if len(c) != 1 || !c[0].isName() {
				return nil, compileErr("syntax error line 1 at position %d unexpected '%s'.", nodes[i].Pos, source(tr.src, c))
			}
			sh.cols = append(sh.cols, namePart(c[0]))
		}
		i++
	}
	if i < len(nodes) && nodes[i].isWord("VALUES") {
		i++
		for i < len(nodes) {
			if !nodes[i].isGroup("(") {
				return nil, compileErr("syntax error line 1 at position %d unexpected '%s'.", nodes[i].Pos, source(tr.src, nodes[i:i+1]))
			}
			for _, v := range splitCommas(nodes[i].kids) {
				if bad := findSemiStructured(v); bad {
					return nil, &CompileError{Code: "002014", SQLState: "22000", Message: "SQL compilation error:\nInvalid expression [" + source(tr.src, v) + "] in VALUES clause"}
				}
			}
			sh.values = append(sh.values, nodes[i].kids)
			i++
			if i < len(nodes) && nodes[i].isOp(",") {
				i++
				continue
			}
			break
		}
		if i != len(nodes) {
			return nil, compileErr("syntax error line 1 at position %d unexpected '%s'.", nodes[i].Pos, source(tr.src, nodes[i:i+1]))
		}
	} else {
		sh.query = nodes[i:]
		if len(sh.query) == 1 && sh.query[0].startsQuery() {
			sh.query = sh.query[0].kids
		}
		if len(sh.query) == 0 {
			return nil, compileErr("syntax error line 1 at position %d unexpected end of input.", len(tr.src))
		}
	}
	sh.jsonCols = tr.jsonTargets(sh)
	return sh, nil
}

// findSemiStructured reports whether an expression builds a VARIANT, OBJECT or ARRAY.
func findSemiStructured(nodes []*node) bool {
	for i, n := range nodes {
		if n.group {
			if findSemiStructured(n.kids) {
				return true
			}
			continue
		}
		if n.Kind == Word && semiStructured[n.Upper()] && i+1 < len(nodes) && nodes[i+1].isGroup("(") {
			return true
		}
		if n.isOp("::") && i+1 < len(nodes) && nodes[i+1].Kind == Word {
			if t, err := mapType(nodes[i+1].Text, nil); err == nil && t.class == kindJSON {
				return true
			}
		}
	}
	return false
}

// jsonTargets marks the value positions whose target column is VARIANT. It needs the
// table's columns; when they are unknown nothing is marked and DuckDB reports the table.
func (tr *translator) jsonTargets(sh *insertShape) []bool {
	if tr.env.Columns == nil {
		return nil
	}
	cols, err := tr.env.Columns(sh.ref)
	if err != nil {
		return nil
	}
	byName := map[string]string{}
	for _, c := range cols {
		byName[strings.ToUpper(c.Name)] = c.Type
	}
	var out []bool
	if len(sh.cols) == 0 {
		for _, c := range cols {
			out = append(out, c.Type == "JSON")
		}
		return out
	}
	for _, c := range sh.cols {
		out = append(out, byName[strings.ToUpper(c)] == "JSON")
	}
	return out
}

func (sh *insertShape) head() string {
	h := "INSERT INTO " + sh.ref.Duck()
	if len(sh.cols) > 0 {
		q := make([]string, len(sh.cols))
		for i, c := range sh.cols {
			q[i] = QuoteIdent(c)
		}
		h += " (" + strings.Join(q, ", ") + ")"
	}
	return h
}

// valueList translates one VALUES tuple, turning values bound for VARIANT columns into
// VARIANTs the way Snowflake coerces them: a string stays a string.
func (tr *translator) valueList(exprs [][]*node, jsonCols []bool) (string, error) {
	parts := make([]string, 0, len(exprs))
	for k, e := range exprs {
		it, err := tr.expr(e)
		if err != nil {
			return "", err
		}
		if k < len(jsonCols) && jsonCols[k] {
			t, _ := mapType("VARIANT", nil)
			it = castTo(it, t, false)
		}
		parts = append(parts, it.sql)
	}
	return strings.Join(parts, ", "), nil
}

// isOperandEnd reports whether a node can end an expression, so that a name after it is an alias.
func isOperandEnd(n *node) bool {
	if n.group {
		return true
	}
	switch n.Kind {
	case String, Number, Param, Quoted:
		return true
	case Word:
		return !keywords[n.Upper()]
	}
	return false
}

func (tr *translator) insert(nodes []*node) (*Translation, error) {
	sh, err := tr.parseInsert(nodes)
	if err != nil {
		return nil, err
	}
	out := &Translation{Target: &sh.ref}
	if sh.overwrite {
		out.Pre = []string{"DELETE FROM " + sh.ref.Duck()}
	}
	if sh.values != nil {
		rows := make([]string, 0, len(sh.values))
		for _, v := range sh.values {
			s, err := tr.valueList(splitCommas(v), sh.jsonCols)
			if err != nil {
				return nil, err
			}
			rows = append(rows, "("+s+")")
		}
		out.SQL = sh.head() + " VALUES " + strings.Join(rows, ", ")
		return out, nil
	}
	q, err := tr.selectQuery(sh.query, sh.jsonCols, false)
	if err != nil {
		return nil, err
	}
	out.SQL = sh.head() + " " + q
	return out, nil
}

// BulkInsert is an INSERT whose binds are arrays, rewritten to read every row from a
// table of binds at once instead of running once per row.
type BulkInsert struct {
	// SQL reads the binds from table BindTable, whose column for bind n is BindColumn(n).
	SQL    string
	Binds  int
	Pre    []string
	Target TableRef
}

// BindTable and BindColumn name the relation the bulk path appends the bound rows to.
const BindTable = "sfemu_binds"

// BindColumn is the column of BindTable holding bind n.
func BindColumn(n int) string { return "b" + strconv.Itoa(n) }

// Bulk rewrites INSERT INTO t [(cols)] VALUES (<one tuple>) or INSERT INTO t [(cols)]
// SELECT <list> (no FROM) to read its binds from BindTable. ok is false for any other shape.
func (s *Stmt) Bulk(env *Env) (b *BulkInsert, ok bool, err error) {
	if !s.nodes[0].isWord("INSERT") {
		return nil, false, nil
	}
	tr := &translator{env: env, src: s.Text, ctes: map[string]bool{}}
	tr.bindRef = func(n int) string { return BindTable + "." + BindColumn(n) }
	sh, err := tr.parseInsert(s.nodes)
	if err != nil {
		return nil, false, err
	}
	var sel string
	switch {
	case len(sh.values) == 1:
		sel, err = tr.valueList(splitCommas(sh.values[0]), sh.jsonCols)
	case sh.query != nil && sh.query[0].isWord("SELECT"):
		for _, n := range sh.query[1:] {
			if n.Kind == Word && !n.group && clauseEnds[n.Upper()] || n.isWord("FROM") {
				return nil, false, nil
			}
		}
		sel, err = tr.selectQuery(sh.query, sh.jsonCols, false)
		sel = strings.TrimPrefix(sel, "SELECT ")
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := &BulkInsert{SQL: sh.head() + " SELECT " + sel + " FROM " + BindTable, Binds: tr.maxBind, Target: sh.ref}
	if sh.overwrite {
		out.Pre = []string{"DELETE FROM " + sh.ref.Duck()}
	}
	return out, true, nil
}
