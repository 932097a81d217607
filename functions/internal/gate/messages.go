package gate

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// The schema library's messages are written for schema authors ("at '': missing property
// 'amount'" and the failing keyword's path, /then/required). A report is read by the person
// who sent the file, so each error is said as a sentence about the record's fields:
// "`amount` is required when `action` is `refund`".

// plainMessage says one leaf error of the library in words. root is the compiled schema, to
// find the condition of an if/then; instance is the decoded record.
func plainMessage(root *jsonschema.Schema, instance any, e *jsonschema.ValidationError) string {
	field := fieldName(e.InstanceLocation)
	var msg string
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		names := make([]string, len(k.Missing))
		for i, m := range k.Missing {
			names[i] = "`" + joinField(e.InstanceLocation, m) + "`"
		}
		if len(names) == 1 {
			msg = names[0] + " is required"
		} else {
			msg = strings.Join(names, ", ") + " are required"
		}
	case *kind.Type:
		wants := make([]string, len(k.Want))
		for i, w := range k.Want {
			wants[i] = withArticle(w)
		}
		msg = fmt.Sprintf("%s must be %s, not %s", field, strings.Join(wants, " or "), withArticle(k.Got))
	case *kind.Enum:
		wants := make([]string, len(k.Want))
		for i, w := range k.Want {
			wants[i] = display(w)
		}
		msg = fmt.Sprintf("%s must be one of %s, not %s", field, strings.Join(wants, ", "), display(k.Got))
	case *kind.Const:
		msg = fmt.Sprintf("%s must be %s, not %s", field, display(k.Want), display(k.Got))
	case *kind.Format:
		msg = fmt.Sprintf("%s must be %s, not %s", field, formatName(k.Want), display(k.Got))
		if k.Err != nil {
			msg += " (" + k.Err.Error() + ")"
		}
	case *kind.Minimum:
		msg = fmt.Sprintf("%s must be at least %s, not %s", field, rat(k.Want), rat(k.Got))
	case *kind.Maximum:
		msg = fmt.Sprintf("%s must be at most %s, not %s", field, rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMinimum:
		msg = fmt.Sprintf("%s must be greater than %s, not %s", field, rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMaximum:
		msg = fmt.Sprintf("%s must be less than %s, not %s", field, rat(k.Want), rat(k.Got))
	case *kind.MinLength:
		if k.Want == 1 {
			msg = field + " must not be empty"
		} else {
			msg = fmt.Sprintf("%s must be at least %d characters long, not %d", field, k.Want, k.Got)
		}
	case *kind.MaxLength:
		msg = fmt.Sprintf("%s must be at most %d characters long, not %d", field, k.Want, k.Got)
	case *kind.Pattern:
		msg = fmt.Sprintf("%s must match the pattern %s, not %s", field, k.Want, display(k.Got))
	case *kind.AdditionalProperties:
		names := make([]string, len(k.Properties))
		for i, p := range k.Properties {
			names[i] = "`" + joinField(e.InstanceLocation, p) + "`"
		}
		msg = fmt.Sprintf("%s is not allowed here", strings.Join(names, ", "))
	case *kind.FalseSchema:
		msg = field + " is not allowed here"
	default:
		// The library's own words, about the field; no keyword path. Without a location the
		// library writes no pointer to strip, so no key's escaping or quoting can leave one.
		bare := jsonschema.ValidationError{ErrorKind: e.ErrorKind}
		msg = fmt.Sprintf("%s: %s", field, strings.TrimPrefix(bare.Error(), "at '': "))
	}
	return msg + condition(root, instance, e)
}

// condition says under which condition a rule applies, when the failing keyword sits in the
// then (or else) branch of an if: " when `action` is `refund`", naming the values the record
// has for the fields the if looks at.
func condition(root *jsonschema.Schema, instance any, e *jsonschema.ValidationError) string {
	_, frag, _ := strings.Cut(e.SchemaURL, "#")
	tokens := strings.Split(strings.TrimPrefix(frag, "/"), "/")
	if frag == "" || len(tokens) == 0 {
		return ""
	}
	last := tokens[len(tokens)-1]
	if last != "then" && last != "else" {
		return ""
	}
	parent := navigate(root, tokens[:len(tokens)-1])
	if parent == nil || parent.If == nil || len(parent.If.Properties) == 0 {
		return ""
	}
	obj, _ := lookup(instance, e.InstanceLocation).(map[string]any)
	names := make([]string, 0, len(parent.If.Properties))
	for name := range parent.If.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	var parts []string
	for _, name := range names {
		v, ok := obj[name]
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("`%s` is %s", joinField(e.InstanceLocation, name), displayCode(v)))
	}
	if len(parts) == 0 {
		return ""
	}
	return " when " + strings.Join(parts, " and ")
}

// navigate follows a JSON pointer through the compiled schema, for the keywords that hold
// subschemas by name or index; nil when the pointer goes elsewhere.
func navigate(s *jsonschema.Schema, tokens []string) *jsonschema.Schema {
	for i := 0; s != nil && i < len(tokens); i++ {
		tok := pointerUnescaper.Replace(tokens[i])
		next := func() (string, bool) {
			if i+1 >= len(tokens) {
				return "", false
			}
			i++
			return pointerUnescaper.Replace(tokens[i]), true
		}
		index := func(list []*jsonschema.Schema) *jsonschema.Schema {
			n, ok := next()
			j, err := strconv.Atoi(n)
			if !ok || err != nil || j < 0 || j >= len(list) {
				return nil
			}
			return list[j]
		}
		switch tok {
		case "":
			continue
		case "properties":
			n, ok := next()
			if !ok {
				return nil
			}
			s = s.Properties[n]
		case "if":
			s = s.If
		case "then":
			s = s.Then
		case "else":
			s = s.Else
		case "not":
			s = s.Not
		case "allOf":
			s = index(s.AllOf)
		case "anyOf":
			s = index(s.AnyOf)
		case "oneOf":
			s = index(s.OneOf)
		case "items":
			item, _ := s.Items.(*jsonschema.Schema)
			s = item
		default:
			return nil
		}
	}
	return s
}

// lookup returns the value at a location in the decoded record.
func lookup(v any, loc []string) any {
	for _, tok := range loc {
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// fieldName names the field at loc for a sentence: "`amount`", "`items.2.sku`", or "the
// record" for the record itself.
func fieldName(loc []string) string {
	if len(loc) == 0 {
		return "the record"
	}
	return "`" + strings.Join(loc, ".") + "`"
}

func joinField(loc []string, name string) string {
	return strings.Join(append(append([]string{}, loc...), name), ".")
}

func withArticle(jsonType string) string {
	switch jsonType {
	case "null":
		return "null"
	case "object", "array", "integer":
		return "an " + jsonType
	}
	return "a " + jsonType
}

func formatName(format string) string {
	switch format {
	case "date-time":
		return "an RFC 3339 date-time such as 2026-11-01T10:00:00Z"
	case "date":
		return "a date such as 2026-11-01"
	case "email":
		return "an email address"
	case "uuid":
		return "a UUID"
	}
	return "a valid " + format
}

// display shows a value of the record as JSON, strings in single quotes as the library does.
func display(v any) string {
	if s, ok := v.(string); ok {
		return "'" + s + "'"
	}
	return displayCode(v)
}

// displayCode shows a value as code: `refund`, `12.5`.
func displayCode(v any) string {
	if s, ok := v.(string); ok {
		return "`" + s + "`"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return "`" + string(b) + "`"
}

// rat writes a number of the schema or the record exactly: 9999999999999999.99 stays that,
// where a float64 would print 1e16 and make the message contradict itself.
func rat(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	scaled := new(big.Rat).Set(r)
	ten := big.NewRat(10, 1)
	for digits := 1; digits <= 40; digits++ {
		if scaled.Mul(scaled, ten).IsInt() {
			return r.FloatString(digits)
		}
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
