// Package snowsql reads Snowflake SQL and rewrites it into DuckDB SQL for the wire emulator.
package snowsql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the lexical class of a token.
type Kind int

// Token kinds. Keywords are not told apart from identifiers: Snowflake lets most keywords
// name columns, so the rewriter decides by position, never by a reserved-word list.
const (
	Word   Kind = iota // unquoted identifier or keyword, as written
	Quoted             // "quoted identifier", unescaped
	String             // 'string' or $$string$$, decoded
	Number             // numeric literal, as written
	Param              // bind placeholder: ? or :N
	Op                 // operator or punctuation
)

// Token is one lexical unit of a statement.
type Token struct {
	Kind Kind
	// Text is the word or number as written, the unescaped quoted name, the decoded string
	// value, the placeholder ("?" or ":3"), or the operator.
	Text string
	// Pos and End are the byte offsets of the token in the statement it was read from.
	Pos, End int
}

// Is reports whether t is the unquoted word w, ignoring case.
func (t Token) Is(w string) bool { return t.Kind == Word && strings.EqualFold(t.Text, w) }

// IsOp reports whether t is the operator or punctuation op.
func (t Token) IsOp(op string) bool { return t.Kind == Op && t.Text == op }

// Upper is the word in upper case: how Snowflake stores an unquoted identifier.
func (t Token) Upper() string { return strings.ToUpper(t.Text) }

// SyntaxError is a statement Snowflake would refuse to parse.
type SyntaxError struct {
	Line, Column int
	Near         string
	Msg          string
}

func (e *SyntaxError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("syntax error line %d at position %d %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("syntax error line %d at position %d unexpected '%s'.", e.Line, e.Column, e.Near)
}

func syntaxErrorAt(src string, pos int, near, msg string) *SyntaxError {
	line := 1 + strings.Count(src[:pos], "\n")
	col := pos - (strings.LastIndex(src[:pos], "\n") + 1)
	return &SyntaxError{Line: line, Column: col, Near: near, Msg: msg}
}

// threeCharOps and twoCharOps are matched before single characters, longest first.
var (
	threeCharOps = []string{"->>"}
	twoCharOps   = []string{"::", "||", "<=", ">=", "<>", "!=", "=>", "->"}
)

// Tokenize splits src into tokens, dropping whitespace and comments (--, //, /* */).
func Tokenize(src string) ([]Token, error) {
	var toks []Token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(src[i:], "--") || strings.HasPrefix(src[i:], "//"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				i = len(src)
			} else {
				i += end + 1
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, syntaxErrorAt(src, i, "", "unexpected end of input: unterminated comment.")
			}
			i += 2 + end + 2
		case c == '\'':
			val, n, err := readString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, Token{Kind: String, Text: val, Pos: i, End: i + n})
			i += n
		case strings.HasPrefix(src[i:], "$$"):
			end := strings.Index(src[i+2:], "$$")
			if end < 0 {
				return nil, syntaxErrorAt(src, i, "", "unexpected end of input: unterminated $$ string.")
			}
			toks = append(toks, Token{Kind: String, Text: src[i+2 : i+2+end], Pos: i, End: i + 2 + end + 2})
			i += 2 + end + 2
		case c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, syntaxErrorAt(src, i, "", "unexpected end of input: unterminated quoted identifier.")
				}
				if src[j] == '"' {
					if j+1 < len(src) && src[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			toks = append(toks, Token{Kind: Quoted, Text: b.String(), Pos: i, End: j + 1})
			i = j + 1
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1]) && !endsOperand(toks)):
			j := i
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			if j < len(src) && src[j] == '.' {
				j++
				for j < len(src) && isDigit(src[j]) {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && isDigit(src[k]) {
					for k < len(src) && isDigit(src[k]) {
						k++
					}
					j = k
				}
			}
			toks = append(toks, Token{Kind: Number, Text: src[i:j], Pos: i, End: j})
			i = j
		case isWordStart(c) || c >= utf8.RuneSelf || (c == '$' && i+1 < len(src) && (isWordPart(src[i+1]))):
			j := i + 1
			for j < len(src) && (isWordPart(src[j]) || src[j] >= utf8.RuneSelf) {
				j++
			}
			toks = append(toks, Token{Kind: Word, Text: src[i:j], Pos: i, End: j})
			i = j
		case c == '?':
			toks = append(toks, Token{Kind: Param, Text: "?", Pos: i, End: i + 1})
			i++
		case c == ':' && i+1 < len(src) && isDigit(src[i+1]) && !endsOperand(toks):
			j := i + 1
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			toks = append(toks, Token{Kind: Param, Text: src[i:j], Pos: i, End: j})
			i = j
		default:
			op := ""
			for _, o := range threeCharOps {
				if strings.HasPrefix(src[i:], o) {
					op = o
				}
			}
			if op == "" {
				for _, o := range twoCharOps {
					if strings.HasPrefix(src[i:], o) {
						op = o
						break
					}
				}
			}
			if op == "" {
				if !strings.ContainsRune("(),;.:[]{}+-*/%=<>~^&|@!", rune(c)) {
					return nil, syntaxErrorAt(src, i, string(c), "")
				}
				op = string(c)
			}
			toks = append(toks, Token{Kind: Op, Text: op, Pos: i, End: i + len(op)})
			i += len(op)
		}
	}
	return toks, nil
}

// readString decodes a single-quoted literal at src[start] with Snowflake's escapes: a doubled
// quote and the backslash sequences.
func readString(src string, start int) (string, int, error) {
	var b strings.Builder
	j := start + 1
	for {
		if j >= len(src) {
			return "", 0, syntaxErrorAt(src, start, "", "unexpected end of input: unterminated string.")
		}
		c := src[j]
		switch {
		case c == '\'' && j+1 < len(src) && src[j+1] == '\'':
			b.WriteByte('\'')
			j += 2
		case c == '\'':
			return b.String(), j + 1 - start, nil
		case c == '\\' && j+1 < len(src):
			j++
			switch e := src[j]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '0':
				b.WriteByte(0)
			case 'x':
				if j+2 < len(src) {
					if v, err := strconv.ParseUint(src[j+1:j+3], 16, 8); err == nil {
						b.WriteByte(byte(v))
						j += 2
						break
					}
				}
				b.WriteByte(e)
			case 'u':
				if j+4 < len(src) {
					if v, err := strconv.ParseUint(src[j+1:j+5], 16, 32); err == nil {
						b.WriteRune(rune(v))
						j += 4
						break
					}
				}
				b.WriteByte(e)
			default:
				b.WriteByte(e)
			}
			j++
		default:
			b.WriteByte(c)
			j++
		}
	}
}

// endsOperand reports whether the last token can end an operand, which makes a following
// ":1" a variant path step rather than a bind placeholder and ".5" a member access.
func endsOperand(toks []Token) bool {
	if len(toks) == 0 {
		return false
	}
	t := toks[len(toks)-1]
	switch t.Kind {
	case Word, Quoted:
		return !isClauseWord(t.Text)
	case Op:
		return t.Text == ")" || t.Text == "]"
	}
	return false
}

// isClauseWord lists the words after which an operand starts, so that "VALUES (:1)" or
// "WHERE x = :1" read as binds.
func isClauseWord(w string) bool {
	switch strings.ToUpper(w) {
	case "SELECT", "WHERE", "AND", "OR", "NOT", "VALUES", "SET", "ON", "WHEN", "THEN", "ELSE",
		"IN", "IS", "LIKE", "ILIKE", "BETWEEN", "HAVING", "BY", "LIMIT", "OFFSET", "RETURN", "CASE":
		return true
	}
	return false
}

func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isWordStart(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isWordPart(c byte) bool  { return isWordStart(c) || isDigit(c) || c == '$' }

// Split cuts a script into statements at top-level semicolons, keeping each statement's
// source text (comments included) without the semicolon. Empty statements are dropped.
func Split(script string) ([]string, error) {
	toks, err := Tokenize(script)
	if err != nil {
		return nil, err
	}
	var out []string
	start := -1
	for _, t := range toks {
		if t.IsOp(";") {
			if start >= 0 {
				out = append(out, strings.TrimSpace(script[start:t.Pos]))
			}
			start = -1
			continue
		}
		if start < 0 {
			start = t.Pos
		}
	}
	if start >= 0 {
		out = append(out, strings.TrimSpace(script[start:]))
	}
	return out, nil
}

// CountStatements is the number of non-empty statements in sqlText.
func CountStatements(sqlText string) (int, error) {
	stmts, err := Split(sqlText)
	return len(stmts), err
}
