package asl

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// call is a parsed intrinsic function call such as States.Format('{}', $.a).
type call struct {
	name string
	args []arg
	text string
}

// arg is one argument of an intrinsic: a literal, a path or a nested call.
type arg struct {
	literal any
	// raw keeps a string literal with its escapes, which States.Format needs to tell an
	// escaped brace from a placeholder.
	raw  string
	path *path
	call *call
}

// intrinsic describes a supported function: how many arguments it takes (max < 0: any
// number) and what it does.
type intrinsic struct {
	min, max int
	fn       func(args []any, raw []string) (any, error)
}

var intrinsics map[string]intrinsic

func init() {
	intrinsics = map[string]intrinsic{
		"States.Format":       {1, -1, intrinsicFormat},
		"States.StringToJson": {1, 1, intrinsicStringToJSON},
		"States.JsonToString": {1, 1, intrinsicJSONToString},
		"States.Array":        {0, -1, func(a []any, _ []string) (any, error) { return append([]any{}, a...), nil }},
		"States.ArrayGetItem": {2, 2, intrinsicArrayGetItem},
		"States.ArrayLength":  {1, 1, intrinsicArrayLength},
		"States.ArrayContains": {2, 2, func(a []any, _ []string) (any, error) {
			arr, ok := a[0].([]any)
			if !ok {
				return nil, fmt.Errorf("the first argument is %s, not an array", text(a[0]))
			}
			want := text(a[1])
			for _, e := range arr {
				if text(e) == want {
					return true, nil
				}
			}
			return false, nil
		}},
		"States.MathAdd":      {2, 2, intrinsicMathAdd},
		"States.StringSplit":  {2, 2, intrinsicStringSplit},
		"States.Base64Encode": {1, 1, intrinsicBase64Encode},
		"States.Base64Decode": {1, 1, intrinsicBase64Decode},
		"States.UUID":         {0, 0, func([]any, []string) (any, error) { return newUUID(), nil }},
	}
}

// isIntrinsic reports whether a ".$" value is an intrinsic call rather than a path.
func isIntrinsic(s string) bool { return strings.HasPrefix(s, "States.") }

// parseCall parses an intrinsic call and checks the function and its argument count.
func parseCall(s string) (*call, error) {
	p := &callParser{src: s}
	c, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("intrinsic %q: %v", s, err)
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("intrinsic %q: unexpected %q after the call", s, p.src[p.pos:])
	}
	return c, nil
}

type callParser struct {
	src string
	pos int
}

func (p *callParser) skipSpace() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
}

func (p *callParser) call() (*call, error) {
	start := p.pos
	open := strings.IndexByte(p.src[p.pos:], '(')
	if open < 0 {
		return nil, fmt.Errorf("missing (")
	}
	name := strings.TrimSpace(p.src[p.pos : p.pos+open])
	spec, ok := intrinsics[name]
	if !ok {
		return nil, fmt.Errorf("function %s is not supported", name)
	}
	p.pos += open + 1
	c := &call{name: name}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
	} else {
		for {
			p.skipSpace()
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.skipSpace()
			if p.pos >= len(p.src) {
				return nil, fmt.Errorf("missing )")
			}
			if p.src[p.pos] == ')' {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return nil, fmt.Errorf("expected , or ) at %q", p.src[p.pos:])
			}
			p.pos++
		}
	}
	if len(c.args) < spec.min || (spec.max >= 0 && len(c.args) > spec.max) {
		return nil, fmt.Errorf("%s takes %s, not %d", name, arity(spec), len(c.args))
	}
	c.text = p.src[start:p.pos]
	return c, nil
}

func arity(s intrinsic) string {
	switch {
	case s.max < 0:
		return fmt.Sprintf("at least %d arguments", s.min)
	case s.min == s.max:
		return fmt.Sprintf("%d arguments", s.min)
	}
	return fmt.Sprintf("%d to %d arguments", s.min, s.max)
}

func (p *callParser) arg() (arg, error) {
	rest := p.src[p.pos:]
	switch {
	case strings.HasPrefix(rest, "'"):
		return p.stringLiteral()
	case strings.HasPrefix(rest, "$"):
		end := p.pathEnd()
		pa, err := parsePath(strings.TrimSpace(p.src[p.pos:end]))
		if err != nil {
			return arg{}, err
		}
		p.pos = end
		return arg{path: pa}, nil
	case strings.HasPrefix(rest, "States."):
		c, err := p.call()
		if err != nil {
			return arg{}, err
		}
		return arg{call: c}, nil
	}
	end := p.pos
	for end < len(p.src) && p.src[end] != ',' && p.src[end] != ')' {
		end++
	}
	word := strings.TrimSpace(p.src[p.pos:end])
	p.pos = end
	switch word {
	case "null":
		return arg{literal: nil}, nil
	case "true", "false":
		return arg{literal: word == "true"}, nil
	}
	if i, err := strconv.ParseInt(word, 10, 64); err == nil {
		return arg{literal: i}, nil
	}
	if f, err := strconv.ParseFloat(word, 64); err == nil {
		return arg{literal: f}, nil
	}
	return arg{}, fmt.Errorf("argument %q is neither a quoted string, a number, null, a path nor a call", word)
}

// stringLiteral reads '...', where \' \{ \} and \\ are escapes.
func (p *callParser) stringLiteral() (arg, error) {
	p.pos++ // opening quote
	var val, raw strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch c {
		case '\\':
			if p.pos+1 >= len(p.src) {
				return arg{}, fmt.Errorf("string literal ends in a lone backslash")
			}
			next := p.src[p.pos+1]
			raw.WriteByte(c)
			raw.WriteByte(next)
			val.WriteByte(next)
			p.pos += 2
			continue
		case '\'':
			p.pos++
			return arg{literal: val.String(), raw: raw.String()}, nil
		}
		raw.WriteByte(c)
		val.WriteByte(c)
		p.pos++
	}
	return arg{}, fmt.Errorf("unterminated string literal")
}

// pathEnd finds where a path argument stops: at a comma or closing parenthesis outside
// brackets and quotes.
func (p *callParser) pathEnd() int {
	depth, quote := 0, byte(0)
	for i := p.pos; i < len(p.src); i++ {
		c := p.src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[' || c == '(':
			depth++
		case c == ']' || (c == ')' && depth > 0):
			depth--
		case depth == 0 && (c == ',' || c == ')'):
			return i
		}
	}
	return len(p.src)
}

// eval runs the call. Missing paths and failing functions are States.Runtime errors.
func (c *call) eval(data, contextObject any) (any, error) {
	vals := make([]any, len(c.args))
	raws := make([]string, len(c.args))
	for i, a := range c.args {
		switch {
		case a.path != nil:
			v, ok := a.path.get(data, contextObject)
			if !ok {
				return nil, fmt.Errorf("The function %s: the JSONPath %s could not be found in the input %s", c.text, a.path.text, text(data))
			}
			vals[i] = v
			if s, ok := v.(string); ok {
				raws[i] = s
			}
		case a.call != nil:
			v, err := a.call.eval(data, contextObject)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		default:
			vals[i] = a.literal
			raws[i] = a.raw
		}
	}
	v, err := intrinsics[c.name].fn(vals, raws)
	if err != nil {
		return nil, fmt.Errorf("The function %s had the following error: %v", c.text, err)
	}
	return v, nil
}

func intrinsicFormat(args []any, raw []string) (any, error) {
	if _, ok := args[0].(string); !ok {
		return nil, fmt.Errorf("the template is %s, not a string", text(args[0]))
	}
	tmpl, rest := raw[0], args[1:]
	var out strings.Builder
	n := 0
	for i := 0; i < len(tmpl); i++ {
		switch c := tmpl[i]; {
		case c == '\\' && i+1 < len(tmpl):
			i++
			out.WriteByte(tmpl[i])
		case c == '{' && i+1 < len(tmpl) && tmpl[i+1] == '}':
			if n >= len(rest) {
				return nil, fmt.Errorf("the template has more {} than the %d arguments given", len(rest))
			}
			switch v := rest[n].(type) {
			case string:
				out.WriteString(v)
			case map[string]any, []any:
				return nil, fmt.Errorf("argument %d is %s; only strings, numbers, booleans and null can be formatted", n+2, text(v))
			default:
				out.WriteString(text(v))
			}
			n++
			i++
		default:
			out.WriteByte(c)
		}
	}
	if n != len(rest) {
		return nil, fmt.Errorf("the template has %d {} for %d arguments", n, len(rest))
	}
	return out.String(), nil
}

func intrinsicStringToJSON(args []any, _ []string) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("the argument is %s, not a string", text(args[0]))
	}
	return decode([]byte(s))
}

func intrinsicJSONToString(args []any, _ []string) (any, error) {
	b, err := encode(args[0])
	return string(b), err
}

func intrinsicArrayGetItem(args []any, _ []string) (any, error) {
	arr, ok := args[0].([]any)
	if !ok {
		return nil, fmt.Errorf("the first argument is %s, not an array", text(args[0]))
	}
	i, ok := args[1].(int64)
	if !ok || i < 0 || int(i) >= len(arr) {
		return nil, fmt.Errorf("index %s is not within the array of %d items", text(args[1]), len(arr))
	}
	return arr[i], nil
}

func intrinsicArrayLength(args []any, _ []string) (any, error) {
	arr, ok := args[0].([]any)
	if !ok {
		return nil, fmt.Errorf("the argument is %s, not an array", text(args[0]))
	}
	return int64(len(arr)), nil
}

func intrinsicMathAdd(args []any, _ []string) (any, error) {
	a, okA := args[0].(int64)
	b, okB := args[1].(int64)
	if !okA || !okB {
		return nil, fmt.Errorf("arguments %s and %s must be integers", text(args[0]), text(args[1]))
	}
	return a + b, nil
}

func intrinsicStringSplit(args []any, _ []string) (any, error) {
	s, okS := args[0].(string)
	seps, okD := args[1].(string)
	if !okS || !okD {
		return nil, fmt.Errorf("both arguments must be strings")
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(seps, r) })
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func intrinsicBase64Encode(args []any, _ []string) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("the argument is %s, not a string", text(args[0]))
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func intrinsicBase64Decode(args []any, _ []string) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("the argument is %s, not a string", text(args[0]))
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
