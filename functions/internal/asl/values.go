package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ohler55/ojg/jp"
)

// decode parses JSON text into the values the interpreter works on: maps, slices, strings,
// bools, nil, int64 for integers that fit and float64 for other numbers. Those are the number
// types ojg's JSONPath filters compare (they match nothing on json.Number), and int64 keeps
// sizes and counts exact where float64 would round them.
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: data after the top-level value")
	}
	return normalize(v), nil
}

func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

// encode writes a value as compact JSON text without HTML escaping, as Step Functions does.
// Object keys come out sorted: the interpreter does not keep the input's key order.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// text is encode for messages, where a value that cannot be encoded is still worth showing.
func text(v any) string {
	b, err := encode(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// clone copies a value deeply, so that setting a ResultPath never changes a value another
// part of the execution (the context object, an earlier state's input) still holds.
func clone(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = clone(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = clone(e)
		}
		return s
	}
	return v
}

// path is a JSONPath as ASL writes it: "$..." against the state's data, or "$$..." against the
// context object.
type path struct {
	text    string
	expr    jp.Expr
	context bool
	// definite paths select at most one value; the others (wildcards, filters, slices,
	// unions, descent) select a list.
	definite bool
}

func parsePath(s string) (*path, error) {
	p := &path{text: s}
	src := s
	if strings.HasPrefix(s, "$$") {
		p.context = true
		src = s[1:]
	}
	if !strings.HasPrefix(src, "$") {
		return nil, fmt.Errorf("%q is not a JSONPath: it must start with $", s)
	}
	x, err := jp.ParseString(src)
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid JSONPath: %v", s, err)
	}
	p.expr = x
	p.definite = x.Normal()
	return p, nil
}

// parseReferencePath parses a path that must select a single value (InputPath, ResultPath,
// OutputPath, Variable, ErrorPath and the like).
func parseReferencePath(s string) (*path, error) {
	p, err := parsePath(s)
	if err != nil {
		return nil, err
	}
	if !p.definite {
		return nil, fmt.Errorf("%q must select a single value: wildcards, filters, slices, unions and .. are not allowed here", s)
	}
	return p, nil
}

// get selects the path's value. A definite path that selects nothing is not found; an
// indefinite one always yields a list, empty when nothing matches.
func (p *path) get(data, contextObject any) (any, bool) {
	root := data
	if p.context {
		root = contextObject
	}
	if !p.definite {
		found := p.expr.Get(root)
		if found == nil {
			found = []any{}
		}
		return found, true
	}
	return p.expr.FirstFound(root)
}

// set returns data with value placed at the path, creating missing objects on the way, as
// ResultPath does. data itself is not changed.
func (p *path) set(data, value any) (any, error) {
	var frags []jp.Frag
	for _, f := range p.expr {
		switch f.(type) {
		case jp.Root, jp.Bracket:
		default:
			frags = append(frags, f)
		}
	}
	if len(frags) == 0 {
		return value, nil
	}
	root := clone(data)
	cur := root
	for i, f := range frags {
		last := i == len(frags)-1
		switch f := f.(type) {
		case jp.Child:
			obj, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s is not an object", describePrefix(frags[:i]))
			}
			if last {
				obj[string(f)] = value
				break
			}
			next, ok := obj[string(f)]
			if !ok {
				next = map[string]any{}
				obj[string(f)] = next
			}
			cur = next
		case jp.Nth:
			arr, ok := cur.([]any)
			n := int(f)
			if n < 0 {
				n += len(arr)
			}
			if !ok || n < 0 || n >= len(arr) {
				return nil, fmt.Errorf("%s has no element %d", describePrefix(frags[:i]), int(f))
			}
			if last {
				arr[n] = value
				break
			}
			cur = arr[n]
		default:
			return nil, fmt.Errorf("unsupported path fragment %v", f)
		}
	}
	return root, nil
}

func describePrefix(frags []jp.Frag) string {
	x := append(jp.Expr{jp.Root('$')}, frags...)
	return x.String()
}
