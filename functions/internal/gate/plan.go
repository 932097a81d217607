package gate

import (
	"encoding/json"
	"math"
	"math/big"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The fast path.
//
// The schema library validates decoded values (map[string]any and friends). Decoding a
// record into them and walking the compiled schema costs about 6 µs and 76 allocations per
// small record, ten times what reading the record costs; the gate would run at a tenth of
// the speed the bytes arrive. So the gate translates the compiled schema into a plan: the
// same keywords, checked directly on the record's bytes. The plan knows a subset of JSON
// Schema (types, enum/const of scalars, formats, string lengths and patterns, numeric
// bounds, properties/required/additionalProperties, items, $ref, allOf/anyOf/oneOf/not,
// if/then/else) and answers valid, invalid or unknown. It answers unknown whenever exactness
// would cost (escaped keys, duplicate keys, numbers at a bound, numeric enums); the library
// then decides. A schema with a keyword the plan does not know gets no plan at all, and
// every record goes through the library: slower, never different.
//
// The library stays the authority: a record the plan does not call valid is validated by
// the library, which also writes the finding's message. Tests compare plan and library on
// generated and fuzzed records.

// verdict is the plan's answer for one value.
type verdict int8

const (
	invalid verdict = iota
	valid
	unknown
)

// and combines the verdicts of two conditions that must both hold.
func and(a, b verdict) verdict {
	switch {
	case a == invalid || b == invalid:
		return invalid
	case a == unknown || b == unknown:
		return unknown
	}
	return valid
}

// JSON types as a bit set; integer is a number whose value is whole.
const (
	tNull uint8 = 1 << iota
	tBool
	tNumber
	tInteger
	tString
	tArray
	tObject
)

var typeBits = map[string]uint8{
	"null": tNull, "boolean": tBool, "number": tNumber, "integer": tInteger,
	"string": tString, "array": tArray, "object": tObject,
}

// scalar is an enum or const value the plan compares without decoding.
type scalar struct {
	t uint8 // tString, tBool or tNull
	s string
	b bool
}

// bound is a numeric limit: minimum, maximum or their exclusive forms.
type bound struct {
	rat       *big.Rat
	f         float64
	exact     bool // f is exactly rat, an integer of at most 2^53
	lower     bool // a minimum (value >= or > rat)
	exclusive bool
}

// node is the plan for one schema.
type node struct {
	always int8 // 1: the schema true, -1: the schema false
	types  uint8

	enum        []scalar
	hasEnum     bool
	enumNumbers bool // the enum holds numbers, which the plan leaves to the library

	format         *jsonschema.Format
	dateTime       bool // format is the library's own date-time, which isDateTime checks
	minLen, maxLen int  // -1 when absent
	pattern        jsonschema.Regexp

	bounds     []bound
	multipleOf bool

	required           []int
	props              []prop
	propSet            []bool // by key id: a property of this node
	addl               *node  // additionalProperties; nil when anything goes
	minProps, maxProps int
	objectKeywords     bool

	items              *node
	minItems, maxItems int

	ref     *node
	refOnly bool // drafts before 2019 ignore the siblings of $ref after format
	allOf   []*node
	anyOf   []*node
	oneOf   []*node
	not     *node
	ifn     *node
	then    *node
	els     *node
}

type prop struct {
	id int
	n  *node
}

// plan is a compiled schema plus the key table of every property name it mentions.
type plan struct {
	root  *node
	keys  map[string]int
	route int // key id of the route field, or -1
}

type planner struct {
	keys    map[string]int
	memo    map[*jsonschema.Schema]*node
	onStack map[*jsonschema.Schema]bool
	ok      bool
	nodes   []*node
}

// compilePlan returns the plan for sch, or nil when sch uses a keyword the plan does not know.
func compilePlan(sch *jsonschema.Schema, routeField string) *plan {
	p := &planner{
		keys:    map[string]int{},
		memo:    map[*jsonschema.Schema]*node{},
		onStack: map[*jsonschema.Schema]bool{},
		ok:      true,
	}
	root := p.node(sch)
	if !p.ok {
		return nil
	}
	pl := &plan{root: root, keys: p.keys, route: -1}
	if routeField != "" {
		pl.route = p.key(routeField)
	}
	// propSet is sized once every key is known.
	for _, n := range p.nodes {
		if len(n.props) > 0 {
			n.propSet = make([]bool, len(p.keys))
			for _, pr := range n.props {
				n.propSet[pr.id] = true
			}
		}
	}
	return pl
}

func (p *planner) key(name string) int {
	id, ok := p.keys[name]
	if !ok {
		id = len(p.keys)
		p.keys[name] = id
	}
	return id
}

func (p *planner) node(s *jsonschema.Schema) *node {
	if s == nil || !p.ok {
		return nil
	}
	if n, ok := p.memo[s]; ok {
		return n
	}
	if p.onStack[s] {
		// A recursive schema. Evaluating it would be fine as long as each step goes one
		// level into the value, but a plain reference cycle would not end; rather than tell
		// the two apart, leave recursive schemas to the library.
		p.ok = false
		return nil
	}
	p.onStack[s] = true
	defer delete(p.onStack, s)

	if s.RecursiveRef != nil || s.DynamicRef != nil || s.PropertyNames != nil ||
		len(s.PatternProperties) > 0 || len(s.Dependencies) > 0 || len(s.DependentRequired) > 0 ||
		len(s.DependentSchemas) > 0 || s.UnevaluatedProperties != nil || s.UnevaluatedItems != nil ||
		s.UniqueItems || s.Contains != nil || s.MinContains != nil || s.MaxContains != nil ||
		s.AdditionalItems != nil || len(s.PrefixItems) > 0 || s.ContentEncoding != nil ||
		s.ContentMediaType != nil || s.ContentSchema != nil || len(s.Extensions) > 0 {
		p.ok = false
		return nil
	}

	n := &node{minLen: -1, maxLen: -1, minProps: -1, maxProps: -1, minItems: -1, maxItems: -1}
	p.nodes = append(p.nodes, n)
	if s.Bool != nil {
		n.always = -1
		if *s.Bool {
			n.always = 1
		}
		p.memo[s] = n
		return n
	}
	if s.Types != nil {
		for _, t := range s.Types.ToStrings() {
			n.types |= typeBits[t]
		}
	}
	if s.Enum != nil {
		p.enum(n, s.Enum.Values)
	}
	if s.Const != nil {
		p.enum(n, []any{*s.Const})
	}
	n.format = s.Format
	n.dateTime = s.Format != nil && s.Format == builtinDateTime()
	n.minLen, n.maxLen = intOr(s.MinLength), intOr(s.MaxLength)
	n.pattern = s.Pattern

	for _, b := range []struct {
		r           *big.Rat
		lower, excl bool
	}{{s.Minimum, true, false}, {s.Maximum, false, false}, {s.ExclusiveMinimum, true, true}, {s.ExclusiveMaximum, false, true}} {
		if b.r != nil {
			f, exact := b.r.Float64()
			exact = exact && b.r.IsInt() && math.Abs(f) <= 1<<53
			n.bounds = append(n.bounds, bound{rat: b.r, f: f, exact: exact, lower: b.lower, exclusive: b.excl})
		}
	}
	n.multipleOf = s.MultipleOf != nil

	for _, name := range s.Required {
		n.required = append(n.required, p.key(name))
	}
	for name, child := range s.Properties {
		n.props = append(n.props, prop{id: p.key(name), n: p.node(child)})
	}
	switch a := s.AdditionalProperties.(type) {
	case bool:
		if !a {
			n.addl = &node{always: -1}
		}
	case *jsonschema.Schema:
		n.addl = p.node(a)
	}
	n.minProps, n.maxProps = intOr(s.MinProperties), intOr(s.MaxProperties)
	n.objectKeywords = len(n.required) > 0 || len(n.props) > 0 || n.addl != nil || n.minProps >= 0 || n.maxProps >= 0

	switch it := s.Items.(type) {
	case *jsonschema.Schema:
		n.items = p.node(it)
	case nil:
	default:
		p.ok = false // the tuple form of items
	}
	if s.Items2020 != nil {
		n.items = p.node(s.Items2020)
	}
	n.minItems, n.maxItems = intOr(s.MinItems), intOr(s.MaxItems)

	n.ref = p.node(s.Ref)
	n.refOnly = s.Ref != nil && s.DraftVersion < 2019
	for _, sub := range s.AllOf {
		n.allOf = append(n.allOf, p.node(sub))
	}
	for _, sub := range s.AnyOf {
		n.anyOf = append(n.anyOf, p.node(sub))
	}
	for _, sub := range s.OneOf {
		n.oneOf = append(n.oneOf, p.node(sub))
	}
	n.not = p.node(s.Not)
	n.ifn, n.then, n.els = p.node(s.If), p.node(s.Then), p.node(s.Else)
	p.memo[s] = n
	return n
}

// enum notes enum or const values. Objects and arrays among them would need a deep
// comparison; the plan leaves such schemas to the library.
func (p *planner) enum(n *node, values []any) {
	if n.hasEnum {
		// const and enum together: both must hold; rare enough to leave to the library.
		p.ok = false
		return
	}
	n.hasEnum = true
	for _, v := range values {
		switch v := v.(type) {
		case string:
			n.enum = append(n.enum, scalar{t: tString, s: v})
		case bool:
			n.enum = append(n.enum, scalar{t: tBool, b: v})
		case nil:
			n.enum = append(n.enum, scalar{t: tNull})
		case json.Number, float64, int, int64:
			n.enumNumbers = true
		default:
			p.ok = false
		}
	}
}

func intOr(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}
