package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// event is a record the default schema accepts, with extra members appended.
func event(extra string) string {
	return `{"event_id":"e","action":"view","timestamp":"2026-11-01T08:00:00Z",` + extra + `}`
}

// wideMembers returns n distinct members "k0":0, "k1":1, ... for objects past smallObject.
func wideMembers(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	return strings.Join(parts, ",")
}

func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name string
		key  string // the file's key; NDJSON when empty
		body string
		// For a rejected file: the unique text that starts at the repeated key, the one that
		// starts at its first occurrence, and substrings of the message.
		dup, first string
		message    []string
	}{
		{name: "top-level duplicate",
			body: `{"event_id":"e","action":"refund","action":"click","timestamp":"2026-11-01T08:00:00Z"}`,
			dup:  `"action":"click"`, first: `"action":"refund"`,
			message: []string{`at '/action': duplicate key "action" (first at line 2, byte `, "Snowflake rejects"}},
		{name: "nested duplicate",
			body: event(`"cart":{"sku":"a","qty":1,"sku":"b"}`),
			dup:  `"sku":"b"`, first: `"sku":"a"`, message: []string{`at '/cart/sku'`, `duplicate key "sku"`}},
		{name: "duplicate in an object inside an array",
			body: event(`"items":[{"sku":"a"},{"sku":"b","n":[1,{"x":0}],"sku":"c"}]`),
			dup:  `"sku":"c"`, first: `"sku":"b"`, message: []string{`at '/items/1/sku'`}},
		{name: "escaped spelling of the same key",
			body: event(`"amount":1,"\u0061mount":2`),
			dup:  `"\u0061mount"`, first: `"amount":1`,
			message: []string{`at '/amount': duplicate key "amount", written "\u0061mount" here and "amount" before`}},
		{name: "escapes on both sides",
			body: event(`"\u00e9":1,"\u00E9":2`),
			dup:  `"\u00E9"`, first: `"\u00e9"`, message: []string{`duplicate key "é"`}},
		{name: "surrogate pair and the literal character",
			body: event(`"😀":1,"\ud83d\ude00":2`),
			dup:  `"\ud83d`, first: `"😀"`, message: []string{`at '/😀'`}},
		{name: "escaped slash",
			body: event(`"a/b~c":1,"a\/b~c":2`),
			dup:  `"a\/b~c"`, first: `"a/b~c"`, message: []string{`at '/a~1b~0c'`}},
		{name: "duplicate of a required field",
			body: `{"event_id":"e","action":"view","timestamp":"2026-11-01T08:00:00Z","event_id":"f"}`,
			dup:  `"event_id":"f"`, first: `"event_id":"e"`, message: []string{`at '/event_id'`}},
		{name: "large object",
			body: event(`"wide":{` + wideMembers(20) + `,"k7":"again"}`),
			dup:  `"k7":"again"`, first: `"k7":7`, message: []string{`at '/wide/k7'`}},
		{name: "the earliest duplicate is reported, though found last",
			// The large object is checked when it closes, after the small one inside it.
			body: event(`"wide":{` + wideMembers(20) + `,"k1":{"x":1,"x":2}}`),
			dup:  `"k1":{`, first: `"k1":1`, message: []string{`at '/wide/k1'`}},
		{name: "pretty-printed array",
			key:  "incoming/e.json",
			body: "[\n" + view + ",\n{\n  \"event_id\": \"e\",\n  \"action\": \"view\",\n  \"timestamp\": \"2026-11-01T08:00:00Z\",\n  \"event_id\": \"f\"\n}\n]\n",
			dup:  `"event_id": "f"`, first: `"event_id": "e"`, message: []string{"(first at line 4, byte "}},

		{name: "same key in sibling objects", body: event(`"a":{"id":1},"b":{"id":2}`)},
		{name: "objects in an array", body: event(`"items":[{"sku":"a","n":1},{"sku":"a","n":1}]`)},
		{name: "same key at different depths", body: event(`"id":"x","nested":{"id":"y","nested":{"id":"z"}}`)},
		{name: "keys that differ after unescaping", body: event(`"a\\b":1,"a/b":2,"\u00e9":3,"e":4,"\u00c9":5`)},
		{name: "keys that differ in case", body: event(`"Action":"x","ACTION":"y"`)},
		{name: "a duplicate inside a string", body: event(`"note":"{\"a\":1,\"a\":2}"`)},
		{name: "large object without duplicates", body: event(`"wide":{` + wideMembers(40) + `}`)},
		{name: "empty keys once each", body: event(`"":1,"x":{"":2}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key
			if key == "" {
				key = "incoming/e.ndjson"
			}
			body := tt.body
			if tt.key == "" {
				body = view + "\n" + body + "\n"
			}
			res := check(t, newGate(t, nil), key, []byte(body))
			if tt.dup == "" {
				assert.True(t, res.Accepted, "findings: %+v", res.Findings)
				return
			}
			require.Equal(t, 1, strings.Count(body, tt.dup), "the test's dup marker is unique")
			require.Equal(t, 1, strings.Count(body, tt.first), "the test's first marker is unique")
			at, first := strings.Index(body, tt.dup), strings.Index(body, tt.first)

			assert.False(t, res.Accepted)
			assert.Equal(t, RuleDuplicateKey, res.Rule)
			assert.Equal(t, int64(2), res.Records)
			assert.Equal(t, int64(1), res.BadRecords)
			assert.Equal(t, int64(1), res.DuplicateKeyRecords)
			require.Len(t, res.Findings, 1)
			f := res.Findings[0]
			assert.Equal(t, RuleDuplicateKey, f.Rule)
			assert.Equal(t, int64(2), f.Record)
			assert.Equal(t, int64(at), f.Offset, "offset of the repeated key")
			assert.Equal(t, int64(1+strings.Count(body[:at], "\n")), f.Line, "line of the repeated key")
			assert.Contains(t, f.Message, fmt.Sprintf("(first at line %d, byte %d)", 1+strings.Count(body[:first], "\n"), first))
			for _, m := range tt.message {
				assert.Contains(t, f.Message, m)
			}
		})
	}
}

func TestDuplicateKeysAreBadRecords(t *testing.T) {
	dup := event(`"action":"click"`)
	nested := event(`"cart":{"sku":"a","sku":"b"}`)
	noAction := `{"event_id":"bad","timestamp":"2026-11-01T08:00:00Z"}`
	tests := []struct {
		name     string
		lines    []string
		max      int64
		accepted bool
		rule     string
		skip     []int64
		summary  string // the start of the report's message
	}{
		{name: "zero tolerates nothing", lines: []string{view, dup, view, noAction, nested},
			rule: RuleDuplicateKey, summary: "rejected: 3 of 5 records are invalid (1 failing the schema, 2 with duplicate keys); first: line 2, byte "},
		{name: "below the count", lines: []string{view, dup, view, noAction, nested}, max: 2,
			rule: RuleDuplicateKey, summary: "rejected: 3 of 5 records are invalid"},
		{name: "at the count", lines: []string{view, dup, view, noAction, nested}, max: 3, accepted: true, skip: []int64{2, 4, 5},
			summary: "accepted: 5 records, 3 invalid (1 failing the schema, 2 with duplicate keys) are skipped; first: line 2"},
		{name: "the first invalid record names the rule", lines: []string{noAction, dup, nested},
			rule: RuleSchema, summary: "rejected: 3 of 3 records are invalid (1 failing the schema, 2 with duplicate keys); first: line 1"},
		{name: "only duplicates", lines: []string{dup, view, nested},
			rule: RuleDuplicateKey, summary: "rejected: 2 of 3 records have duplicate keys; first: line 1"},
		{name: "only duplicates, skipped", lines: []string{dup, view, nested}, max: 2, accepted: true, skip: []int64{1, 3},
			summary: "accepted: 3 records, 2 with duplicate keys are skipped; first: line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(strings.Join(tt.lines, "\n") + "\n")
			res := check(t, newGate(t, func(c *Config) { c.MaxBadRecords = tt.max }), "incoming/e.ndjson", body)
			assert.Equal(t, tt.accepted, res.Accepted)
			assert.Equal(t, tt.rule, res.Rule, "findings: %+v", res.Findings)
			assert.Equal(t, tt.skip, res.Skip)
			var dups int64
			for i, line := range tt.lines {
				if line == dup || line == nested {
					dups++
					assert.Equal(t, int64(i+1), findingFor(t, res, int64(i+1)).Record)
					assert.Equal(t, RuleDuplicateKey, findingFor(t, res, int64(i+1)).Rule)
				}
			}
			assert.Equal(t, dups, res.DuplicateKeyRecords)
			rep := NewReport("landing", "incoming/e.ndjson", "", "", int64(len(body)), res, time.Unix(0, 0))
			assert.Equal(t, res.BadRecords, rep.TotalErrors, "record findings are all the errors")
			assert.True(t, strings.HasPrefix(rep.Message, tt.summary), "message %q", rep.Message)
		})
	}
}

func findingFor(t *testing.T, res Result, record int64) Finding {
	t.Helper()
	for _, f := range res.Findings {
		if f.Record == record {
			return f
		}
	}
	t.Fatalf("no finding for record %d in %+v", record, res.Findings)
	return Finding{}
}

// TestSkippedDuplicateDoesNotRoute checks that a skipped record's route value, which one of
// its duplicate keys would decide, does not count.
func TestSkippedDuplicateDoesNotRoute(t *testing.T) {
	g := newGate(t, func(c *Config) { c.RouteField = "table"; c.MaxBadRecords = 1 })
	body := event(`"table":"a"`) + "\n" + event(`"table":"a","table":"b"`) + "\n" + event(`"table":"a"`) + "\n"
	res := check(t, g, "incoming/e.ndjson", []byte(body))
	assert.True(t, res.Accepted, "findings: %+v", res.Findings)
	assert.Equal(t, "a", res.RouteValue)
	assert.Equal(t, []int64{2}, res.Skip)
}

func TestDuplicateKeyReport(t *testing.T) {
	body := view + "\n" + event(`"cart":{"sku":"a","sku":"b"}`) + "\n" + view + "\n"
	res := check(t, newGate(t, nil), "incoming/e.ndjson", []byte(body))
	at := strings.Index(body, `"sku":"b"`)
	first := strings.Index(body, `"sku":"a"`)
	msg := fmt.Sprintf(`at '/cart/sku': duplicate key \"sku\" (first at line 2, byte %d); Snowflake rejects an object with the same key twice`, first)
	rep := NewReport("landing", "incoming/e.ndjson", "v-1", `"abc"`, int64(len(body)), res, time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC))
	got, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.JSONEq(t, fmt.Sprintf(`{
		"bucket": "landing",
		"key": "incoming/e.ndjson",
		"version_id": "v-1",
		"etag": "\"abc\"",
		"size": %d,
		"rule": "duplicate_key",
		"message": "rejected: 1 of 3 records have duplicate keys; first: line 2, byte %d, record 2: %s",
		"records": 3,
		"bad_records": 1,
		"total_errors": 1,
		"errors": [{"rule": "duplicate_key", "record": 2, "line": 2, "offset": %d, "message": "%s"}],
		"checked_at": "2026-11-02T03:04:05Z"
	}`, len(body), at, msg, at, msg), string(got))
}

// TestDuplicateKeysWithoutPlan checks the gate for a schema the plan does not cover: every
// record goes to the library, which cannot see duplicate keys, and the scanner still does.
func TestDuplicateKeysWithoutPlan(t *testing.T) {
	sch, err := CompileSchema("pattern.json", []byte(`{"type":"object","patternProperties":{"^x-":{"type":"integer"}}}`))
	require.NoError(t, err)
	require.Nil(t, compilePlan(sch, ""))
	g := newGate(t, func(c *Config) { c.Schema = sch })
	res := check(t, g, "incoming/e.ndjson", []byte(`{"x-n":1}`+"\n"+`{"x-n":"one","x-n":2}`+"\n"))
	assert.Equal(t, RuleDuplicateKey, res.Rule, "the library alone would accept the last value")
	require.Len(t, res.Findings, 1)
	assert.Equal(t, int64(2), res.Findings[0].Record)
	assert.Contains(t, res.Findings[0].Message, "at '/x-n'")
}

// TestScanAllocatesNothing checks that, once its scratch space has grown, the scanner
// compares keys without allocating, for small and large objects and escaped keys.
func TestScanAllocatesNothing(t *testing.T) {
	tests := []struct {
		name string
		rec  string
	}{
		{"small objects", event(`"cart":{"sku":"a","items":[{"n":1},{"n":2}]}`)},
		{"escaped keys", event(`"\u0061":1,"b\n":{"\ud83d\ude00":2}`)},
		{"duplicates", event(`"a":1,"a":{"b":1,"b":2}`)},
		{"large object", event(`"wide":{` + wideMembers(100) + `,"k50":1}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := []byte(tt.rec)
			var sc scanner
			require.True(t, sc.scan(rec))
			assert.Zero(t, testing.AllocsPerRun(20, func() { sc.scan(rec) }))
		})
	}
}

func TestAppendUnescaped(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"plain", `action`},
		{"short escapes", `a\"b\\c\/d\be\ff\ng\rh\ti`},
		{"unicode escape", `\u0061\u00e9\u00E9`},
		{"surrogate pair", `\ud83d\ude00x`},
		{"lone high surrogate", `\ud83dx`},
		{"lone low surrogate", `\ude00`},
		{"high surrogate before a non-surrogate escape", `\ud83d\u0061`},
		{"two high surrogates", `\ud83d\ud83d\ude00`},
		{"raw multibyte", `é😀\u0065`},
		{"empty", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want string
			require.NoError(t, json.Unmarshal([]byte(`"`+tt.in+`"`), &want))
			assert.Equal(t, want, string(appendUnescaped(nil, []byte(tt.in))))
		})
	}
}

// referenceDuplicate finds the earliest repeated key of a valid JSON value with
// encoding/json's tokenizer, which unescapes keys by itself. It returns the JSON pointer of
// the repeated member and the offset just past its key, or "" and -1.
func referenceDuplicate(t testing.TB, data []byte) (string, int) {
	t.Helper()
	type frame struct {
		obj     bool
		keys    map[string]bool
		wantKey bool
		token   string // where in this value the token being read is: a key or an index
		next    int    // the index of an array's next element
	}
	escape := strings.NewReplacer("~", "~0", "/", "~1")
	var stack []*frame
	pointer := func() string {
		var b strings.Builder
		for _, f := range stack {
			b.WriteString("/" + f.token)
		}
		return b.String()
	}
	begin := func() {
		if n := len(stack); n > 0 && !stack[n-1].obj {
			stack[n-1].token = strconv.Itoa(stack[n-1].next)
		}
	}
	done := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].obj {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].next++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return "", -1
		}
		require.NoError(t, err)
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			f := stack[n-1]
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				done()
				continue
			}
			key := tok.(string)
			f.token = escape.Replace(key)
			if f.keys[key] {
				return pointer(), int(dec.InputOffset())
			}
			f.keys[key], f.wantKey = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			begin()
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			begin()
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			done()
		default:
			begin()
			done()
		}
	}
}

// agreeOnDuplicates checks the scanner's duplicate against the reference on a record the
// scanner accepted, and reports whether there was one.
func agreeOnDuplicates(t testing.TB, sc *scanner, rec []byte) bool {
	t.Helper()
	wantPointer, wantEnd := referenceDuplicate(t, rec)
	if sc.dupAt < 0 {
		if wantEnd >= 0 {
			t.Fatalf("the scanner misses the duplicate key at %s in %s", wantPointer, rec)
		}
		return false
	}
	if wantEnd < 0 {
		t.Fatalf("the scanner finds a duplicate key at byte %d of %s, encoding/json does not", sc.dupAt, rec)
	}
	if got, end := pointerTo(rec, sc.start, sc.dupAt), skipString(rec, sc.dupAt); got != wantPointer || end != wantEnd {
		t.Fatalf("the scanner's duplicate is %s ending at %d, encoding/json's %s ending at %d, in %s", got, end, wantPointer, wantEnd, rec)
	}
	if first := sc.dupFirst; first >= sc.dupAt || !bytes.Equal(appendUnescaped(nil, rawKey(rec, first)), appendUnescaped(nil, rawKey(rec, sc.dupAt))) {
		t.Fatalf("the key at %d is not an earlier spelling of the key at %d in %s", first, sc.dupAt, rec)
	}
	return true
}

// wideKeys mixes keys that are equal only after unescaping, including lone surrogates that
// decode to the same replacement character.
var wideKeys = []string{"a", `\u0061`, "b", "ab", "ba", "a/b", `a\/b`, "~", `\u007e`, "é", `\u00e9`, `\u00C9`,
	`\ud800`, `\udfff`, `\ufffd`, "\ufffd", `\ud83d\ude00`, "😀", "", `\"`, `\\`, "k", "kk", "K"}

// wideObject returns an object of up to 40 members, often more than smallObject, whose keys
// often repeat, sometimes only after unescaping.
func wideObject(r *rand.Rand, depth int) string {
	n := r.IntN(41)
	var keys []string
	flat := false
	switch r.IntN(3) {
	case 0:
		for range n {
			keys = append(keys, wideKeys[r.IntN(len(wideKeys))])
		}
	case 1:
		// Mostly distinct keys, so some wide objects hold no duplicate at all.
		for range n {
			keys = append(keys, fmt.Sprintf("m%d", r.IntN(60)))
		}
	default:
		// Distinct keys, then perhaps one repeat late in the object, perhaps spelled
		// differently: a duplicate only the check of large objects finds.
		for i := range n {
			keys = append(keys, fmt.Sprintf("m%d", i))
		}
		flat = r.IntN(2) == 0 // nothing nested, so the late duplicate is the earliest
		if n > 0 && r.IntN(4) > 0 {
			k := r.IntN(n)
			keys = append(keys, []string{keys[k], `\u006d` + keys[k][1:]}[r.IntN(2)])
		}
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := randomValue(r, depth+1)
		switch {
		case flat:
			v = strconv.Itoa(i)
		case depth < 2 && r.IntN(8) == 0:
			v = wideObject(r, depth+1)
		}
		parts[i] = `"` + k + `":` + v
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestDuplicatesAgreeWithDecoder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	var sc scanner
	counts := map[bool]int{}
	late := 0 // duplicates only the check of large objects can find
	for i := range 20000 {
		rec := []byte(randomObject(r, 0))
		if i%2 == 1 {
			rec = []byte(wideObject(r, 0))
		}
		require.True(t, sc.scan(rec), "%s: %s", rec, sc.errMsg)
		has := agreeOnDuplicates(t, &sc, rec)
		counts[has]++
		if has {
			for k, m := range walkObject(rec, 0, nil) {
				if m.kStart-1 == sc.dupAt && k >= smallObject {
					late++
				}
			}
		}
	}
	t.Logf("records with and without duplicates: %v; past the first %d keys: %d", counts, smallObject, late)
	assert.Positive(t, counts[true])
	assert.Positive(t, counts[false])
	assert.Positive(t, late)
}
