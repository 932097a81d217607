package sfemu

// Stages and files: the grammar of the file commands (PUT, LIST, REMOVE, COPY INTO <table>),
// which snowsql does not parse: unquoted local paths, stage names and option lists.

import (
	"strings"
	"unicode"
)

// fileCommand is a parsed PUT, LIST, REMOVE or COPY INTO <table>.
type fileCommand struct {
	kind string // PUT, LIST, REMOVE or COPY
	src  string // PUT: the local path after file://
	// stage and path name the staged files: stage is "~", path the folder or file prefix.
	stage, path string
	opts        map[string]string // OPTION = value, upper-cased names, values unquoted
	pattern     string
	copy        *copySpec
}

// fileKind tells whether text is a file command and which; "" when it is not. LS and RM
// are Snowflake's short forms of LIST and REMOVE
// (https://docs.snowflake.com/en/sql-reference/sql/list,
// https://docs.snowflake.com/en/sql-reference/sql/remove).
func fileKind(text string) string {
	switch w := strings.ToUpper(firstWord(text)); w {
	case "PUT", "GET", "LIST", "REMOVE", "COPY":
		return w
	case "LS":
		return "LIST"
	case "RM":
		return "REMOVE"
	}
	return ""
}

func firstWord(text string) string {
	text = strings.TrimLeftFunc(text, unicode.IsSpace)
	end := strings.IndexFunc(text, func(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == '@' || r == '\'' })
	if end < 0 {
		return text
	}
	return text[:end]
}

// words splits a file command into words: quoted strings (quotes removed, ” unescaped),
// parenthesised groups (kept whole, parentheses included), = and plain runs.
func words(text string) ([]string, error) {
	var out []string
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';':
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(text); j++ {
				if text[j] == '\'' {
					if j+1 < len(text) && text[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(text[j])
			}
			if j >= len(text) {
				return nil, syntaxErrorAt(i, "unterminated string")
			}
			out = append(out, "'"+b.String())
			i = j + 1
		case c == '(':
			depth, j := 0, i
			for ; j < len(text); j++ {
				switch text[j] {
				case '(':
					depth++
				case ')':
					depth--
				case '\'':
					for j++; j < len(text) && text[j] != '\''; j++ {
					}
				}
				if depth == 0 {
					break
				}
			}
			if j >= len(text) {
				return nil, syntaxErrorAt(i, "unbalanced parenthesis")
			}
			out = append(out, text[i:j+1])
			i = j + 1
		case c == '=':
			out = append(out, "=")
			i++
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\n\r;=('", rune(text[j])) {
				j++
			}
			out = append(out, text[i:j])
			i = j
		}
	}
	return out, nil
}

func syntaxErrorAt(pos int, what string) *sfError {
	return newError("001003", "42000", "SQL compilation error:\nsyntax error line 1 at position %d %s.", pos, what)
}

// unquote strips the marker words puts on quoted strings.
func unquote(w string) string { return strings.TrimPrefix(w, "'") }

// parseStage reads @~[/path]. Named and table stages do not exist here.
func parseStage(w string) (stage, path string, err error) {
	w = unquote(w)
	if !strings.HasPrefix(w, "@") {
		return "", "", newError("001003", "42000", "SQL compilation error:\nsyntax error: expected a stage (@...) but got '%s'.", w)
	}
	name, rest, _ := strings.Cut(w[1:], "/")
	if name != "~" {
		return "", "", newError("002003", "02000", "SQL compilation error:\nStage '%s' does not exist or not authorized.", strings.ToUpper(name))
	}
	return "~", rest, nil
}

// parseOptions reads NAME = value pairs from ws.
func parseOptions(ws []string) (map[string]string, error) {
	opts := map[string]string{}
	for i := 0; i < len(ws); i++ {
		if i+2 >= len(ws) || ws[i+1] != "=" {
			return nil, newError("001003", "42000", "SQL compilation error:\nsyntax error: unexpected '%s'.", unquote(ws[i]))
		}
		opts[strings.ToUpper(ws[i])] = unquote(ws[i+2])
		i += 2
	}
	return opts, nil
}

// parseFileCommand parses text, a PUT, LIST, REMOVE or COPY INTO <table>.
func parseFileCommand(text string) (*fileCommand, error) {
	kind := fileKind(text)
	ws, err := words(text)
	if err != nil {
		return nil, err
	}
	cmd := &fileCommand{kind: kind}
	switch kind {
	case "PUT":
		if len(ws) < 3 {
			return nil, newError("001003", "42000", "SQL compilation error:\nsyntax error: PUT needs a local file and a stage.")
		}
		src := unquote(ws[1])
		if !strings.HasPrefix(strings.ToLower(src), "file://") {
			return nil, newError("001003", "42000", "SQL compilation error:\nsyntax error: the source of a PUT must start with file://, not '%s'.", src)
		}
		cmd.src = src[len("file://"):]
		if cmd.stage, cmd.path, err = parseStage(ws[2]); err != nil {
			return nil, err
		}
		cmd.opts, err = parseOptions(ws[3:])
	case "LIST", "REMOVE":
		if len(ws) < 2 {
			return nil, newError("001003", "42000", "SQL compilation error:\nsyntax error: %s needs a stage.", kind)
		}
		if cmd.stage, cmd.path, err = parseStage(ws[1]); err != nil {
			return nil, err
		}
		cmd.opts, err = parseOptions(ws[2:])
		cmd.pattern = cmd.opts["PATTERN"]
	case "COPY":
		cmd.copy, err = parseCopy(ws)
		if err == nil {
			cmd.stage, cmd.path, cmd.pattern = cmd.copy.stage, cmd.copy.path, cmd.copy.opts["PATTERN"]
		}
	default:
		return nil, compileError("%s is not supported by the Snowflake emulator.", strings.ToUpper(firstWord(text)))
	}
	return cmd, err
}
