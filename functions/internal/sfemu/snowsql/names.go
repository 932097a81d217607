package snowsql

import (
	"strings"
)

// Name is a Snowflake object name with each part normalised: unquoted parts upper-cased,
// quoted parts as written.
type Name []string

func (n Name) String() string {
	parts := make([]string, len(n))
	for i, p := range n {
		parts[i] = p
		if p != strings.ToUpper(p) || strings.ContainsAny(p, " .\"-") {
			parts[i] = QuoteIdent(p)
		}
	}
	return strings.Join(parts, ".")
}

// Last is the object's own name without its database and schema.
func (n Name) Last() string {
	if len(n) == 0 {
		return ""
	}
	return n[len(n)-1]
}

// QuoteIdent renders s as a quoted identifier for DuckDB (and Snowflake).
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteString renders s as a DuckDB string literal.
func QuoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// SchemaName is the DuckDB schema that holds Snowflake schema db.schema: one DuckDB schema
// per Snowflake schema, named after both parts, keeps the whole account in one file.
func SchemaName(db, schema string) string { return db + "__" + schema }

// TableRef is a resolved table name.
type TableRef struct {
	Database, Schema, Table string
	Temp                    bool
}

// Duck renders the DuckDB reference of the table.
func (r TableRef) Duck() string {
	if r.Temp {
		return "temp.main." + QuoteIdent(r.Table)
	}
	return QuoteIdent(SchemaName(r.Database, r.Schema)) + "." + QuoteIdent(r.Table)
}

// Snow is the fully qualified Snowflake name.
func (r TableRef) Snow() string { return Name{r.Database, r.Schema, r.Table}.String() }

// namePart normalises one identifier token.
func namePart(n *node) string {
	if n.Kind == Quoted {
		return n.Text
	}
	return n.Upper()
}

// readName reads a dotted name at nodes[i]. It also accepts IDENTIFIER('a.b') and returns the
// node after the name; ok is false when nodes[i] does not start a name.
func readName(nodes []*node, i int) (name Name, next int, ok bool) {
	if i >= len(nodes) {
		return nil, i, false
	}
	if nodes[i].isWord("IDENTIFIER") && i+1 < len(nodes) && nodes[i+1].isGroup("(") {
		kids := nodes[i+1].kids
		if len(kids) == 1 && kids[0].Kind == String {
			parsed, err := ParseName(kids[0].Text)
			if err == nil {
				return parsed, i + 2, true
			}
		}
		return nil, i, false
	}
	if !nodes[i].isName() {
		return nil, i, false
	}
	name = Name{namePart(nodes[i])}
	next = i + 1
	for next+1 < len(nodes) && nodes[next].isOp(".") && nodes[next+1].isName() {
		name = append(name, namePart(nodes[next+1]))
		next += 2
	}
	return name, next, true
}

// ParseName parses a dotted object name such as LOADER_DB.RAW or "My Db".PUBLIC.
func ParseName(s string) (Name, error) {
	toks, err := Tokenize(s)
	if err != nil {
		return nil, err
	}
	nodes, err := buildTree(toks, s)
	if err != nil {
		return nil, err
	}
	name, next, ok := readName(nodes, 0)
	if !ok || next != len(nodes) {
		return nil, &SyntaxError{Line: 1, Column: 0, Near: s}
	}
	return name, nil
}
