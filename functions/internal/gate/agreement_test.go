package gate

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu/snowsql"
)

// agreeWithEmulator checks the scanner against the emulator's PARSE_JSON on one record: what
// the gate lets through for Snowflake's sake, the emulator loads, and what the gate refuses
// for Snowflake's sake (a duplicate key, a value Snowflake refuses), the emulator refuses
// too. A number the gate calls rounded loads, as the emulator's DOUBLE.
func agreeWithEmulator(t testing.TB, data []byte) {
	t.Helper()
	var sc scanner
	ok := sc.scan(data)
	_, _, err := snowsql.ParseJSON(string(data), false)
	var jerr *snowsql.JSONError
	if err != nil && !errors.As(err, &jerr) {
		t.Fatalf("ParseJSON fails with %T: %v", err, err)
	}
	switch {
	case !ok:
		// A syntax error: json.Valid says no (FuzzPlan checks), and so must the emulator.
		if err == nil {
			t.Fatalf("the gate finds a syntax error (%s), the emulator loads %q", sc.errMsg, data)
		}
	case sc.dupAt >= 0 || sc.refusal.rule != "":
		if err == nil {
			t.Fatalf("the gate refuses (duplicate at %d, rule %q), the emulator loads %q", sc.dupAt, sc.refusal.rule, data)
		}
	default:
		if err != nil {
			t.Fatalf("the gate lets through what the emulator refuses: %v, in %q", err, data)
		}
	}
}

func TestGateAgreesWithEmulator(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for range 20000 {
		agreeWithEmulator(t, []byte(randomLoadable(r, 0)))
		agreeWithEmulator(t, []byte(wideObject(r, 0)))
	}
	for _, rec := range []string{
		`{"d":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`,
		`{"d":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`,
		`{"a":1,"\u0061":2}`, `{"a":"\ud83d\ude00"}`, `{"a":"\ud83d"}`, `{"a":01}`,
	} {
		agreeWithEmulator(t, []byte(rec))
	}
	assert.Equal(t, MaxDepth, snowsql.MaxJSONDepth, "the emulator refuses from the same depth")
}

// FuzzGateAgreesWithEmulator runs agreeWithEmulator on arbitrary records.
func FuzzGateAgreesWithEmulator(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1e309}`, `{"a":"\ud800"}`, `{"a":"\u0000"}`, `{"a":1,"a":2}`, `{"a":123456789012345678901234567890123456789}`,
		`{"a":[1.5e2,-0,0.1234567890123456789012345678901234567]}`, `{"a":"\ud83d\ude00\\ude00"}`, `{"a":tru}`, ` {"a":{}} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) || len(strings.TrimSpace(string(data))) == 0 {
			return // the record reader rejects these before any record reaches the scanner
		}
		if trimmed := strings.TrimLeft(string(data), " \t\r\n"); trimmed[0] != '{' {
			return // records are objects; the emulator reads any JSON value
		}
		agreeWithEmulator(t, data)
	})
}
