package snowsql

import (
	"strings"
)

// createHead is the part of CREATE before the object's definition.
type createHead struct {
	orReplace, ifNotExists bool
	temp, transient        bool
	kind                   string // TABLE, VIEW, DYNAMIC TABLE, or another object word
	name                   Name
	next                   int
}

func readCreateHead(nodes []*node) (createHead, bool) {
	var h createHead
	i := 1
	if i+1 < len(nodes) && nodes[i].isWord("OR") && nodes[i+1].isWord("REPLACE") {
		h.orReplace = true
		i += 2
	}
	for modifier := true; modifier && i < len(nodes); {
		switch {
		case nodes[i].isWord("LOCAL"), nodes[i].isWord("GLOBAL"), nodes[i].isWord("SECURE"), nodes[i].isWord("RECURSIVE"):
		case nodes[i].isWord("TEMP"), nodes[i].isWord("TEMPORARY"), nodes[i].isWord("VOLATILE"):
			h.temp = true
		case nodes[i].isWord("TRANSIENT"):
			h.transient = true
		default:
			modifier = false
			continue
		}
		i++
	}
	if i >= len(nodes) || nodes[i].group || nodes[i].Kind != Word {
		return h, false
	}
	h.kind = nodes[i].Upper()
	i++
	if h.kind == "DYNAMIC" && i < len(nodes) && nodes[i].isWord("TABLE") {
		h.kind = "DYNAMIC TABLE"
		i++
	}
	if i+2 < len(nodes) && nodes[i].isWord("IF") && nodes[i+1].isWord("NOT") && nodes[i+2].isWord("EXISTS") {
		h.ifNotExists = true
		i += 3
	}
	name, next, ok := readName(nodes, i)
	if !ok {
		return h, false
	}
	h.name, h.next = name, next
	return h, true
}

func (tr *translator) create(nodes []*node) (*Translation, error) {
	h, ok := readCreateHead(nodes)
	if !ok || (h.kind != "TABLE" && h.kind != "VIEW" && h.kind != "DYNAMIC TABLE") {
		return nil, unsupported(tr.src, nodes)
	}
	ref, err := tr.resolve(h.name, "CREATE "+h.kind)
	if err != nil {
		return nil, err
	}
	ref.Temp = h.temp
	obj := &Object{Kind: h.kind, Ref: ref}
	out := &Translation{Creates: obj}
	verb := "CREATE "
	if h.orReplace {
		verb += "OR REPLACE "
	}
	target := ref.Duck()
	if h.temp {
		if h.kind != "TABLE" {
			return nil, unsupported(tr.src, nodes)
		}
		verb += "TEMP "
		target = QuoteIdent(ref.Table)
	}
	duckKind := "TABLE"
	if h.kind != "TABLE" {
		duckKind = "VIEW"
	}
	exists := ""
	if h.ifNotExists {
		exists = "IF NOT EXISTS "
	}
	head := verb + duckKind + " " + exists + target
	rest := nodes[h.next:]
	switch h.kind {
	case "TABLE":
		out.SQL, err = tr.createTable(head, rest)
		out.Status = "Table " + ref.Table + " successfully created."
	case "VIEW":
		out.SQL, err = tr.createView(head, rest, nil)
		out.Status = "View " + ref.Table + " successfully created."
	default:
		out.SQL, err = tr.createView(head, rest, obj)
		out.Status = "Dynamic table " + ref.Table + " successfully created."
	}
	return out, err
}

func (tr *translator) createTable(head string, rest []*node) (string, error) {
	var cols []string
	i := 0
	if i < len(rest) && rest[i].isGroup("(") && !rest[i].startsQuery() {
		for _, def := range splitCommas(rest[i].kids) {
			c, err := tr.columnDef(def)
			if err != nil {
				return "", err
			}
			if c != "" {
				cols = append(cols, c)
			}
		}
		i++
	}
	// Table options (CLUSTER BY, COMMENT = ..., DATA_RETENTION_TIME_IN_DAYS = ..., COPY
	// GRANTS) change nothing the emulator can show, so they are read past.
	for i < len(rest) && !rest[i].isWord("AS") && !rest[i].isWord("LIKE") && !rest[i].isWord("CLONE") {
		i++
	}
	switch {
	case i < len(rest) && rest[i].isWord("AS"):
		sql, err := tr.asQuery(rest[i+1:])
		if err != nil {
			return "", err
		}
		if len(cols) > 0 {
			// Snowflake's CREATE TABLE t (a, b) AS SELECT names the columns; DuckDB reads
			// them from the query, so the query is wrapped with the names.
			names := make([]string, 0, len(cols))
			for _, c := range cols {
				names = append(names, strings.Fields(c)[0])
			}
			sql = "SELECT * FROM (" + sql + ") AS sfemu_ctas(" + strings.Join(names, ", ") + ")"
		}
		return head + " AS " + sql, nil
	case i < len(rest):
		// LIKE copies the shape, CLONE the data too.
		name, _, ok := readName(rest, i+1)
		if !ok {
			return "", compileErr("syntax error line 1 at position %d unexpected '%s'.", rest[i].Pos, rest[i].Text)
		}
		src, err := tr.resolve(name, "CREATE TABLE")
		if err != nil {
			return "", err
		}
		if rest[i].isWord("LIKE") {
			return head + " AS SELECT * FROM " + src.Duck() + " LIMIT 0", nil
		}
		return head + " AS SELECT * FROM " + src.Duck(), nil
	}
	if len(cols) == 0 {
		return "", compileErr("syntax error line 1 at position %d unexpected end of input.", len(tr.src))
	}
	return head + " (" + strings.Join(cols, ", ") + ")", nil
}

// columnDef translates one column definition. Snowflake does not enforce PRIMARY KEY, UNIQUE
// or FOREIGN KEY, so they are dropped: DuckDB would enforce them and let a test pass that
// production fails. NOT NULL is enforced by both and kept.
func (tr *translator) columnDef(def []*node) (string, error) {
	if len(def) == 0 {
		return "", compileErr("syntax error: empty column definition")
	}
	switch def[0].Upper() {
	case "CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN":
		if def[0].Kind == Word {
			return "", nil
		}
	}
	if !def[0].isName() {
		return "", compileErr("syntax error line 1 at position %d unexpected '%s'.", def[0].Pos, def[0].Text)
	}
	col := QuoteIdent(namePart(def[0]))
	name, args, i, ok := readType(def, 1)
	if !ok {
		// CREATE TABLE t (a, b) AS SELECT: names without types.
		if len(def) == 1 {
			return col, nil
		}
		return "", compileErr("syntax error line 1 at position %d unexpected '%s'.", def[1].Pos, def[1].Text)
	}
	t, err := mapType(name, args)
	if err != nil {
		return "", compileErr("%s", err.Error())
	}
	parts := []string{col, t.duck}
	modifier := map[string]bool{
		"NOT": true, "NULL": true, "PRIMARY": true, "UNIQUE": true, "REFERENCES": true, "COMMENT": true,
		"COLLATE": true, "CONSTRAINT": true, "DEFAULT": true, "WITH": true, "MASKING": true,
		"AUTOINCREMENT": true, "IDENTITY": true, "FOREIGN": true,
	}
	for i < len(def) {
		n := def[i]
		switch {
		case n.isWord("NOT") && i+1 < len(def) && def[i+1].isWord("NULL"):
			parts = append(parts, "NOT NULL")
			i += 2
		case n.isWord("NULL"):
			i++
		case n.isWord("DEFAULT"):
			j := i + 1
			for j < len(def) && !(def[j].Kind == Word && !def[j].group && modifier[def[j].Upper()]) {
				j++
			}
			e, err := tr.expr(def[i+1 : j])
			if err != nil {
				return "", err
			}
			if t.class == kindJSON {
				vt, _ := mapType("VARIANT", nil)
				e = castTo(e, vt, false)
			}
			parts = append(parts, "DEFAULT "+e.sql)
			i = j
		case n.isWord("PRIMARY") || n.isWord("UNIQUE") || n.isWord("KEY") || n.isWord("CONSTRAINT") || n.isWord("ENFORCED") || n.isWord("RELY") || n.isWord("NORELY"):
			i++
			if n.isWord("CONSTRAINT") && i < len(def) {
				i++
			}
		case n.isWord("REFERENCES") || n.isWord("FOREIGN"):
			i = len(def)
		case n.isWord("COMMENT") || n.isWord("COLLATE"):
			i += 2
		case n.isWord("WITH") || n.isWord("MASKING") || n.isWord("TAG"):
			i = len(def)
		case n.isWord("AUTOINCREMENT") || n.isWord("IDENTITY"):
			return "", compileErr("AUTOINCREMENT and IDENTITY columns are not supported by the Snowflake emulator (column %s).", col)
		default:
			return "", compileErr("syntax error line 1 at position %d unexpected '%s'.", n.Pos, source(tr.src, def[i:i+1]))
		}
	}
	return strings.Join(parts, " "), nil
}

// createView translates CREATE VIEW and CREATE DYNAMIC TABLE, which the emulator keeps as a
// view: always fresh, so stricter than any TARGET_LAG.
func (tr *translator) createView(head string, rest []*node, dyn *Object) (string, error) {
	i := 0
	cols := ""
	if i < len(rest) && rest[i].isGroup("(") && !rest[i].startsQuery() {
		var names []string
		for _, c := range splitCommas(rest[i].kids) {
			if len(c) == 0 || !c[0].isName() {
				return "", compileErr("syntax error line 1 at position %d in the column list.", rest[i].Pos)
			}
			names = append(names, QuoteIdent(namePart(c[0])))
		}
		cols = " (" + strings.Join(names, ", ") + ")"
		i++
	}
	for i < len(rest) && !rest[i].isWord("AS") {
		n := rest[i]
		if dyn != nil && n.Kind == Word && i+2 < len(rest) && rest[i+1].isOp("=") {
			val := rest[i+2]
			switch n.Upper() {
			case "TARGET_LAG":
				dyn.TargetLag = val.Text
			case "WAREHOUSE":
				dyn.Warehouse = namePart(val)
			}
		}
		i++
	}
	if i >= len(rest) {
		return "", compileErr("syntax error line 1 at position %d unexpected end of input. AS <query> is missing.", len(tr.src))
	}
	if dyn != nil {
		if dyn.TargetLag == "" {
			return "", compileErr("Missing option(s): [TARGET_LAG].")
		}
		if dyn.Warehouse == "" {
			return "", compileErr("Missing option(s): [WAREHOUSE].")
		}
	}
	sql, err := tr.asQuery(rest[i+1:])
	if err != nil {
		return "", err
	}
	return head + cols + " AS " + sql, nil
}

// asQuery translates the query after AS in CREATE ... AS, parenthesised or not.
func (tr *translator) asQuery(q []*node) (string, error) {
	if len(q) == 1 && q[0].startsQuery() {
		q = q[0].kids
	}
	if len(q) == 0 {
		return "", compileErr("syntax error line 1 at position %d unexpected end of input.", len(tr.src))
	}
	return tr.query(q)
}
