package snowsql

// objectKind reads the object kind after DROP or ALTER (TABLE, VIEW or DYNAMIC TABLE) and
// returns the index of the node after it.
func objectKind(nodes []*node) (kind string, next int, ok bool) {
	switch {
	case len(nodes) > 1 && nodes[1].isWord("TABLE"):
		return "TABLE", 2, true
	case len(nodes) > 1 && nodes[1].isWord("VIEW"):
		return "VIEW", 2, true
	case len(nodes) > 2 && nodes[1].isWord("DYNAMIC") && nodes[2].isWord("TABLE"):
		return "DYNAMIC TABLE", 3, true
	}
	return "", 0, false
}

func (tr *translator) drop(nodes []*node) (*Translation, error) {
	kind, i, ok := objectKind(nodes)
	if !ok {
		return nil, unsupported(tr.src, nodes)
	}
	out := &Translation{}
	if i+1 < len(nodes) && nodes[i].isWord("IF") && nodes[i+1].isWord("EXISTS") {
		out.IfExists = true
		i += 2
	}
	name, next, ok := readName(nodes, i)
	if !ok {
		return nil, compileErr("syntax error line 1 at position %d unexpected end of input.", len(tr.src))
	}
	if next < len(nodes) && !(nodes[next].isWord("CASCADE") || nodes[next].isWord("RESTRICT")) {
		return nil, compileErr("syntax error line 1 at position %d unexpected '%s'.", nodes[next].Pos, nodes[next].Text)
	}
	ref, err := tr.resolve(name, "DROP")
	if err != nil {
		return nil, err
	}
	out.Drops = &Object{Kind: kind, Ref: ref}
	duckKind := "TABLE"
	if kind != "TABLE" {
		duckKind = "VIEW"
	}
	exists := ""
	if out.IfExists {
		exists = "IF EXISTS "
	}
	out.SQL = "DROP " + duckKind + " " + exists + ref.Duck()
	out.Status = ref.Table + " successfully dropped."
	return out, nil
}

func (tr *translator) truncate(nodes []*node) (*Translation, error) {
	i := 1
	if i < len(nodes) && nodes[i].isWord("TABLE") {
		i++
	}
	out := &Translation{}
	if i+1 < len(nodes) && nodes[i].isWord("IF") && nodes[i+1].isWord("EXISTS") {
		out.IfExists = true
		i += 2
	}
	name, next, ok := readName(nodes, i)
	if !ok || next != len(nodes) {
		return nil, compileErr("syntax error in TRUNCATE statement")
	}
	ref, err := tr.resolve(name, "TRUNCATE")
	if err != nil {
		return nil, err
	}
	out.Target = &ref
	out.SQL = "DELETE FROM " + ref.Duck()
	out.Status = "Statement executed successfully."
	return out, nil
}

func (tr *translator) alter(nodes []*node) (*Translation, error) {
	kind, i, ok := objectKind(nodes)
	if !ok {
		return nil, unsupported(tr.src, nodes)
	}
	out := &Translation{Status: "Statement executed successfully."}
	if i+1 < len(nodes) && nodes[i].isWord("IF") && nodes[i+1].isWord("EXISTS") {
		out.IfExists = true
		i += 2
	}
	name, next, ok := readName(nodes, i)
	if !ok {
		return nil, compileErr("syntax error in ALTER %s statement", kind)
	}
	ref, err := tr.resolve(name, "ALTER")
	if err != nil {
		return nil, err
	}
	out.Target = &ref
	rest := nodes[next:]
	if kind != "TABLE" || len(rest) == 0 {
		// Refresh, suspend, resume and settings of views and dynamic tables change nothing
		// a view in the emulator could show.
		return out, nil
	}
	exists := ""
	if out.IfExists {
		exists = "IF EXISTS "
	}
	head := "ALTER TABLE " + exists + ref.Duck() + " "
	switch {
	case rest[0].isWord("ADD"):
		j := 1
		if j < len(rest) && rest[j].isWord("COLUMN") {
			j++
		}
		ifNot := ""
		if j+2 < len(rest) && rest[j].isWord("IF") && rest[j+1].isWord("NOT") && rest[j+2].isWord("EXISTS") {
			ifNot = "IF NOT EXISTS "
			j += 3
		}
		var stmts []string
		for _, def := range splitCommas(rest[j:]) {
			c, err := tr.columnDef(def)
			if err != nil {
				return nil, err
			}
			if c != "" {
				stmts = append(stmts, head+"ADD COLUMN "+ifNot+c)
			}
		}
		if len(stmts) == 0 {
			return out, nil
		}
		out.Pre = stmts[:len(stmts)-1]
		out.SQL = stmts[len(stmts)-1]
	case rest[0].isWord("DROP"):
		j := 1
		if j < len(rest) && rest[j].isWord("COLUMN") {
			j++
		}
		ifEx := ""
		if j+1 < len(rest) && rest[j].isWord("IF") && rest[j+1].isWord("EXISTS") {
			ifEx = "IF EXISTS "
			j += 2
		}
		var stmts []string
		for _, c := range splitCommas(rest[j:]) {
			if len(c) != 1 || !c[0].isName() {
				return nil, compileErr("syntax error in ALTER TABLE ... DROP COLUMN")
			}
			stmts = append(stmts, head+"DROP COLUMN "+ifEx+QuoteIdent(namePart(c[0])))
		}
		if len(stmts) == 0 {
			return nil, compileErr("syntax error in ALTER TABLE ... DROP COLUMN")
		}
		out.Pre = stmts[:len(stmts)-1]
		out.SQL = stmts[len(stmts)-1]
	case rest[0].isWord("RENAME") && len(rest) == 5 && rest[1].isWord("COLUMN") && rest[3].isWord("TO"):
		out.SQL = head + "RENAME COLUMN " + QuoteIdent(namePart(rest[2])) + " TO " + QuoteIdent(namePart(rest[4]))
	case rest[0].isWord("RENAME") && len(rest) >= 3 && rest[1].isWord("TO"):
		to, _, ok := readName(rest, 2)
		if !ok {
			return nil, compileErr("syntax error in ALTER TABLE ... RENAME TO")
		}
		out.SQL = head + "RENAME TO " + QuoteIdent(to.Last())
	case rest[0].isWord("SET"), rest[0].isWord("UNSET"), rest[0].isWord("CLUSTER"), rest[0].isWord("SUSPEND"),
		rest[0].isWord("RESUME"), rest[0].isWord("DROP") && len(rest) > 1 && rest[1].isWord("CLUSTERING"):
	default:
		return nil, unsupported(tr.src, nodes)
	}
	return out, nil
}
