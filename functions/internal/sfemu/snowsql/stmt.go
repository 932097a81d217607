package snowsql

import (
	"strconv"
	"strings"
)

// Stmt is one parsed Snowflake statement.
type Stmt struct {
	Text  string
	nodes []*node
}

// Parse reads one statement. A trailing semicolon is allowed; several statements are not.
func Parse(text string) (*Stmt, error) {
	toks, err := Tokenize(text)
	if err != nil {
		return nil, err
	}
	for len(toks) > 0 && toks[len(toks)-1].IsOp(";") {
		toks = toks[:len(toks)-1]
	}
	for _, t := range toks {
		if t.IsOp(";") {
			return nil, syntaxErrorAt(text, t.Pos, ";", "")
		}
	}
	if len(toks) == 0 {
		return nil, &SyntaxError{Line: 1, Msg: "unexpected end of input: empty statement."}
	}
	nodes, err := buildTree(toks, text)
	if err != nil {
		return nil, err
	}
	return &Stmt{Text: text, nodes: nodes}, nil
}

// Substitute replaces session variables ($name) with their values, as Snowflake does
// before it reads the statement; IDENTIFIER($name) then names an object.
func (s *Stmt) Substitute(vars map[string]Var) error {
	var walk func(nodes []*node) error
	walk = func(nodes []*node) error {
		for _, n := range nodes {
			if n.group {
				if err := walk(n.kids); err != nil {
					return err
				}
				continue
			}
			if n.Kind != Word || len(n.Text) < 2 || n.Text[0] != '$' || isDigit(n.Text[1]) {
				continue
			}
			v, ok := vars[strings.ToUpper(n.Text[1:])]
			if !ok {
				return &CompileError{Code: "002211", SQLState: "02000", Message: "SQL compilation error: error line 1 at position " +
					strconv.Itoa(n.Pos) + "\nSession variable '" + strings.ToUpper(n.Text) + "' does not exist"}
			}
			n.Kind, n.Text = String, v.Text
			if v.Number {
				n.Kind = Number
			}
		}
		return nil
	}
	return walk(s.nodes)
}

// SetVariable reads SET name = expr. It returns the variable and a query whose single
// value is the variable's value.
func (s *Stmt) SetVariable() (name, query string, ok bool) {
	if s.word(0) != "SET" || len(s.nodes) < 4 || !s.nodes[1].isName() || !s.nodes[2].isOp("=") {
		return "", "", false
	}
	return namePart(s.nodes[1]), "SELECT " + source(s.Text, s.nodes[3:]), true
}

// UnsetVariable reads UNSET name.
func (s *Stmt) UnsetVariable() (string, bool) {
	if s.word(0) != "UNSET" || len(s.nodes) != 2 || !s.nodes[1].isName() {
		return "", false
	}
	return namePart(s.nodes[1]), true
}

// word is the upper-case word at position i, or "".
func (s *Stmt) word(i int) string {
	if i < len(s.nodes) && !s.nodes[i].group && s.nodes[i].Kind == Word {
		return s.nodes[i].Upper()
	}
	return ""
}

// Kind is the statement's class for statistics and fault matching: SELECT INSERT UPDATE
// DELETE MERGE CREATE DROP ALTER GRANT USE BEGIN COMMIT ROLLBACK SHOW or OTHER.
func (s *Stmt) Kind() string {
	switch w := s.word(0); w {
	case "SELECT", "WITH", "VALUES":
		return "SELECT"
	case "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "GRANT", "USE", "BEGIN", "COMMIT", "ROLLBACK", "SHOW":
		return w
	case "REVOKE":
		return "GRANT"
	case "START":
		if s.word(1) == "TRANSACTION" {
			return "BEGIN"
		}
	case "DESCRIBE", "DESC":
		return "SHOW"
	}
	if len(s.nodes) > 0 && s.nodes[0].startsQuery() {
		return "SELECT"
	}
	return "OTHER"
}

// Head is the statement's leading words, for messages ("CREATE STAGE").
func (s *Stmt) Head(n int) string {
	var words []string
	for i := 0; i < len(s.nodes) && len(words) < n; i++ {
		if s.nodes[i].group || s.nodes[i].Kind != Word {
			break
		}
		words = append(words, s.nodes[i].Upper())
	}
	return strings.Join(words, " ")
}

// Object is a table-like object a statement creates or drops.
type Object struct {
	Kind string // TABLE, VIEW or DYNAMIC TABLE
	Ref  TableRef
	// TargetLag and Warehouse are a dynamic table's settings.
	TargetLag, Warehouse string
}

// Translation is a statement rewritten for DuckDB.
type Translation struct {
	SQL string
	// Pre runs before SQL in the same transaction (INSERT OVERWRITE empties the table).
	Pre []string
	// Binds is the highest bind placeholder the statement uses.
	Binds int
	// Query says the statement returns rows.
	Query bool
	// Target is the table an INSERT, UPDATE, DELETE or MERGE writes.
	Target *TableRef
	// MergeActions lists the result columns of a MERGE: inserted, updated, deleted.
	MergeActions []string
	Creates      *Object
	Drops        *Object
	IfExists     bool
	// Status is the message Snowflake answers a DDL statement with.
	Status string
}

// Translate rewrites the statement for DuckDB in the session described by env.
func (s *Stmt) Translate(env *Env) (*Translation, error) {
	tr := &translator{env: env, src: s.Text, ctes: map[string]bool{}}
	tr.collectCTEs(s.nodes)
	out, err := tr.statement(s.nodes)
	if err != nil {
		return nil, err
	}
	out.Binds = tr.maxBind
	return out, nil
}

func (tr *translator) collectCTEs(nodes []*node) {
	for i, n := range nodes {
		if n.group {
			tr.collectCTEs(n.kids)
			continue
		}
		if !n.isName() || i == 0 || i+2 >= len(nodes) {
			continue
		}
		prev := nodes[i-1]
		if !(prev.isWord("WITH") || prev.isWord("RECURSIVE") || prev.isOp(",")) {
			continue
		}
		j := i + 1
		if nodes[j].isGroup("(") {
			j++
		}
		if j+1 < len(nodes) && nodes[j].isWord("AS") && nodes[j+1].startsQuery() {
			tr.ctes[namePart(n)] = true
		}
	}
}

func (tr *translator) statement(nodes []*node) (*Translation, error) {
	first := nodes[0]
	switch {
	case first.isWord("SELECT"), first.isWord("WITH"), first.isWord("VALUES"), first.startsQuery():
		sql, err := tr.query(nodes)
		return &Translation{SQL: sql, Query: true}, err
	case first.isWord("INSERT"):
		return tr.insert(nodes)
	case first.isWord("UPDATE"), first.isWord("DELETE"), first.isWord("MERGE"):
		return tr.dml(nodes)
	case first.isWord("CREATE"):
		return tr.create(nodes)
	case first.isWord("DROP"):
		return tr.drop(nodes)
	case first.isWord("TRUNCATE"):
		return tr.truncate(nodes)
	case first.isWord("ALTER"):
		return tr.alter(nodes)
	}
	return nil, unsupported(tr.src, nodes)
}

// unsupported is the error for a statement the emulator does not run.
func unsupported(src string, nodes []*node) error {
	var words []string
	for _, n := range nodes {
		if n.group || n.Kind != Word || len(words) == 3 {
			break
		}
		words = append(words, n.Upper())
	}
	head := strings.Join(words, " ")
	if head == "" {
		head = source(src, nodes[:1])
	}
	return compileErr("syntax error line 1 at position 0 unexpected '%s'. Statement '%s' is not supported by the Snowflake emulator.", head, head)
}

func (tr *translator) query(nodes []*node) (string, error) {
	if len(nodes) > 0 && nodes[0].isWord("VALUES") {
		// A bare VALUES statement names its columns COLUMN1, COLUMN2, ... in Snowflake.
		it, next, err := tr.fromValues(nodes, 0)
		if err != nil {
			return "", err
		}
		rest, err := tr.seq(nodes[next:], true)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace("SELECT * FROM " + it.sql + " " + rest), nil
	}
	return tr.selectQuery(nodes, nil, true)
}

func (tr *translator) dml(nodes []*node) (*Translation, error) {
	out := &Translation{}
	// The written table follows UPDATE, DELETE FROM or MERGE INTO.
	at := 1
	if nodes[0].isWord("DELETE") || nodes[0].isWord("MERGE") {
		at = 2
	}
	if name, _, ok := readName(nodes, at); ok {
		if ref, err := tr.resolve(name, nodes[0].Upper()); err == nil {
			out.Target = &ref
		}
	}
	if nodes[0].isWord("MERGE") {
		for i := range nodes {
			if !nodes[i].isWord("THEN") || i+1 >= len(nodes) {
				continue
			}
			action := map[string]string{"INSERT": "inserted", "UPDATE": "updated", "DELETE": "deleted"}[nodes[i+1].Upper()]
			if action != "" && !contains(out.MergeActions, action) {
				out.MergeActions = append(out.MergeActions, action)
			}
		}
		order := map[string]int{"inserted": 0, "updated": 1, "deleted": 2}
		for i := 1; i < len(out.MergeActions); i++ {
			for j := i; j > 0 && order[out.MergeActions[j]] < order[out.MergeActions[j-1]]; j-- {
				out.MergeActions[j], out.MergeActions[j-1] = out.MergeActions[j-1], out.MergeActions[j]
			}
		}
	}
	sql, err := tr.seq(nodes, true)
	out.SQL = sql
	return out, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
