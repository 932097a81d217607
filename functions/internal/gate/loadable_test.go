package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnloadableRecords(t *testing.T) {
	// nested returns a value n levels deep; in a record, it is one level deeper.
	nested := func(n int) string { return strings.Repeat(`{"n":`, n) + "1" + strings.Repeat("}", n) }
	tests := []struct {
		name    string
		rec     string
		rule    string   // "" when the record is accepted
		message []string // substrings of the finding's message
	}{
		{name: "surrogate pair", rec: event(`"note":"\ud83d\ude00"`)},
		{name: "lone high surrogate", rec: event(`"note":"a\ud800b"`), rule: RuleLoneSurrogate, message: []string{"at '/note'", "half a UTF-16 surrogate pair"}},
		{name: "high surrogate at the end", rec: event(`"note":"\ud83d"`), rule: RuleLoneSurrogate},
		{name: "lone low surrogate", rec: event(`"note":"\ude00"`), rule: RuleLoneSurrogate},
		{name: "two high surrogates", rec: event(`"note":"\ud83d\ud83d\ude00"`), rule: RuleLoneSurrogate},
		{name: "low surrogate after an escaped backslash", rec: event(`"note":"\\ude00"`)},
		{name: "high surrogate then an escaped u", rec: event(`"note":"\ud83d\\ude00"`), rule: RuleLoneSurrogate},
		{name: "lone surrogate in a key", rec: event(`"x":{"\udc00":1}`), rule: RuleLoneSurrogate, message: []string{"at '/x/\ufffd'"}},
		{name: "lone surrogate in an array", rec: event(`"tags":["a","\uDBFF"]`), rule: RuleLoneSurrogate, message: []string{"at '/tags/1'"}},
		{name: "NUL character", rec: event(`"note":"a\u0000b"`), rule: RuleNULCharacter, message: []string{"at '/note'", `\u0000`}},
		{name: "other control characters", rec: event(`"note":"\u0001\u001f\t"`)},
		{name: "double range", rec: event(`"big":1e309`), rule: RuleNumberRange, message: []string{"at '/big' (1e309)", "beyond the range of a DOUBLE"}},
		{name: "negative double range", rec: event(`"x":[-1.8e308]`), rule: RuleNumberRange},
		{name: "largest double", rec: event(`"x":1.7976931348623157e308`)},
		{name: "38 digits are a NUMBER", rec: event(`"id":12345678901234567890123456789012345678`)},
		{name: "integer beyond 2^53 within 38 digits", rec: event(`"id":9007199254740993`)},
		{name: "39 digits become a DOUBLE", rec: event(`"id":123456789012345678901234567890123456789`), rule: RulePrecision,
			message: []string{"at '/id' (123456789012345678901234567890123456789)", "stored as the DOUBLE 1.2345678901234568e+38", "LOSSY_NUMBERS=warn"}},
		{name: "39 digits a DOUBLE holds exactly", rec: event(`"id":100000000000000000000000000000000000000`)},
		{name: "scientific notation exact", rec: event(`"x":1.5e2`)},
		{name: "scientific notation rounds", rec: event(`"x":9007199254740993e0`), rule: RulePrecision},
		{name: "scientific notation with its shortest digits", rec: event(`"x":1.1e-1`)},
		{name: "37 decimals are a NUMBER", rec: event(`"x":0.1234567890123456789012345678901234567`)},
		{name: "38 decimals become a DOUBLE", rec: event(`"x":0.12345678901234567890123456789012345678`), rule: RulePrecision},
		{name: "underflow to zero", rec: event(`"x":1e-400`), rule: RulePrecision, message: []string{"DOUBLE 0"}},
		{name: "zero with a huge exponent", rec: event(`"x":0e999999999999999999999`)},
		{name: "negative zero", rec: event(`"x":-0.0e0`)},
		{name: "nesting at the limit", rec: event(`"d":` + nested(MaxDepth-1))},
		{name: "nesting past the limit", rec: event(`"d":` + nested(MaxDepth)), rule: RuleDepth, message: []string{"nested 257 levels deep", "at most 256"}},
		{name: "arrays past the limit", rec: event(`"d":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)), rule: RuleDepth},
		{name: "refusal before a duplicate-free schema failure", rec: `{"event_id":5,"note":"\u0000"}`, rule: RuleNULCharacter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, newGate(t, nil), "incoming/e.ndjson", []byte(tt.rec+"\n"))
			if tt.rule == "" {
				assert.True(t, res.Accepted, "findings: %+v", res.Findings)
				return
			}
			assert.False(t, res.Accepted)
			assert.Equal(t, tt.rule, res.Rule)
			assert.Equal(t, int64(1), res.UnloadableRecords)
			require.Len(t, res.Findings, 1)
			f := res.Findings[0]
			assert.Equal(t, tt.rule, f.Rule)
			assert.Equal(t, int64(1), f.Record)
			assert.Equal(t, int64(1), f.Line)
			for _, m := range tt.message {
				assert.Contains(t, f.Message, m)
			}
			rep := NewReport("landing", "incoming/e.ndjson", "", "", int64(len(tt.rec)), res, time.Unix(0, 0))
			assert.Contains(t, rep.Message, "rejected: 1 of 1 records hold values Snowflake cannot load as written; first: line 1, byte ")
		})
	}
}

func TestUnloadableRecordsAreSkippable(t *testing.T) {
	nul := event(`"note":"\u0000"`)
	body := []byte(strings.Join([]string{view, nul, view, `{"event_id":"e","action":"view","timestamp":"2026-11-01T08:00:00Z","n":1e999}`}, "\n") + "\n")
	res := check(t, newGate(t, func(c *Config) { c.MaxBadRecords = 2 }), "incoming/e.ndjson", body)
	require.True(t, res.Accepted, "findings: %+v", res.Findings)
	assert.Equal(t, []int64{2, 4}, res.Skip)
	assert.Equal(t, int64(2), res.UnloadableRecords)
	assert.Equal(t, RuleNULCharacter, findingFor(t, res, 2).Rule)
	assert.Equal(t, RuleNumberRange, findingFor(t, res, 4).Rule)
	rep := NewReport("landing", "incoming/e.ndjson", "", "", int64(len(body)), res, time.Unix(0, 0))
	assert.Contains(t, rep.Message, "accepted: 4 records, 2 holding values Snowflake cannot load as written are skipped")
}

func TestPrecisionWarn(t *testing.T) {
	warn := func(c *Config) { c.Precision = PrecisionWarn }
	lossy := `{"event_id":"e","action":"purchase","amount":12.5,"id":123456789012345678901234567890123456789,"timestamp":"2026-11-01T08:00:00Z"}`
	tests := []struct {
		name     string
		edit     func(*Config)
		lines    []string
		rule     string
		lossy    int64
		warnings []string
	}{
		{name: "rejected by default", lines: []string{purchase, lossy}, rule: RulePrecision},
		{name: "loaded with a warning", edit: warn, lines: []string{purchase, lossy, lossy}, lossy: 2,
			warnings: []string{"at '/id' (123456789012345678901234567890123456789)", "loaded as the DOUBLE 1.2345678901234568e+38"}},
		{name: "a refusal is never a warning", edit: warn, lines: []string{event(`"x":1e309`)}, rule: RuleNumberRange},
		{name: "the schema judges the stored value", edit: warn,
			// 9999999999999999.99 is amount's maximum; written with an exponent it is a DOUBLE, 1e16.
			lines: []string{`{"event_id":"e","action":"purchase","amount":9999999999999999.99e0,"timestamp":"2026-11-01T08:00:00Z"}`}, rule: RuleSchema,
			lossy: 1, warnings: []string{"at '/amount'", "loaded as the DOUBLE 1e+16"}},
		{name: "the maximum as a NUMBER", edit: warn,
			lines: []string{`{"event_id":"e","action":"purchase","amount":9999999999999999.99,"timestamp":"2026-11-01T08:00:00Z"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, newGate(t, tt.edit), "incoming/e.ndjson", []byte(strings.Join(tt.lines, "\n")+"\n"))
			assert.Equal(t, tt.rule == "", res.Accepted, "findings: %+v", res.Findings)
			assert.Equal(t, tt.rule, res.Rule)
			assert.Equal(t, tt.lossy, res.LossyRecords)
			require.Len(t, res.Warnings, int(tt.lossy))
			for _, w := range res.Warnings {
				assert.Equal(t, RulePrecision, w.Rule)
				for _, m := range tt.warnings {
					assert.Contains(t, w.Message, m)
				}
			}
		})
	}
}

func TestPrecisionConfig(t *testing.T) {
	cfg := DefaultConfig()
	assert.Equal(t, PrecisionReject, cfg.Precision, "nothing is changed on its way in unless the operator says so")
	cfg.Precision = "round"
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Precision must be "reject" or "warn", got "round"`)
}

// referenceLoadable is what the scanner's load checks should find in a valid record,
// worked out another way: encoding/json's tokens, exact rationals for numbers, and UTF-16
// code units for escapes. It returns the rule of the first refusal and whether some number
// is stored as a DOUBLE of another value.
func referenceLoadable(t testing.TB, data []byte) (refusal string, lossy bool) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	depth := 0
	refuse := func(rule string) {
		if refusal == "" {
			refusal = rule
		}
	}
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return refusal, lossy
		}
		require.NoError(t, err, "%s", data)
		raw := bytes.TrimLeft(data[before:dec.InputOffset()], " \t\r\n,:")
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				if depth++; depth > MaxDepth {
					refuse(RuleDepth)
				}
			} else {
				depth--
			}
		case string:
			if rule := referenceString(raw); rule != "" {
				refuse(rule)
			}
		case json.Number:
			r, ok := new(big.Rat).SetString(string(v))
			if !ok {
				// An exponent too large for big.Rat: an infinity, or zero after underflow,
				// which changes every number but zero itself.
				f, _ := strconv.ParseFloat(string(v), 64)
				mantissa, _, _ := strings.Cut(string(v), "e")
				switch {
				case math.IsInf(f, 0):
					refuse(RuleNumberRange)
				case strings.Trim(mantissa, "-0.") != "":
					lossy = true
				}
				continue
			}
			f, _ := r.Float64()
			plain := !strings.ContainsAny(string(v), "eE")
			intPart, frac, _ := strings.Cut(strings.TrimPrefix(string(v), "-"), ".")
			intPart = strings.TrimLeft(intPart, "0")
			switch {
			case plain && len(frac) <= 37 && len(intPart)+len(frac) <= 38:
			case math.IsInf(f, 0):
				refuse(RuleNumberRange)
			default:
				back, _ := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
				lossy = lossy || back.Cmp(r) != 0
			}
		}
	}
}

// referenceString finds NUL and unpaired surrogates in the raw JSON string s by decoding its
// escapes to UTF-16 code units.
func referenceString(s []byte) string {
	var units []uint16
	for i := 1; i < len(s)-1; i++ {
		if s[i] != '\\' {
			units = append(units, 'x')
			continue
		}
		i++
		if s[i] != 'u' {
			units = append(units, 'x')
			continue
		}
		n, _ := strconv.ParseUint(string(s[i+1:i+5]), 16, 16)
		units = append(units, uint16(n))
		i += 4
	}
	rule := ""
	for i := 0; i < len(units); i++ {
		u := rune(units[i])
		switch {
		case u == 0:
			return RuleNULCharacter
		case utf16.IsSurrogate(u) && u < 0xDC00 && i+1 < len(units) && utf16.DecodeRune(u, rune(units[i+1])) != 0xFFFD:
			i++
		case utf16.IsSurrogate(u):
			if rule == "" {
				rule = RuleLoneSurrogate
			}
		}
	}
	return rule
}

// agreeOnLoadable checks the scanner's load checks against the reference on a record the
// scanner accepted.
func agreeOnLoadable(t testing.TB, sc *scanner, rec []byte) {
	t.Helper()
	wantRefusal, wantLossy := referenceLoadable(t, rec)
	// Which refusal comes first may differ (the scanner reports the earliest in the record,
	// the reference the same, but NUL and a surrogate can share a string); that one exists
	// must not.
	if (sc.refusal.rule == "") != (wantRefusal == "") {
		t.Fatalf("the scanner refuses with %q, the reference with %q, in %s", sc.refusal.rule, wantRefusal, rec)
	}
	if wantRefusal == "" && (sc.lossy.rule != "") != wantLossy {
		t.Fatalf("the scanner says a number is rounded: %v, the reference: %v, in %s", sc.lossy.rule != "", wantLossy, rec)
	}
}

// trickyNumbers and trickyStrings are the values randomLoadable mixes into records.
var (
	trickyNumbers = []string{"0", "-0", "1", "1.5", "1e2", "1.5E+2", "1e309", "-1e309", "1e-400", "4.9e-324", "2.5e-324",
		"1.7976931348623157e308", "1.7976931348623159e308", "9007199254740993", "9007199254740993e0", "0.1", "0.1e0",
		"12345678901234567890123456789012345678", "123456789012345678901234567890123456789", "1000000000000000000000000000000000000000",
		"0.1234567890123456789012345678901234567", "0.12345678901234567890123456789012345678", "0.00000000000000000000000000000000000001",
		"0e99999999999999999999", "1e99999999999999999999", "1e-99999999999999999999", "123456789.123456789e-5"}
	trickyStrings = []string{`a`, `\u0000`, `\ud800`, `\udfff`, `\ud83d\ude00`, `\ud83d\ud83d`, `\\ud800`, `\ud83d\\ude00`,
		`\u0041`, `\ud83d`, `x\udbff\udfffy`, `\udc00\ud800`}
)

// randomLoadable returns a record mixing tricky numbers and strings at random depths.
func randomLoadable(r *rand.Rand, depth int) string {
	n := r.IntN(5)
	parts := make([]string, n)
	for i := range parts {
		var v string
		switch k := r.IntN(6); {
		case k == 0 && depth < 3:
			v = randomLoadable(r, depth+1)
		case k == 1:
			v = "[" + trickyNumbers[r.IntN(len(trickyNumbers))] + `,"` + trickyStrings[r.IntN(len(trickyStrings))] + `"]`
		case k < 4:
			v = trickyNumbers[r.IntN(len(trickyNumbers))]
		default:
			v = `"` + trickyStrings[r.IntN(len(trickyStrings))] + trickyStrings[r.IntN(len(trickyStrings))] + `"`
		}
		parts[i] = `"k` + strconv.Itoa(i) + `":` + v
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestLoadableAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 3))
	var sc scanner
	counts := map[string]int{}
	for range 20000 {
		rec := []byte(randomLoadable(r, 0))
		require.True(t, sc.scan(rec), "%s: %s", rec, sc.errMsg)
		agreeOnLoadable(t, &sc, rec)
		switch {
		case sc.refusal.rule != "":
			counts[sc.refusal.rule]++
		case sc.lossy.rule != "":
			counts[RulePrecision]++
		default:
			counts["loadable"]++
		}
	}
	t.Logf("records by verdict: %v", counts)
	for _, rule := range []string{"loadable", RuleLoneSurrogate, RuleNULCharacter, RuleNumberRange, RulePrecision} {
		assert.Positive(t, counts[rule], rule)
	}
}

func TestStoredDouble(t *testing.T) {
	tests := []struct {
		lit     string
		want    float64
		changed bool
	}{
		{"12.5", 12.5, false},
		{"9007199254740993", 9007199254740992, false}, // a NUMBER: kept exactly; f is only a reading of it
		{"9007199254740993e0", 9007199254740992, true},
		{"9999999999999999.99e0", 1e16, true},
		{"1.5e2", 150, false},
		{"1e-400", 0, true},
		{"-0", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			got, changed := storedDouble([]byte(tt.lit))
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.changed, changed)
		})
	}
}

// TestAmountBound checks the shipped schema's bound on amount: DAILY_SUMMARY casts it to
// NUMBER(18,2), whose largest value is 9999999999999999.99.
func TestAmountBound(t *testing.T) {
	tests := []struct {
		amount string
		ok     bool
	}{
		{"9999999999999999.99", true},
		{"9999999999999999.994", false}, // Snowflake would round it to fit, but it is past the bound
		{"10000000000000000", false},
		{"1e16", false},
		{"0", true},
	}
	for _, tt := range tests {
		t.Run(tt.amount, func(t *testing.T) {
			rec := `{"event_id":"e","action":"purchase","amount":` + tt.amount + `,"timestamp":"2026-11-01T08:00:00Z"}`
			res := check(t, newGate(t, nil), "incoming/e.ndjson", []byte(rec+"\n"))
			assert.Equal(t, tt.ok, res.Accepted, "findings: %+v", res.Findings)
			if !tt.ok {
				assert.Equal(t, RuleSchema, res.Rule)
			}
		})
	}
}
