package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
)

// kitchenSink uses every keyword the plan knows, so the differential tests reach each.
const kitchenSink = `{
	"$schema": "https://json-schema.org/draft/2020-12/schema",
	"type": "object",
	"required": ["id"],
	"properties": {
		"id": {"type": "integer", "minimum": 1, "exclusiveMaximum": 1000},
		"name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-zé]+$"},
		"tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 1, "maxItems": 3},
		"kind": {"const": "x"},
		"flag": {"type": ["boolean", "null"]},
		"nested": {"type": "object", "properties": {"v": {"type": "number", "maximum": 1.5}}, "required": ["v"], "additionalProperties": false},
		"any": {"anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}]},
		"one": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 10}]},
		"no": {"not": {"type": "string"}},
		"when": {"$ref": "#/$defs/when"},
		"n": {"enum": [1, 2, "x", null, true]},
		"mult": {"multipleOf": 0.5},
		"ip": {"format": "ipv4"}
	},
	"$defs": {"when": {"type": "string", "format": "date-time"}},
	"minProperties": 1,
	"maxProperties": 8,
	"allOf": [{"if": {"required": ["kind"]}, "then": {"required": ["name"]}, "else": {"properties": {"name": {"maxLength": 3}}}}],
	"additionalProperties": {"type": ["string", "number", "boolean", "object", "array", "null"], "maxLength": 4}
}`

func compiled(t testing.TB, name, doc string) (*jsonschema.Schema, *plan) {
	t.Helper()
	sch, err := CompileSchema(name, []byte(doc))
	require.NoError(t, err)
	p := compilePlan(sch, "")
	require.NotNil(t, p, "the plan supports every keyword of %s", name)
	return sch, p
}

// randomValue returns JSON text of a random value, biased towards the edges the plan must
// get right: bounds, escapes, integers written as decimals, dates near the end of a month.
func randomValue(r *rand.Rand, depth int) string {
	switch r.IntN(14) {
	case 0:
		return "null"
	case 1:
		return strconv.FormatBool(r.IntN(2) == 0)
	case 2, 3:
		return []string{"0", "1", "-1", "999", "1000", "1.0", "1e2", "0.5", "1.5", "1.5000000000000001", "-0", "10", "1E400", "12.25", "-0.0000001"}[r.IntN(15)]
	case 4:
		return strconv.Itoa(r.IntN(2000) - 500)
	case 5, 6:
		return strconv.Quote([]string{"", "a", "b", "x", "ab", "abcdef", "AB", "é", "ée", "view", "purchase", "refund", "click", "10.0.0.1", "1.2.3"}[r.IntN(15)])
	case 7:
		return []string{`"\u0061"`, `"a\"b"`, `"\u00e9t\u00e9"`, `"a\/b"`, `"\ud83d\ude00"`}[r.IntN(5)]
	case 8, 9:
		return strconv.Quote([]string{"2026-11-01T08:00:00Z", "2026-02-29T08:00:00Z", "2028-02-29T23:59:59.5+01:00",
			"2026-11-01t08:00:00z", "2026-11-01T23:59:60Z", "2026-11-31T08:00:00Z", "2026-11-01 08:00:00Z",
			"2026-11-01T08:00:00", "2026-11-01T24:00:00Z", "2026-11-01T08:00:00-23:59", "2026-11-01T08:00:00.Z"}[r.IntN(11)])
	case 10, 11:
		if depth > 2 {
			return "1"
		}
		n := r.IntN(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = randomValue(r, depth+1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		if depth > 2 {
			return "{}"
		}
		return randomObject(r, depth+1)
	}
}

var randomKeys = []string{"id", "name", "tags", "kind", "flag", "nested", "any", "one", "no", "when", "n", "mult", "ip", "v", "other",
	"event_id", "user_id", "action", "amount", "timestamp", `i\u0064`}

func randomObject(r *rand.Rand, depth int) string {
	n := r.IntN(9)
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %s", randomKeys[r.IntN(len(randomKeys))], randomValue(r, depth))
	}
	b.WriteByte('}')
	// randomKeys holds one already escaped key; %q escaped its backslash, undo that.
	return strings.ReplaceAll(b.String(), `\\u0064`, `\u0064`)
}

// sinkRecord is a random object that often satisfies the kitchen-sink schema: a good id,
// and a few members that each have a fair chance of being valid.
func sinkRecord(r *rand.Rand) string {
	good := []struct {
		key  string
		vals []string
	}{
		{"name", []string{`"ab"`, `"abc"`, `"éa"`, `"abcd"`}},
		{"tags", []string{`["a"]`, `["a","b"]`, `["b","b","a"]`}},
		{"kind", []string{`"x"`}},
		{"flag", []string{`true`, `null`}},
		{"nested", []string{`{"v":1}`, `{"v":-3.5}`, `{"v":1.5}`}},
		{"any", []string{`"s"`, `0`, `12.5`}},
		{"one", []string{`3`, `10.5`}},
		{"no", []string{`1`, `null`, `[]`}},
		{"when", []string{`"2026-11-01T08:00:00Z"`, `"2026-11-01T08:00:00.5-02:00"`}},
		{"ip", []string{`"10.0.0.1"`, `5`}},
		{"other", []string{`"abc"`, `7`, `{}`}},
	}
	parts := []string{fmt.Sprintf(`"id": %d`, 1+r.IntN(999))}
	for _, g := range good {
		switch r.IntN(6) {
		case 0:
			parts = append(parts, fmt.Sprintf("%q: %s", g.key, g.vals[r.IntN(len(g.vals))]))
		case 1:
			if r.IntN(4) == 0 {
				parts = append(parts, fmt.Sprintf("%q: %s", g.key, randomValue(r, 1)))
			}
		}
	}
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	if r.IntN(3) == 0 {
		return randomObject(r, 0)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// mutateEvent breaks a generated event in one of the ways real files break.
func mutateEvent(r *rand.Rand, ev []byte) []byte {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(ev))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		panic(err)
	}
	keys := []string{"event_id", "user_id", "action", "amount", "timestamp"}
	for range r.IntN(3) {
		k := keys[r.IntN(len(keys))]
		switch r.IntN(3) {
		case 0:
			delete(m, k)
		default:
			var v any
			if err := json.Unmarshal([]byte(randomValue(r, 0)), &v); err == nil {
				m[k] = v
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return out
}

// agree compares the plan with the library on one record. It fails the test when the plan
// gives a definite answer the library disagrees with, or when the scanner and encoding/json
// disagree on the record's duplicate keys. The gate never asks the plan about a record with
// duplicate keys, but the plan stays exact on them all the same.
func agree(t testing.TB, sch *jsonschema.Schema, p *plan, rec []byte) verdict {
	t.Helper()
	var sc scanner
	if !sc.scan(rec) {
		t.Fatalf("scanner rejects %s: %s", rec, sc.errMsg)
	}
	agreeOnDuplicates(t, &sc, rec)
	got := newEvaluator(p).record(rec, &sc)
	want := valid
	if sch.Validate(decode(rec)) != nil {
		want = invalid
	}
	if got != unknown && got != want {
		t.Fatalf("plan says %v, library says %v, for %s", got, want, rec)
	}
	return got
}

func TestPlanAgreesWithLibrary(t *testing.T) {
	eventSch, eventPlan := compiled(t, "events.schema.json", string(defaultSchema))
	sinkSch, sinkPlan := compiled(t, "sink.json", kitchenSink)
	r := gendata.NewRand(11)
	counts := map[string]map[verdict]int{"events": {}, "sink": {}}
	for i := range 20000 {
		ev := gendata.Event(r, i, gendata.Options{Seed: 11})
		if i%2 == 1 {
			ev = mutateEvent(r, ev)
		}
		counts["events"][agree(t, eventSch, eventPlan, ev)]++
		counts["sink"][agree(t, sinkSch, sinkPlan, []byte(sinkRecord(r)))]++
	}
	t.Logf("verdicts (0 invalid, 1 valid, 2 unknown): %v", counts)
	for name, c := range counts {
		assert.Positive(t, c[valid], name)
		assert.Positive(t, c[invalid], name)
		assert.Less(t, c[unknown], c[valid]+c[invalid], "%s: the plan decides most records itself", name)
	}
}

func TestPlanEdgeCases(t *testing.T) {
	sch, p := compiled(t, "events.schema.json", string(defaultSchema))
	tests := []struct {
		name string
		rec  string
		want verdict
	}{
		{"valid", `{"event_id":"e","action":"view","timestamp":"2026-11-01T08:00:00Z"}`, valid},
		{"amount zero is left to the library", `{"event_id":"e","action":"refund","amount":0,"timestamp":"2026-11-01T08:00:00Z"}`, valid},
		{"negative amount", `{"event_id":"e","action":"refund","amount":-5,"timestamp":"2026-11-01T08:00:00Z"}`, invalid},
		{"tiny negative amount is left to the library", `{"event_id":"e","action":"refund","amount":-1e-300,"timestamp":"2026-11-01T08:00:00Z"}`, unknown},
		{"duplicate keys: the last one counts", `{"event_id":"e","action":"bogus","action":"view","timestamp":"2026-11-01T08:00:00Z"}`, unknown},
		{"escaped key", `{"event_id":"e","\u0061ction":"view","timestamp":"2026-11-01T08:00:00Z"}`, unknown},
		{"leap second", `{"event_id":"e","action":"view","timestamp":"2026-12-31T23:59:60Z"}`, unknown},
		{"not a date", `{"event_id":"e","action":"view","timestamp":"2026-02-29T08:00:00Z"}`, unknown},
		{"wrong type", `{"event_id":5,"action":"view","timestamp":"2026-11-01T08:00:00Z"}`, invalid},
		{"purchase needs an amount", `{"event_id":"e","action":"purchase","timestamp":"2026-11-01T08:00:00Z"}`, invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, agree(t, sch, p, []byte(tt.rec)))
		})
	}
}

func TestIsDateTime(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"2026-11-01T08:00:00Z", true},
		{"2026-11-01t08:00:00z", true},
		{"2028-02-29T23:59:59.123456789+14:00", true},
		{"2026-11-01T08:00:00-00:30", true},
		{"2026-02-29T08:00:00Z", false},
		{"2026-04-31T08:00:00Z", false},
		{"2026-12-31T23:59:60Z", false}, // a leap second: valid, but the library decides
		{"2026-11-01T24:00:00Z", false},
		{"2026-11-01 08:00:00Z", false},
		{"2026-11-01T08:00:00", false},
		{"2026-11-01T08:00:00.Z", false},
		{"2026-11-01T08:00:00+0100", false},
		{"2026-11-01T08:00:00+24:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			assert.Equal(t, tt.want, isDateTime([]byte(tt.s)))
			if tt.want {
				assert.NoError(t, builtinDateTime().Validate(tt.s), "the library agrees")
			}
		})
	}
}

func TestUnsupportedSchemaUsesTheLibrary(t *testing.T) {
	doc := `{"type":"object","properties":{"id":{"type":"string"}},"patternProperties":{"^x-":{"type":"integer"}}}`
	sch, err := CompileSchema("pattern.json", []byte(doc))
	require.NoError(t, err)
	assert.Nil(t, compilePlan(sch, ""))
	g := newGate(t, func(c *Config) { c.Schema = sch })
	res := check(t, g, "incoming/e.ndjson", []byte(`{"id":"a","x-n":1}`+"\n"+`{"id":"b","x-n":"one"}`+"\n"))
	assert.Equal(t, RuleSchema, res.Rule)
	require.Len(t, res.Findings, 1)
	assert.Equal(t, int64(2), res.Findings[0].Record)
	assert.Contains(t, res.Findings[0].Message, "`x-n`")
}

// FuzzPlan checks the scanner against json.Valid, encoding/json's keys and the reference of
// what Snowflake loads, and the plan against the library, on arbitrary input.
func FuzzPlan(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"id":5}`, `{"id":1.0,"name":"ab"}`, `{"a":[1,{"b":null}],"c":"\u00e9"}`, `{"a":01}`, `{"a":1.}`,
		`{"a":"x` + "\t" + `"}`, `{"a":tru}`, `{"a":1,}`, `[1]`, ` {"id": 2} `, `{"tags":["a","c"]}`,
		`{"event_id":"e","action":"purchase","amount":5,"timestamp":"2026-11-01T08:00:00Z"}`,
		`2026-11-01T08:00:00.123+05:30`,
		`{"a":1,"a":2}`, `{"a":{"b":[{"c":1,"\u0063":2}]}}`, `{"\ud800":1,"\udfff":2}`, `{"a/~":[{}],"a\/~":0}`,
		`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k3":{"x":1,"x":2}}`,
		`\u0061\ud83d\ude00\"`,
		`{"a":"\ud800","b":"\u0000","c":1e309,"d":123456789012345678901234567890123456789,"e":[1e-400,0.1e0]}`,
		`{"a":"\ud83d\ude00\\ude00","b":9007199254740993e0,"c":-0e99999999999999999999}`,
	} {
		f.Add([]byte(s))
	}
	eventSch, eventPlan := compiled(f, "events.schema.json", string(defaultSchema))
	sinkSch, sinkPlan := compiled(f, "sink.json", kitchenSink)
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return // the record reader rejects it before the scanner sees it
		}
		if isDateTime(data) && builtinDateTime().Validate(string(data)) != nil {
			t.Fatalf("isDateTime accepts %q, the library does not", data)
		}
		var str string
		if quoted := append(append([]byte{'"'}, data...), '"'); json.Valid(quoted) {
			if err := json.Unmarshal(quoted, &str); err != nil || string(appendUnescaped(nil, data)) != str {
				t.Fatalf("appendUnescaped(%q) is %q, encoding/json reads %q (%v)", data, appendUnescaped(nil, data), str, err)
			}
		}
		var sc scanner
		ok := sc.scan(data)
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		want := json.Valid(data) && len(trimmed) > 0 && trimmed[0] == '{'
		if ok != want {
			t.Fatalf("scanner says %v, json.Valid says %v, for %q (%s)", ok, want, data, sc.errMsg)
		}
		if !ok {
			if sc.errPos < 0 || sc.errPos > len(data) {
				t.Fatalf("error position %d outside the record", sc.errPos)
			}
			return
		}
		agreeOnLoadable(t, &sc, data)
		agree(t, eventSch, eventPlan, data)
		agree(t, sinkSch, sinkPlan, data)
	})
}
