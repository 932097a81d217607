package asl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// template is a payload template (Parameters, ResultSelector): JSON in which a key ending in
// ".$" takes its value from a path or an intrinsic call.
type template struct {
	literal any
	fields  []templateField // set when the template is an object
	items   []*template     // set when the template is an array
	kind    int
}

const (
	tmplLiteral = iota
	tmplObject
	tmplArray
)

type templateField struct {
	key   string // without ".$"
	field string // as written, for messages
	value *template
	path  *path
	call  *call
}

// parseTemplate compiles a template; where names the field for errors ("Parameters").
func parseTemplate(raw json.RawMessage, where string) (*template, error) {
	v, err := decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	return compileTemplate(v, where)
}

func compileTemplate(v any, where string) (*template, error) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := &template{kind: tmplObject}
		for _, k := range keys {
			f := templateField{key: k, field: where + "." + k}
			if name, ok := strings.CutSuffix(k, ".$"); ok {
				f.key = name
				s, ok := t[k].(string)
				if !ok {
					return nil, fmt.Errorf("%s: the value of a key ending in .$ must be a path or an intrinsic function, not %s", f.field, text(t[k]))
				}
				var err error
				if isIntrinsic(s) {
					f.call, err = parseCall(s)
				} else {
					f.path, err = parsePath(s)
				}
				if err != nil {
					return nil, fmt.Errorf("%s: %v", f.field, err)
				}
			} else {
				sub, err := compileTemplate(t[k], f.field)
				if err != nil {
					return nil, err
				}
				f.value = sub
			}
			out.fields = append(out.fields, f)
		}
		return out, nil
	case []any:
		out := &template{kind: tmplArray}
		for i, e := range t {
			sub, err := compileTemplate(e, fmt.Sprintf("%s[%d]", where, i))
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, sub)
		}
		return out, nil
	}
	return &template{kind: tmplLiteral, literal: v}, nil
}

// has reports whether the object template sets key, statically or with ".$".
func (t *template) has(key string) bool {
	for _, f := range t.fields {
		if f.key == key {
			return true
		}
	}
	return false
}

// eval builds the template's value from data. A path that selects nothing fails the state
// with States.Runtime, as in Step Functions.
func (t *template) eval(data, contextObject any) (any, error) {
	switch t.kind {
	case tmplObject:
		out := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			switch {
			case f.path != nil:
				v, ok := f.path.get(data, contextObject)
				if !ok {
					input := data
					if f.path.context {
						input = contextObject
					}
					return nil, fmt.Errorf("The JSONPath '%s' specified for the field '%s.$' could not be found in the input '%s'", f.path.text, f.key, text(input))
				}
				out[f.key] = clone(v)
			case f.call != nil:
				v, err := f.call.eval(data, contextObject)
				if err != nil {
					return nil, err
				}
				out[f.key] = v
			default:
				v, err := f.value.eval(data, contextObject)
				if err != nil {
					return nil, err
				}
				out[f.key] = v
			}
		}
		return out, nil
	case tmplArray:
		out := make([]any, len(t.items))
		for i, item := range t.items {
			v, err := item.eval(data, contextObject)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return clone(t.literal), nil
}
