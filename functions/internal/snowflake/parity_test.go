package snowflake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
)

// parityCorpus is records at the edges of what Snowflake loads. rule is the gate rule that
// rejects the record, "" when the record must load and read back unchanged.
var parityCorpus = []struct {
	name, rec, rule string
}{
	{"plain event", `{"event_id":"e1","action":"view","timestamp":"2026-11-01T08:00:00Z"}`, ""},
	{"empty object", `{}`, ""},
	{"whitespace and key order", "{ \"b\" : [ 1 , 2 ] ,\t\"a\" : { } }", ""},
	{"unicode text", `{"s":"héllo wörld 日本語 😀","k😀":"v"}`, ""},
	{"surrogate pair escape", `{"s":"\ud83d\ude00"}`, ""},
	{"escapes", `{"s":"quote \" backslash \\ slash \/ tab \t nl \n cr \r bs \b ff \f \u00e9 \u001f"}`, ""},
	{"escaped key", `{"\u0061b":1}`, ""},
	{"lone high surrogate", `{"s":"\ud800"}`, gate.RuleLoneSurrogate},
	{"lone low surrogate", `{"s":"x\udfffy"}`, gate.RuleLoneSurrogate},
	{"reversed pair", `{"s":"\ude00\ud83d"}`, gate.RuleLoneSurrogate},
	{"NUL character", `{"s":"a\u0000b"}`, gate.RuleNULCharacter},
	{"NUL in a key", `{"a\u0000":1}`, gate.RuleNULCharacter},
	{"duplicate key", `{"a":1,"a":2}`, gate.RuleDuplicateKey},
	{"duplicate key after unescaping", `{"a":1,"\u0061":2}`, gate.RuleDuplicateKey},
	{"literals", `{"t":true,"f":false,"n":null,"a":[null,true]}`, ""},
	{"small numbers", `{"a":0,"b":-0,"c":1.50,"d":-12.25,"e":0.001}`, ""},
	{"integer beyond 2^53", `{"id":9007199254740993}`, ""},
	{"38 digits", `{"id":12345678901234567890123456789012345678}`, ""},
	{"largest NUMBER", `{"n":99999999999999999999999999999999999999}`, ""},
	{"smallest NUMBER", `{"n":-99999999999999999999999999999999999999}`, ""},
	{"zeros", `{"x":-0.0,"y":0e0,"z":0.000}`, ""},
	{"line and paragraph separators, BOM inside a string", `{"s":"\u2028\u2029\ufeff` + "\u2028\ufeff" + `"}`, ""},
	{"37 decimals", `{"x":0.1234567890123456789012345678901234567}`, ""},
	{"exponent a DOUBLE holds", `{"x":1.5e2,"y":-2E-3,"z":1e0}`, ""},
	{"largest DOUBLE", `{"x":1.7976931348623157e308}`, ""},
	{"smallest DOUBLE", `{"x":5e-324}`, ""},
	{"smallest DOUBLE with digits it does not hold", `{"x":4.9e-324}`, gate.RulePrecision},
	{"39 digits", `{"id":123456789012345678901234567890123456789}`, gate.RulePrecision},
	{"38 decimals", `{"x":0.12345678901234567890123456789012345678}`, gate.RulePrecision},
	{"exponent beyond a DOUBLE's digits", `{"x":9007199254740993e0}`, gate.RulePrecision},
	{"underflow", `{"x":1e-400}`, gate.RulePrecision},
	{"beyond a DOUBLE", `{"x":1e309}`, gate.RuleNumberRange},
	{"beyond a DOUBLE, capital E", `{"x":1E400}`, gate.RuleNumberRange},
	{"negative beyond a DOUBLE", `{"x":[-2e308]}`, gate.RuleNumberRange},
	{"nested at the limit", `{"d":` + strings.Repeat("[", gate.MaxDepth-1) + strings.Repeat("]", gate.MaxDepth-1) + `}`, ""},
	{"nested past the limit", `{"d":` + strings.Repeat(`{"a":`, gate.MaxDepth) + "1" + strings.Repeat("}", gate.MaxDepth) + `}`, gate.RuleDepth},
	{"long string", `{"s":"` + strings.Repeat("abc€", 50000) + `"}`, ""},
	{"record larger than a VARIANT", `{"s":"` + strings.Repeat("x", records.DefaultMaxRecordBytes) + `"}`, gate.RuleRecordSize},
	{"invalid JSON", `{"a":01}`, gate.RuleJSON},
}

// TestParity runs every record of the corpus through the gate and, when the gate accepts
// it, through Load into the emulator: a record is either rejected by the gate with a rule
// and a message, or it loads and TO_JSON(PAYLOAD) reads back the same JSON value. With
// LOSSY_NUMBERS=warn the rounded records load too, and read back as the DOUBLE the
// warning names, not as written.
func TestParity(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	anyObject, err := gate.CompileSchema("object.json", []byte(`{"type":"object"}`))
	require.NoError(t, err)
	for _, precision := range []gate.Precision{gate.PrecisionReject, gate.PrecisionWarn} {
		cfg := gate.DefaultConfig()
		cfg.Schema, cfg.Precision = anyObject, precision
		g, err := gate.New(cfg)
		require.NoError(t, err)
		for n, tc := range parityCorpus {
			t.Run(string(precision)+"/"+tc.name, func(t *testing.T) {
				key := fmt.Sprintf("parity/%s/%d.ndjson", precision, n)
				body := []byte(tc.rec + "\n")
				res, err := g.Check(context.Background(), key, int64(len(body)), bytes.NewReader(body))
				require.NoError(t, err)
				want := tc.rule
				if precision == gate.PrecisionWarn && want == gate.RulePrecision {
					want = "" // loaded, rounded, with a warning
				}
				if want != "" {
					require.False(t, res.Accepted, "the gate accepts a record it must reject")
					assert.Equal(t, want, res.Rule)
					require.NotEmpty(t, res.Findings)
					assert.NotEmpty(t, res.Findings[0].Message)
					return
				}
				require.True(t, res.Accepted, "findings: %+v", res.Findings)
				got := loadAndReadBack(t, s, c, key, tc.rec)
				assert.Equal(t, canonicalJSON(t, tc.rec, true), canonicalJSON(t, got, true), "Snowflake's reading of the record")
				if res.LossyRecords > 0 {
					require.NotEmpty(t, res.Warnings)
					assert.NotEqual(t, canonicalJSON(t, tc.rec, false), canonicalJSON(t, got, false), "the warning is true: the value changed")
				} else {
					assert.Equal(t, canonicalJSON(t, tc.rec, false), canonicalJSON(t, got, false), "the record as written")
				}
			})
		}
	}
}

// TestParityGeneratedEvents loads generated events, which the shipped schema accepts, and
// reads each back unchanged.
func TestParityGeneratedEvents(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)
	var buf bytes.Buffer
	_, err := gendata.WriteNDJSON(&buf, gendata.Options{Seed: 3, Records: 200})
	require.NoError(t, err)
	g, err := gate.New(gate.DefaultConfig())
	require.NoError(t, err)
	res, err := g.Check(context.Background(), "incoming/gen.ndjson", int64(buf.Len()), bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.True(t, res.Accepted, "findings: %+v", res.Findings)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	b := &Batch{Table: "RAW_DATA", LoadID: "parity-gen", LoadedAt: time.Now()}
	f := b.AddFile(File{Bucket: "landing", Key: "incoming/gen.ndjson", VersionID: "v1", Sequencer: "01", EventTime: time.Now()})
	for i, line := range lines {
		b.AddRecord(f, int64(i+1), []byte(line))
	}
	_, err = c.Load(context.Background(), b)
	require.NoError(t, err)
	rows := query(t, s, `SELECT RECORD_NUMBER, TO_JSON(PAYLOAD) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY = 'incoming/gen.ndjson' ORDER BY RECORD_NUMBER`)
	require.Len(t, rows, len(lines))
	for i, r := range rows {
		assert.Equal(t, canonicalJSON(t, lines[i], false), canonicalJSON(t, r[1].(string), false), "record %v", r[0])
	}
}

// loadAndReadBack loads rec as the only record of a file through Load and returns
// TO_JSON of its payload.
func loadAndReadBack(t *testing.T, s *sfemu.Server, c *Client, key, rec string) string {
	t.Helper()
	b := &Batch{Table: "RAW_DATA", LoadID: "parity", LoadedAt: time.Now()}
	f := b.AddFile(File{Bucket: "landing", Key: key, VersionID: "v1", Sequencer: "01", EventTime: time.Now()})
	b.AddRecord(f, 1, []byte(rec))
	_, err := c.Load(context.Background(), b)
	require.NoError(t, err, "Snowflake refuses a record the gate accepted")
	rows := query(t, s, fmt.Sprintf(`SELECT TO_JSON(PAYLOAD) FROM LOADER_DB.RAW.RAW_DATA WHERE S3_KEY = '%s'`, key))
	require.Len(t, rows, 1)
	got, ok := rows[0][0].(string)
	require.True(t, ok, "TO_JSON gives %T", rows[0][0])
	return got
}

// canonicalJSON writes a JSON value in one form for comparison: keys sorted (TO_JSON does
// not promise an order), no whitespace, strings unescaped and escaped again the same way,
// numbers by value. With stored, each number is first given the value PARSE_JSON stores
// (https://docs.snowflake.com/en/sql-reference/functions/parse_json): as written when it
// fits a NUMBER (no exponent, at most 38 digits, at most 37 after the point), else the
// nearest DOUBLE. Without it, numbers keep their exact written value.
func canonicalJSON(t *testing.T, text string, stored bool) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v), "%.200s", text)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(canonicalNumbers(t, v, stored)))
	return strings.TrimSpace(buf.String())
}

func canonicalNumbers(t *testing.T, v any, stored bool) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = canonicalNumbers(t, e, stored)
		}
	case []any:
		for i, e := range v {
			v[i] = canonicalNumbers(t, e, stored)
		}
	case json.Number:
		lit := string(v)
		intPart, frac, _ := strings.Cut(strings.TrimPrefix(lit, "-"), ".")
		intPart = strings.TrimLeft(intPart, "0")
		fixed := !strings.ContainsAny(lit, "eE") && len(frac) <= 37 && len(intPart)+len(frac) <= 38
		if stored && !fixed {
			f, err := strconv.ParseFloat(lit, 64)
			require.NoError(t, err, lit)
			lit = strconv.FormatFloat(f, 'g', -1, 64)
		}
		r, ok := new(big.Rat).SetString(lit)
		require.True(t, ok, lit)
		return json.Number(exactDecimal(r))
	}
	return v
}

// exactDecimal writes r, whose denominator has only the factors 2 and 5, as a decimal
// without trailing zeros.
func exactDecimal(r *big.Rat) string {
	s := r.FloatString(1100)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
