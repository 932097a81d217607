package snowsql

import (
	"strings"
)

// Command is a statement about the account rather than about table data: sessions,
// transactions, databases, schemas, warehouses, roles, users, grants, SHOW and DESCRIBE.
// The emulator runs these itself.
type Command struct {
	Verb   string // BEGIN COMMIT ROLLBACK USE CREATE DROP ALTER GRANT REVOKE SHOW DESCRIBE COMMENT
	Object string // DATABASE SCHEMA WAREHOUSE ROLE USER SESSION ACCOUNT; for SHOW the listed kind
	Name   Name

	OrReplace, IfNotExists, IfExists bool
	// Props holds KEY = value settings with upper-case keys; a nested group such as
	// WORKLOAD_IDENTITY = (TYPE = AWS ARN = '...') gives WORKLOAD_IDENTITY.TYPE and
	// WORKLOAD_IDENTITY.ARN. Unquoted words are upper-cased, strings kept as written.
	Props map[string]string
	// Unset lists the properties of ALTER ... UNSET.
	Unset    []string
	RenameTo Name

	// Grants: Privileges is "ROLE" for a role grant; On is the object a privilege is on.
	Privileges  string
	Role        Name
	On          string
	GranteeKind string // USER or ROLE
	Grantee     Name

	// SHOW: LIKE pattern and IN scope (InKind is ACCOUNT, DATABASE, SCHEMA or "").
	Like   string
	InKind string
	In     Name
}

// Command reads the statement as an account command. ok is false for statements that go
// to DuckDB (queries, DML, and DDL of tables and views).
func (s *Stmt) Command() (cmd *Command, ok bool, err error) {
	n := s.nodes
	switch s.word(0) {
	case "BEGIN", "START":
		if s.word(0) == "START" && s.word(1) != "TRANSACTION" {
			return nil, false, nil
		}
		return &Command{Verb: "BEGIN"}, true, nil
	case "COMMIT", "ROLLBACK":
		return &Command{Verb: s.word(0)}, true, nil
	case "USE":
		return s.useCommand()
	case "CREATE":
		h, ok := readCreateHead(n)
		if !ok || !accountObject(h.kind) {
			return nil, false, nil
		}
		cmd := &Command{Verb: "CREATE", Object: h.kind, Name: h.name, OrReplace: h.orReplace, IfNotExists: h.ifNotExists}
		cmd.Props, err = readProps(s, n[h.next:])
		return cmd, true, err
	case "DROP":
		if !accountObject(s.word(1)) {
			return nil, false, nil
		}
		cmd := &Command{Verb: "DROP", Object: s.word(1)}
		i := 2
		if s.word(i) == "IF" && s.word(i+1) == "EXISTS" {
			cmd.IfExists = true
			i += 2
		}
		name, next, ok := readName(n, i)
		if !ok {
			return nil, true, s.syntaxAt(i)
		}
		if next < len(n) && s.word(next) != "CASCADE" && s.word(next) != "RESTRICT" {
			return nil, true, s.syntaxAt(next)
		}
		cmd.Name = name
		return cmd, true, nil
	case "ALTER":
		return s.alterCommand()
	case "GRANT", "REVOKE":
		return s.grantCommand()
	case "SHOW":
		return s.showCommand()
	case "DESCRIBE", "DESC":
		cmd := &Command{Verb: "DESCRIBE", Object: "TABLE"}
		i := 1
		switch {
		case s.word(1) == "DYNAMIC" && s.word(2) == "TABLE":
			cmd.Object, i = "DYNAMIC TABLE", 3
		case s.word(1) == "TABLE" || s.word(1) == "VIEW" || accountObject(s.word(1)):
			cmd.Object, i = s.word(1), 2
		}
		name, _, ok := readName(n, i)
		if !ok {
			return nil, true, s.syntaxAt(i)
		}
		cmd.Name = name
		return cmd, true, nil
	case "COMMENT":
		return &Command{Verb: "COMMENT"}, true, nil
	}
	return nil, false, nil
}

func accountObject(kind string) bool {
	switch kind {
	case "DATABASE", "SCHEMA", "WAREHOUSE", "ROLE", "USER":
		return true
	}
	return false
}

func (s *Stmt) syntaxAt(i int) error {
	if i >= len(s.nodes) {
		return compileErr("syntax error line 1 at position %d unexpected end of input.", len(s.Text))
	}
	return compileErr("syntax error line 1 at position %d unexpected '%s'.", s.nodes[i].Pos, source(s.Text, s.nodes[i:i+1]))
}

func (s *Stmt) useCommand() (*Command, bool, error) {
	cmd := &Command{Verb: "USE"}
	i := 1
	switch w := s.word(1); w {
	case "DATABASE", "SCHEMA", "WAREHOUSE", "ROLE":
		cmd.Object, i = w, 2
	case "SECONDARY":
		// USE SECONDARY ROLES changes which privileges apply; the emulator checks none.
		cmd.Object = "SECONDARY ROLES"
		return cmd, true, nil
	}
	name, next, ok := readName(s.nodes, i)
	if !ok || next != len(s.nodes) {
		return nil, true, s.syntaxAt(next)
	}
	if cmd.Object == "" {
		// USE db or USE db.schema.
		cmd.Object = "DATABASE"
		if len(name) == 2 {
			cmd.Object = "SCHEMA"
		}
	}
	cmd.Name = name
	return cmd, true, nil
}

// readProps reads KEY = value settings. A word without "=" (WITH, MANAGED ACCESS) is a flag.
func readProps(s *Stmt, nodes []*node) (map[string]string, error) {
	props := map[string]string{}
	var read func(prefix string, nodes []*node) error
	read = func(prefix string, nodes []*node) error {
		for i := 0; i < len(nodes); {
			n := nodes[i]
			switch {
			case n.isOp(","):
				i++
				continue
			case !n.isName():
				return compileErr("syntax error line 1 at position %d unexpected '%s'.", n.Pos, source(s.Text, nodes[i:i+1]))
			case i+1 >= len(nodes) || !nodes[i+1].isOp("="):
				if n.Upper() != "WITH" {
					props[prefix+n.Upper()] = "TRUE"
				}
				i++
				continue
			case i+2 >= len(nodes):
				return compileErr("syntax error line 1 at position %d unexpected end of input.", len(s.Text))
			}
			key := prefix + n.Upper()
			v := nodes[i+2]
			i += 3
			switch {
			case v.isGroup("("):
				if err := read(key+".", v.kids); err != nil {
					return err
				}
			case v.Kind == Word:
				name, next, _ := readName(nodes, i-1)
				props[key] = name.String()
				i = next
			default:
				props[key] = v.Text
			}
		}
		return nil
	}
	return props, read("", nodes)
}

func (s *Stmt) alterCommand() (*Command, bool, error) {
	obj := s.word(1)
	if obj == "ACCOUNT" {
		return &Command{Verb: "ALTER", Object: obj}, true, nil
	}
	if obj == "SESSION" {
		// ALTER SESSION SET name = value [, ...] or UNSET name [, ...]: the emulator acts on
		// the parameters it models (AUTOCOMMIT) and accepts the others.
		cmd := &Command{Verb: "ALTER", Object: obj}
		rest := s.nodes[2:]
		switch {
		case len(rest) > 0 && rest[0].isWord("SET"):
			props, err := readProps(s, rest[1:])
			cmd.Props = props
			return cmd, true, err
		case len(rest) > 0 && rest[0].isWord("UNSET"):
			for _, p := range splitCommas(rest[1:]) {
				if len(p) != 1 || !p[0].isName() {
					return nil, true, s.syntaxAt(3)
				}
				cmd.Unset = append(cmd.Unset, p[0].Upper())
			}
		}
		return cmd, true, nil
	}
	if !accountObject(obj) {
		return nil, false, nil
	}
	cmd := &Command{Verb: "ALTER", Object: obj}
	i := 2
	if s.word(i) == "IF" && s.word(i+1) == "EXISTS" {
		cmd.IfExists = true
		i += 2
	}
	name, next, ok := readName(s.nodes, i)
	if !ok {
		return nil, true, s.syntaxAt(i)
	}
	cmd.Name = name
	rest := s.nodes[next:]
	switch {
	case len(rest) == 0:
		return nil, true, s.syntaxAt(next)
	case rest[0].isWord("SET"):
		props, err := readProps(s, rest[1:])
		cmd.Props = props
		return cmd, true, err
	case rest[0].isWord("UNSET"):
		for _, p := range splitCommas(rest[1:]) {
			if len(p) != 1 || !p[0].isName() {
				return nil, true, s.syntaxAt(next + 1)
			}
			cmd.Unset = append(cmd.Unset, p[0].Upper())
		}
		return cmd, true, nil
	case rest[0].isWord("RENAME") && len(rest) >= 3 && rest[1].isWord("TO"):
		to, _, ok := readName(rest, 2)
		if !ok {
			return nil, true, s.syntaxAt(next + 2)
		}
		cmd.RenameTo = to
		return cmd, true, nil
	}
	// Other forms (ALTER WAREHOUSE w SUSPEND, ALTER USER u RESET PASSWORD) change nothing the
	// emulator keeps.
	return cmd, true, nil
}

func (s *Stmt) grantCommand() (*Command, bool, error) {
	verb := s.word(0)
	cmd := &Command{Verb: verb}
	to := "TO"
	if verb == "REVOKE" {
		to = "FROM"
	}
	n := s.nodes
	if s.word(1) == "ROLE" {
		role, next, ok := readName(n, 2)
		if !ok || s.word(next) != to {
			return nil, true, s.syntaxAt(next)
		}
		cmd.Privileges, cmd.Role = "ROLE", role
		return s.grantee(cmd, next+1)
	}
	on := indexWord(n, 1, "ON")
	toAt := indexWord(n, 1, to)
	if on < 0 || toAt < on {
		return nil, true, s.syntaxAt(len(n))
	}
	cmd.Privileges = strings.ToUpper(source(s.Text, n[1:on]))
	cmd.On = strings.ToUpper(source(s.Text, n[on+1:toAt]))
	return s.grantee(cmd, toAt+1)
}

func (s *Stmt) grantee(cmd *Command, i int) (*Command, bool, error) {
	switch s.word(i) {
	case "USER", "ROLE":
		cmd.GranteeKind = s.word(i)
		i++
	case "DATABASE", "APPLICATION", "SHARE":
		cmd.GranteeKind = s.word(i)
		if s.word(i+1) == "ROLE" {
			i++
		}
		i++
	default:
		cmd.GranteeKind = "ROLE"
	}
	name, _, ok := readName(s.nodes, i)
	if !ok {
		return nil, true, s.syntaxAt(i)
	}
	cmd.Grantee = name
	return cmd, true, nil
}

func (s *Stmt) showCommand() (*Command, bool, error) {
	cmd := &Command{Verb: "SHOW"}
	i := 1
	if s.word(i) == "TERSE" {
		i++
	}
	var words []string
	for i < len(s.nodes) {
		w := s.word(i)
		if w == "" || w == "LIKE" || w == "IN" || w == "TO" || w == "OF" || w == "ON" || w == "FOR" || w == "STARTS" || w == "LIMIT" {
			break
		}
		words = append(words, w)
		i++
	}
	cmd.Object = strings.Join(words, " ")
	for i < len(s.nodes) {
		switch s.word(i) {
		case "LIKE":
			if i+1 >= len(s.nodes) || s.nodes[i+1].Kind != String {
				return nil, true, s.syntaxAt(i + 1)
			}
			cmd.Like = s.nodes[i+1].Text
			i += 2
		case "IN", "TO", "OF", "ON", "FOR":
			i++
			if k := s.word(i); k == "ACCOUNT" || k == "DATABASE" || k == "SCHEMA" || k == "USER" || k == "ROLE" || k == "TABLE" || k == "WAREHOUSE" {
				cmd.InKind = k
				i++
			}
			if name, next, ok := readName(s.nodes, i); ok {
				cmd.In = name
				i = next
			}
		default:
			// STARTS WITH and LIMIT narrow a listing; the emulator lists everything.
			i = len(s.nodes)
		}
	}
	return cmd, true, nil
}
