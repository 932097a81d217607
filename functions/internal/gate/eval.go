package gate

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf8"
)

// evaluator runs a plan over records. It keeps scratch space between records, so it
// belongs to one goroutine; each Check has its own.
type evaluator struct {
	p     *plan
	data  []byte
	views []*objView // scratch per nesting level; pointers, so growing it moves no view in use
	depth int
}

// objView is an object's members resolved against the plan's key table.
type objView struct {
	members []member
	pos     []int32 // by key id: index of the member with that key, or -1
	dup     bool    // a known key appears twice
	esc     bool    // some key has an escape sequence, so ids may be wrong
	fullDup int8    // 0: not computed, 1: some key appears twice, -1: none does
}

func newEvaluator(p *plan) *evaluator {
	return &evaluator{p: p}
}

// record evaluates the root of the plan over the record the scanner accepted last.
func (e *evaluator) record(data []byte, sc *scanner) verdict {
	e.data, e.depth = data, 0
	v := e.view(sc.top)
	return e.eval(e.p.root, sc.start, sc.end, v)
}

// view prepares the objView of the next nesting level for members.
func (e *evaluator) view(members []member) *objView {
	if e.depth == len(e.views) {
		e.views = append(e.views, &objView{})
	}
	v := e.views[e.depth]
	v.members, v.dup, v.esc, v.fullDup = members, false, false, 0
	if cap(v.pos) < len(e.p.keys) {
		v.pos = make([]int32, len(e.p.keys))
	}
	v.pos = v.pos[:len(e.p.keys)]
	for k := range v.pos {
		v.pos[k] = -1
	}
	for k, m := range members {
		if m.kEsc {
			v.esc = true
			continue
		}
		// The compiler turns this lookup into one that does not copy the key.
		id, ok := e.p.keys[string(e.data[m.kStart:m.kEnd])]
		if !ok {
			continue
		}
		if v.pos[id] >= 0 {
			v.dup = true
		}
		v.pos[id] = int32(k)
	}
	return v
}

// routeValue returns the route field's value in the record last evaluated: its string
// value, or nil when the field is absent or not a string. sure is false when the bytes
// cannot tell (escaped keys, duplicate keys, an escaped value) and the record must be decoded.
func (e *evaluator) routeValue() (val []byte, sure bool) {
	v := e.views[0]
	if v.esc || v.dup {
		return nil, false
	}
	k := v.pos[e.p.route]
	if k < 0 {
		return nil, true
	}
	m := v.members[k]
	val = e.data[m.vStart:m.vEnd]
	if val[0] != '"' {
		return nil, true
	}
	if bytes.IndexByte(val, '\\') >= 0 {
		return nil, false
	}
	return val[1 : len(val)-1], true
}

// eval checks the value data[start:end] against n. obj is the value's objView when it is
// an object and the view is already built (the record itself), else nil.
func (e *evaluator) eval(n *node, start, end int, obj *objView) verdict {
	switch n.always {
	case 1:
		return valid
	case -1:
		return invalid
	}
	d := e.data[start:end]
	t := typeOf(d[0])
	res := valid
	if n.types != 0 && n.types&t == 0 {
		if t != tNumber || n.types&tInteger == 0 {
			return invalid
		}
		if !isIntLiteral(d) {
			res = unknown // 1.0 and 1e2 are integers too; the library decides
		}
	}
	if n.hasEnum {
		if res = and(res, e.enum(n, t, d)); res == invalid {
			return invalid
		}
	}
	if n.format != nil {
		switch {
		case t != tString:
			res = and(res, unknown)
		case bytes.IndexByte(d, '\\') >= 0:
			res = and(res, unknown)
		case n.dateTime:
			if !isDateTime(d[1 : len(d)-1]) {
				res = and(res, unknown) // perhaps a spelling only the library knows; it decides
			}
		case n.format.Validate(string(d[1:len(d)-1])) != nil:
			return invalid
		}
	}
	if n.ref != nil {
		if res = and(res, e.eval(n.ref, start, end, obj)); res == invalid || n.refOnly {
			return res
		}
	}
	switch t {
	case tString:
		res = and(res, e.str(n, d))
	case tNumber:
		res = and(res, e.number(n, d))
	case tObject:
		if n.objectKeywords {
			if obj == nil {
				obj = e.nested(start)
				defer func() { e.depth-- }()
			}
			res = and(res, e.object(n, obj))
		}
	case tArray:
		res = and(res, e.array(n, start))
	}
	if res == invalid {
		return invalid
	}
	return and(res, e.applicators(n, start, end, obj))
}

// nested builds the view of the object at start, one level deeper.
func (e *evaluator) nested(start int) *objView {
	e.depth++
	var members []member
	if e.depth < len(e.views) {
		members = e.views[e.depth].members[:0]
	}
	return e.view(walkObject(e.data, start, members))
}

func (e *evaluator) applicators(n *node, start, end int, obj *objView) verdict {
	res := valid
	for _, sub := range n.allOf {
		if res = and(res, e.eval(sub, start, end, obj)); res == invalid {
			return invalid
		}
	}
	if len(n.anyOf) > 0 {
		some := invalid
		for _, sub := range n.anyOf {
			switch e.eval(sub, start, end, obj) {
			case valid:
				some = valid
			case unknown:
				some = unknown
			}
			if some == valid {
				break
			}
		}
		if res = and(res, some); res == invalid {
			return invalid
		}
	}
	if len(n.oneOf) > 0 {
		matched, unsure := 0, false
		for _, sub := range n.oneOf {
			switch e.eval(sub, start, end, obj) {
			case valid:
				matched++
			case unknown:
				unsure = true
			}
		}
		switch {
		case matched > 1:
			return invalid
		case unsure:
			res = and(res, unknown)
		case matched == 0:
			return invalid
		}
	}
	if n.not != nil {
		switch e.eval(n.not, start, end, obj) {
		case valid:
			return invalid
		case unknown:
			res = and(res, unknown)
		}
	}
	if n.ifn != nil {
		switch e.eval(n.ifn, start, end, obj) {
		case valid:
			if n.then != nil {
				res = and(res, e.eval(n.then, start, end, obj))
			}
		case invalid:
			if n.els != nil {
				res = and(res, e.eval(n.els, start, end, obj))
			}
		default:
			res = and(res, unknown)
		}
	}
	return res
}

func typeOf(c byte) uint8 {
	switch c {
	case '{':
		return tObject
	case '[':
		return tArray
	case '"':
		return tString
	case 't', 'f':
		return tBool
	case 'n':
		return tNull
	}
	return tNumber
}

func isIntLiteral(d []byte) bool {
	return bytes.IndexAny(d, ".eE") < 0
}

func (e *evaluator) enum(n *node, t uint8, d []byte) verdict {
	switch t {
	case tNumber:
		if n.enumNumbers {
			return unknown
		}
		return invalid
	case tString:
		if bytes.IndexByte(d, '\\') >= 0 {
			return unknown
		}
		s := d[1 : len(d)-1]
		for _, v := range n.enum {
			if v.t == tString && string(s) == v.s {
				return valid
			}
		}
	case tBool:
		b := d[0] == 't'
		for _, v := range n.enum {
			if v.t == tBool && v.b == b {
				return valid
			}
		}
	case tNull:
		for _, v := range n.enum {
			if v.t == tNull {
				return valid
			}
		}
	}
	return invalid
}

func (e *evaluator) str(n *node, d []byte) verdict {
	if n.minLen < 0 && n.maxLen < 0 && n.pattern == nil {
		return valid
	}
	if bytes.IndexByte(d, '\\') >= 0 {
		return unknown
	}
	s := d[1 : len(d)-1]
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCount(s)
		if n.minLen >= 0 && l < n.minLen || n.maxLen >= 0 && l > n.maxLen {
			return invalid
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(string(s)) {
		return invalid
	}
	return valid
}

// number checks numeric bounds. A float64 decides when the value is clearly on one side of
// the bound; within rounding distance, or with multipleOf, the library decides with exact
// rationals.
func (e *evaluator) number(n *node, d []byte) verdict {
	if n.multipleOf {
		return unknown
	}
	if len(n.bounds) == 0 {
		return valid
	}
	f, err := strconv.ParseFloat(string(d), 64)
	if err != nil || math.IsInf(f, 0) {
		return unknown
	}
	exactValue := isIntLiteral(d) && len(d) <= 15
	res := valid
	for _, b := range n.bounds {
		var cmp int
		switch {
		case b.exact && exactValue:
			cmp = compare(f, b.f)
		case math.Abs(f-b.f) > 1e-9*math.Max(1, math.Max(math.Abs(f), math.Abs(b.f))):
			cmp = compare(f, b.f)
		default:
			res = unknown
			continue
		}
		ok := cmp > 0 || cmp == 0 && !b.exclusive
		if !b.lower {
			ok = cmp < 0 || cmp == 0 && !b.exclusive
		}
		if !ok {
			return invalid
		}
	}
	return res
}

func compare(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (e *evaluator) object(n *node, v *objView) verdict {
	if v.esc || v.dup {
		return unknown
	}
	for _, id := range n.required {
		if v.pos[id] < 0 {
			return invalid
		}
	}
	res := valid
	for _, p := range n.props {
		if k := v.pos[p.id]; k >= 0 {
			m := v.members[k]
			if res = and(res, e.eval(p.n, m.vStart, m.vEnd, nil)); res == invalid {
				return invalid
			}
		}
	}
	if n.addl != nil || n.minProps >= 0 || n.maxProps >= 0 {
		if e.hasDuplicateKeys(v) {
			return unknown
		}
	}
	if n.addl != nil {
		for _, m := range v.members {
			id, known := e.p.keys[string(e.data[m.kStart:m.kEnd])]
			if known && n.propSet != nil && n.propSet[id] {
				continue
			}
			if res = and(res, e.eval(n.addl, m.vStart, m.vEnd, nil)); res == invalid {
				return invalid
			}
		}
	}
	if n.minProps >= 0 && len(v.members) < n.minProps || n.maxProps >= 0 && len(v.members) > n.maxProps {
		return invalid
	}
	return res
}

// hasDuplicateKeys compares every pair of keys. Decoding keeps only the last of duplicate
// keys, so counts and additionalProperties are exact only without them.
func (e *evaluator) hasDuplicateKeys(v *objView) bool {
	if v.fullDup == 0 {
		v.fullDup = -1
		for a := range v.members {
			ka := e.data[v.members[a].kStart:v.members[a].kEnd]
			for _, mb := range v.members[a+1:] {
				if bytes.Equal(ka, e.data[mb.kStart:mb.kEnd]) {
					v.fullDup = 1
				}
			}
		}
	}
	return v.fullDup == 1
}

func (e *evaluator) array(n *node, start int) verdict {
	if n.items == nil && n.minItems < 0 && n.maxItems < 0 {
		return valid
	}
	// Element bounds live in the scratch of the next level, like nested members.
	e.depth++
	defer func() { e.depth-- }()
	if e.depth == len(e.views) {
		e.views = append(e.views, &objView{})
	}
	elems := walkArray(e.data, start, e.views[e.depth].members[:0])
	e.views[e.depth].members = elems
	if n.minItems >= 0 && len(elems) < n.minItems || n.maxItems >= 0 && len(elems) > n.maxItems {
		return invalid
	}
	res := valid
	if n.items != nil {
		for k := range elems {
			m := e.views[e.depth].members[k]
			if res = and(res, e.eval(n.items, m.vStart, m.vEnd, nil)); res == invalid {
				return invalid
			}
		}
	}
	return res
}
