package snowsql

import (
	"fmt"
	"strconv"
	"strings"
)

// Env is what a statement needs from the session that runs it.
type Env struct {
	Database, Schema                       string
	User, Role, Account, Warehouse, Region string
	SessionID                              int64
	// IsTemp reports whether the session holds a temporary table of that name.
	IsTemp func(db, schema, table string) bool
	// Columns lists a table's columns in order with their DuckDB types, upper-case names.
	Columns func(ref TableRef) ([]Column, error)
}

// Var is the value of a session variable (SET name = value).
type Var struct {
	Text   string
	Number bool
}

// Column is one column of a table as DuckDB stores it.
type Column struct {
	Name, Type string
}

// CompileError is a statement Snowflake would refuse at compile time, with its error code.
type CompileError struct {
	Code, SQLState, Message string
}

func (e *CompileError) Error() string { return e.Message }

func compileErr(format string, args ...any) *CompileError {
	return &CompileError{Code: "001003", SQLState: "42000", Message: "SQL compilation error:\n" + fmt.Sprintf(format, args...)}
}

// item is one translated piece of a token sequence. Keeping pieces apart until the
// sequence is joined lets a comparison see that its left side is a VARIANT and its right
// side a string literal, which Snowflake compares by the variant's string value.
type item struct {
	sql     string
	kind    exprKind
	lit     Kind // String or Number for a bare literal; Op for an operator; Word for a keyword
	isLit   bool
	strList bool // a parenthesised list of string literals, for IN
	// pathBase and path are set on a VARIANT path (payload:amount) whose last step is
	// json_extract(pathBase, path): a cast to a number reads the value from there, since
	// json_extract would hand it over as a double.
	pathBase, path string
}

func (it item) unwrapped() string { return "json_extract_string(" + it.sql + ", '$')" }

// translator holds the state of one statement's translation.
type translator struct {
	env      *Env
	src      string
	ctes     map[string]bool
	nextBind int
	maxBind  int
	// bindRef, when set, renders bind n; the bulk path points binds at appended columns.
	bindRef func(n int) string
}

func (tr *translator) bind(n *node) item {
	var k int
	if n.Text == "?" {
		tr.nextBind++
		k = tr.nextBind
	} else {
		k, _ = strconv.Atoi(n.Text[1:])
	}
	if k > tr.maxBind {
		tr.maxBind = k
	}
	if tr.bindRef != nil {
		return item{sql: tr.bindRef(k), kind: kindOther}
	}
	return item{sql: "$" + strconv.Itoa(k), kind: kindOther}
}

// resolve turns a table name into the DuckDB table, filling in the session's current
// database and schema the way Snowflake does.
func (tr *translator) resolve(name Name, verb string) (TableRef, error) {
	var ref TableRef
	switch len(name) {
	case 1:
		ref = TableRef{Database: tr.env.Database, Schema: tr.env.Schema, Table: name[0]}
	case 2:
		ref = TableRef{Database: tr.env.Database, Schema: name[0], Table: name[1]}
	case 3:
		ref = TableRef{Database: name[0], Schema: name[1], Table: name[2]}
	default:
		return ref, compileErr("invalid object name '%s'.", name)
	}
	if ref.Database == "" {
		return ref, &CompileError{Code: "090105", SQLState: "22000", Message: fmt.Sprintf(
			"Cannot perform %s. This session does not have a current database. Call 'USE DATABASE', or use a qualified name.", verb)}
	}
	if ref.Schema == "" {
		return ref, &CompileError{Code: "090106", SQLState: "22000", Message: fmt.Sprintf(
			"Cannot perform %s. This session does not have a current schema. Call 'USE SCHEMA', or use a qualified name.", verb)}
	}
	if tr.env.IsTemp != nil && tr.env.IsTemp(ref.Database, ref.Schema, ref.Table) {
		ref.Temp = true
	}
	return ref, nil
}

// clauseEnds are the words that end a FROM list.
var clauseEnds = map[string]bool{
	"WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true, "LIMIT": true, "QUALIFY": true,
	"UNION": true, "EXCEPT": true, "MINUS": true, "INTERSECT": true, "ON": true, "SET": true,
	"WHEN": true, "WINDOW": true, "SELECT": true, "VALUES": true, "OFFSET": true, "FETCH": true,
	"RETURNING": true, "SAMPLE": true, "TABLESAMPLE": true,
}

// keywords never take a postfix operator: "WHERE (x)" is not a call and "SELECT [1]" not an index.
var keywords = map[string]bool{
	"SELECT": true, "WHERE": true, "AND": true, "OR": true, "NOT": true, "ON": true, "WHEN": true,
	"THEN": true, "ELSE": true, "IN": true, "BY": true, "AS": true, "FROM": true, "VALUES": true,
	"SET": true, "HAVING": true, "EXISTS": true, "USING": true, "OVER": true, "INTO": true,
	"JOIN": true, "RETURNING": true, "LIKE": true, "ILIKE": true, "IS": true, "BETWEEN": true,
	"DISTINCT": true, "ALL": true, "ANY": true, "UNION": true, "END": true, "WITH": true,
	"WITHIN": true, "FILTER": true, "PARTITION": true, "LIMIT": true, "QUALIFY": true,
	"INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true, "TABLE": true, "VIEW": true,
	"INTERVAL": true, "TRANSIENT": true, "TEMPORARY": true, "TEMP": true, "RECURSIVE": true,
}

// duckReserved are words DuckDB reserves that Snowflake lets name a column; as operands
// they are quoted, or DuckDB would read them as syntax (SELECT AT FROM t).
var duckReserved = map[string]bool{
	"AT": true, "MAP": true, "STRUCT": true, "COLUMNS": true, "GLOB": true, "ANTI": true, "SEMI": true,
	"POSITIONAL": true, "UNPACK": true, "VERBOSE": true, "GENERATED": true, "COLLATION": true,
	"AUTHORIZATION": true, "FREEZE": true, "CONCURRENTLY": true, "NOTNULL": true, "ISNULL": true,
	"DESCRIBE": true, "SHOW": true, "SUMMARIZE": true, "LAMBDA": true, "DO": true, "PLACING": true,
	"VARIADIC": true, "ANALYSE": true, "ANALYZE": true, "INITIALLY": true, "DEFERRABLE": true,
	"SYMMETRIC": true, "ASYMMETRIC": true, "PIVOT_LONGER": true, "PIVOT_WIDER": true, "OVERLAPS": true,
	"BINARY": true,
}

// isTablePosition reports whether a name at this point names a table.
func isTablePosition(prev, cur *node, inFrom bool) bool {
	if prev == nil || prev.group || cur.isWord("LATERAL") {
		return false
	}
	switch {
	case prev.isWord("FROM"), prev.isWord("JOIN"), prev.isWord("INTO"):
		return true
	case prev.isWord("USING"):
		return !cur.group
	case prev.isWord("UPDATE"):
		return !cur.isWord("SET")
	case prev.isOp(","):
		return inFrom
	}
	return false
}

// seq translates a run of nodes. tables says whether names in FROM-like positions are
// tables here: true in statements and subqueries, false inside function arguments, where
// FROM belongs to EXTRACT or TRIM.
func (tr *translator) seq(nodes []*node, tables bool) (string, error) {
	items, err := tr.items(nodes, tables)
	if err != nil {
		return "", err
	}
	return joinItems(items), nil
}

func (tr *translator) items(nodes []*node, tables bool) ([]item, error) {
	var out []item
	inFrom := false
	for i := 0; i < len(nodes); {
		n := nodes[i]
		var prev *node
		if i > 0 {
			prev = nodes[i-1]
		}
		if tables && isTablePosition(prev, n, inFrom) {
			if prev.isWord("FROM") && n.isWord("VALUES") {
				it, next, err := tr.fromValues(nodes, i)
				if err != nil {
					return nil, err
				}
				out = append(out, it)
				i = next
				continue
			}
			if name, next, ok := readName(nodes, i); ok && !(next < len(nodes) && nodes[next].isGroup("(") && !prev.isWord("INTO")) {
				if len(name) == 1 && tr.ctes[name[0]] {
					out = append(out, item{sql: QuoteIdent(name[0]), kind: kindOther})
					i = next
					continue
				}
				verb := "SELECT"
				if prev.isWord("INTO") || prev.isWord("UPDATE") {
					verb = "INSERT"
				}
				ref, err := tr.resolve(name, verb)
				if err != nil {
					return nil, err
				}
				out = append(out, item{sql: ref.Duck(), kind: kindOther})
				i = next
				continue
			}
		}
		if tables && !n.group && n.Kind == Word {
			up := n.Upper()
			switch {
			case up == "FROM" || (up == "USING" && !(i+1 < len(nodes) && nodes[i+1].group)):
				inFrom = true
			case clauseEnds[up]:
				inFrom = false
			}
			if up == "MINUS" {
				out = append(out, item{sql: "EXCEPT", lit: Word})
				i++
				continue
			}
		}
		it, next, err := tr.primary(nodes, i, tables)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
		i = next
	}
	return out, nil
}

// fromValues translates Snowflake's FROM VALUES (...), (...) [AS] alias [(cols)], whose
// columns are named COLUMN1, COLUMN2, ... unless the alias names them.
func (tr *translator) fromValues(nodes []*node, i int) (item, int, error) {
	var rows []string
	width := 0
	j := i + 1
	for j < len(nodes) && nodes[j].isGroup("(") {
		s, err := tr.seq(nodes[j].kids, false)
		if err != nil {
			return item{}, 0, err
		}
		rows = append(rows, "("+s+")")
		width = len(splitCommas(nodes[j].kids))
		j++
		if j < len(nodes) && nodes[j].isOp(",") && j+1 < len(nodes) && nodes[j+1].isGroup("(") {
			j++
			continue
		}
		break
	}
	alias := "SFEMU_VALUES"
	if j < len(nodes) && nodes[j].isWord("AS") {
		j++
	}
	if j < len(nodes) && nodes[j].isName() && !clauseEnds[nodes[j].Upper()] && !nodes[j].isWord("JOIN") {
		alias = QuoteIdent(namePart(nodes[j]))
		j++
	}
	var cols []string
	if j < len(nodes) && nodes[j].isGroup("(") {
		for _, c := range splitCommas(nodes[j].kids) {
			if len(c) == 1 && c[0].isName() {
				cols = append(cols, QuoteIdent(namePart(c[0])))
			}
		}
		j++
	}
	for k := len(cols); k < width; k++ {
		cols = append(cols, "COLUMN"+strconv.Itoa(k+1))
	}
	sql := "(VALUES " + strings.Join(rows, ", ") + ") AS " + alias + "(" + strings.Join(cols, ", ") + ")"
	return item{sql: sql, kind: kindOther}, j, nil
}

// primary translates one operand with its postfix operators (call arguments, variant path
// steps, brackets, :: casts), or passes a keyword or operator through.
func (tr *translator) primary(nodes []*node, i int, tables bool) (item, int, error) {
	n := nodes[i]
	next := i + 1
	var it item
	switch {
	case n.group && n.Text == "(":
		if n.startsQuery() {
			sql, err := tr.query(n.kids)
			if err != nil {
				return item{}, 0, err
			}
			it = item{sql: "(" + sql + ")", kind: kindUnknown}
			break
		}
		inner, err := tr.items(n.kids, false)
		if err != nil {
			return item{}, 0, err
		}
		it = item{sql: "(" + joinItems(inner) + ")", kind: kindUnknown}
		if len(inner) == 1 {
			it.kind = inner[0].kind
		}
		it.strList = len(inner) > 0
		for _, x := range inner {
			if !(x.isLit && x.lit == String) && x.sql != "," {
				it.strList = false
			}
		}
	case n.group && n.Text == "[":
		s, err := tr.seq(n.kids, false)
		if err != nil {
			return item{}, 0, err
		}
		it = item{sql: "json_array(" + s + ")", kind: kindJSON}
	case n.Kind == String:
		it = item{sql: QuoteString(n.Text), kind: kindOther, lit: String, isLit: true}
	case n.Kind == Number:
		it = item{sql: n.Text, kind: kindOther, lit: Number, isLit: true}
	case n.Kind == Param:
		it = tr.bind(n)
	case n.Kind == Op:
		return item{sql: n.Text, lit: Op}, next, nil
	case n.isWord("CASE"):
		end := matchingEnd(nodes, i)
		if end < 0 {
			return item{}, 0, compileErr("syntax error line 1 at position %d unexpected 'CASE'.", n.Pos)
		}
		inner, err := tr.seq(nodes[i+1:end], tables)
		if err != nil {
			return item{}, 0, err
		}
		it = item{sql: "CASE " + inner + " END", kind: kindUnknown}
		next = end + 1
	case n.Kind == Word && keywords[n.Upper()]:
		return item{sql: n.Upper(), lit: Word}, next, nil
	default: // a name: column, function or keyword-like word
		name, nx, _ := readName(nodes, i)
		next = nx
		if nx < len(nodes) && nodes[nx].isGroup("(") {
			call, err := tr.call(name, nodes[nx], nodes[i:nx+1])
			if err != nil {
				return item{}, 0, err
			}
			it = call
			next = nx + 1
		} else if f, ok := bareFunctions[name.String()]; ok && len(name) == 1 && n.Kind == Word {
			it = f(tr)
		} else {
			parts := make([]string, 0, nx-i)
			for k := i; k < nx; k += 2 {
				if nodes[k].Kind == Quoted || duckReserved[nodes[k].Upper()] {
					parts = append(parts, QuoteIdent(namePart(nodes[k])))
				} else {
					parts = append(parts, nodes[k].Upper())
				}
			}
			it = item{sql: strings.Join(parts, "."), kind: kindUnknown}
		}
	}
	return tr.postfix(nodes, next, it)
}

// matchingEnd finds the END that closes the CASE at nodes[i].
func matchingEnd(nodes []*node, i int) int {
	depth := 0
	for j := i; j < len(nodes); j++ {
		switch {
		case nodes[j].isWord("CASE"):
			depth++
		case nodes[j].isWord("END"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}
