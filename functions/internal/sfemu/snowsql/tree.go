package snowsql

import (
	"strings"
)

// node is a token or a bracketed group of nodes. Grouping first lets the rewriter find the
// operand of a postfix operator (a cast, a variant path) without a full expression grammar.
type node struct {
	Token
	group bool
	kids  []*node
	end   Token
}

func (n *node) isGroup(open string) bool { return n.group && n.Text == open }
func (n *node) isWord(w string) bool     { return !n.group && n.Is(w) }
func (n *node) isOp(op string) bool      { return !n.group && n.IsOp(op) }

// isName reports whether the node can be one part of an object name.
func (n *node) isName() bool { return !n.group && (n.Kind == Word || n.Kind == Quoted) }

// startsQuery reports whether a group holds a query (a subquery or a derived table).
func (n *node) startsQuery() bool {
	return n.group && len(n.kids) > 0 && (n.kids[0].isWord("SELECT") || n.kids[0].isWord("WITH"))
}

func buildTree(toks []Token, src string) ([]*node, error) {
	type frame struct {
		open  *node
		nodes []*node
	}
	stack := []frame{{}}
	for _, t := range toks {
		top := &stack[len(stack)-1]
		switch {
		case t.IsOp("(") || t.IsOp("["):
			stack = append(stack, frame{open: &node{Token: t, group: true}})
		case t.IsOp(")") || t.IsOp("]"):
			want := "("
			if t.Text == "]" {
				want = "["
			}
			if top.open == nil || top.open.Text != want {
				return nil, syntaxErrorAt(src, t.Pos, t.Text, "")
			}
			g := top.open
			g.kids = top.nodes
			g.end = t
			stack = stack[:len(stack)-1]
			parent := &stack[len(stack)-1]
			parent.nodes = append(parent.nodes, g)
		default:
			top.nodes = append(top.nodes, &node{Token: t})
		}
	}
	if len(stack) != 1 {
		open := stack[len(stack)-1].open
		return nil, syntaxErrorAt(src, len(src), "", "unexpected end of input: '"+open.Text+"' is not closed.")
	}
	return stack[0].nodes, nil
}

// splitCommas cuts a group's contents at its top-level commas.
func splitCommas(nodes []*node) [][]*node {
	if len(nodes) == 0 {
		return nil
	}
	var out [][]*node
	start := 0
	for i, n := range nodes {
		if n.isOp(",") {
			out = append(out, nodes[start:i])
			start = i + 1
		}
	}
	return append(out, nodes[start:])
}

// indexWord is the position of the first top-level word w at or after from, or -1.
func indexWord(nodes []*node, from int, w string) int {
	for i := from; i < len(nodes); i++ {
		if nodes[i].isWord(w) {
			return i
		}
	}
	return -1
}

// source is the statement text a run of nodes was read from, for error messages.
func source(src string, nodes []*node) string {
	if len(nodes) == 0 {
		return ""
	}
	last := nodes[len(nodes)-1]
	end := last.End
	if last.group {
		end = last.end.End
	}
	return strings.TrimSpace(src[nodes[0].Pos:end])
}

// unexpected is the syntax error at nodes[i], or at the end of the statement.
func (tr *translator) unexpected(nodes []*node, i int) error {
	if i >= len(nodes) {
		return compileErr("syntax error line 1 at position %d unexpected end of input.", len(tr.src))
	}
	return compileErr("syntax error line 1 at position %d unexpected '%s'.", nodes[i].Pos, source(tr.src, nodes[i:i+1]))
}
