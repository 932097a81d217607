package gate

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
)

// What Snowflake loads.
//
// A record the gate accepts but Snowflake refuses fails the whole load batch, and the batch
// fails the same way each time it is redriven. So the scanner, which reads every string and
// number of a record anyway, also checks what PARSE_JSON and the JSON file format do with
// them. Where Snowflake's documentation says it refuses a value, or says nothing, the gate
// refuses the record with a rule of its own. Where the documentation says Snowflake stores
// a different value than the one written (numbers it keeps as DOUBLE), the choice is the
// operator's: Config.Precision.
//
// The facts, from https://docs.snowflake.com/en/sql-reference/functions/parse_json (usage
// notes): a decimal number is stored as a fixed-point NUMBER when it fits one ("123.45" is
// NUMBER(5,2)); a number in scientific notation, or one that cannot be a fixed-point number
// because of its range or scale, is stored as a DOUBLE. A fixed-point NUMBER holds at most
// 38 digits, of which at most 37 after the point
// (https://docs.snowflake.com/en/sql-reference/data-types-numeric). A DOUBLE is an IEEE 754
// double: about 15 to 17 significant digits, magnitudes up to about 1.8e308. The JSON file
// format of COPY and staged files reads documents the same way: its ALLOW_DUPLICATE option
// defaults to FALSE, and invalid UTF-8 is an error unless REPLACE_INVALID_CHARACTERS or
// IGNORE_UTF8_ERRORS is set (https://docs.snowflake.com/en/sql-reference/sql/create-file-format,
// format type options for JSON). Neither page says anything about \u escapes of surrogates
// or NUL, about nesting depth, or about numbers beyond a DOUBLE.

// MaxDepth is how deeply the gate lets arrays and objects nest in a record. Snowflake's
// documentation gives no limit for PARSE_JSON or the JSON file format, so the gate takes
// the safe side: a bound far beyond any event record (they rarely pass ten levels) and
// within the nesting limits of the common JSON parsers, rather than the 10,000 levels
// encoding/json allows, which nothing promises Snowflake will take.
const MaxDepth = 256

// maxFixedDigits and maxFixedScale bound the numbers PARSE_JSON keeps exactly, as NUMBER:
// at most 38 digits, at most 37 of them after the point.
const (
	maxFixedDigits = 38
	maxFixedScale  = 37
)

// Precision says what the gate does with a record holding a number that Snowflake would
// store as a DOUBLE with another value than the one written.
type Precision string

const (
	// PrecisionReject treats such a record as invalid: the file is rejected, or the record
	// skipped under MaxBadRecords. No number is ever changed on its way into Snowflake.
	PrecisionReject Precision = "reject"
	// PrecisionWarn loads the record; Snowflake stores the nearest DOUBLE. The result
	// counts such records and the first ones are listed as warnings. The schema judges the
	// value Snowflake stores, so a bound such as amount's maximum still holds after rounding.
	PrecisionWarn Precision = "warn"
)

// issue is something in a record that Snowflake refuses or changes: which rule, and the
// bounds of the value (or, for nesting, of the container) in the record.
type issue struct {
	rule       string
	start, end int
	depth      int // for RuleDepth
}

// noteRefusal keeps the first value Snowflake would refuse.
func (s *scanner) noteRefusal(rule string, start, end int) {
	if s.refusal.rule == "" {
		s.refusal = issue{rule: rule, start: start, end: end, depth: s.depth}
	}
}

// checkDouble looks at the valid number d[start:end], which PARSE_JSON stores as a DOUBLE
// (it has an exponent, or more digits than a NUMBER holds), for its range and for the value
// it ends up with.
func (s *scanner) checkDouble(start, end int) {
	lit := s.data[start:end]
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil && math.IsInf(f, 0) {
		s.noteRefusal(RuleNumberRange, start, end)
		return
	}
	if s.lossy.rule == "" {
		s.scratch = strconv.AppendFloat(s.scratch[:0], f, 'g', -1, 64)
		if !sameDecimal(lit, s.scratch) {
			s.lossy = issue{rule: RulePrecision, start: start, end: end}
		}
	}
}

// sameDecimal reports whether the JSON numbers a and b have the same exact value. Both are
// brought to the form 0.DIGITS × 10^exp without leading or trailing zeros, and compared.
func sameDecimal(a, b []byte) bool {
	an, ad, ae, aok := decimalForm(a)
	bn, bd, be, bok := decimalForm(b)
	if !aok || !bok {
		return false
	}
	if len(ad) == 0 || len(bd) == 0 {
		return len(ad) == len(bd) // zero, whatever the sign: -0 is 0
	}
	return an == bn && ae == be && string(ad) == string(bd)
}

// decimalForm splits a valid number into its sign, its significant digits and the decimal
// exponent that puts the point before the first of them; zero has no digits. ok is false
// when the exponent is too large to add up, which only a number other than zero far out of
// any float's range can have.
func decimalForm(n []byte) (neg bool, digits []byte, exp int, ok bool) {
	i := 0
	if i < len(n) && n[i] == '-' {
		neg, i = true, 1
	}
	pointAt := -1
	var all []byte
	for ; i < len(n) && (isDigit(n[i]) || n[i] == '.'); i++ {
		if n[i] == '.' {
			pointAt = len(all)
			continue
		}
		all = append(all, n[i])
	}
	if pointAt < 0 {
		pointAt = len(all)
	}
	lead := 0
	for lead < len(all) && all[lead] == '0' {
		lead++
	}
	trail := len(all)
	for trail > lead && all[trail-1] == '0' {
		trail--
	}
	if lead == trail {
		return neg, nil, 0, true // zero, whatever its exponent
	}
	if i < len(n) { // an exponent
		e, err := strconv.Atoi(string(n[i+1:]))
		if err != nil || e > math.MaxInt32 || e < math.MinInt32 {
			return neg, nil, 0, false
		}
		exp = e
	}
	return neg, all[lead:trail], exp + pointAt - lead, true
}

// asStored replaces, in a decoded record, each number Snowflake stores as a DOUBLE of
// another value by that value, so the schema judges what Snowflake will hold.
func asStored(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = asStored(e)
		}
	case []any:
		for i, e := range v {
			v[i] = asStored(e)
		}
	case json.Number:
		if d, changed := storedDouble([]byte(v)); changed {
			return json.Number(strconv.FormatFloat(d, 'g', -1, 64))
		}
	}
	return v
}

// storedDouble reports whether PARSE_JSON stores the valid number lit as a DOUBLE of
// another value, and that DOUBLE. A number out of the DOUBLE's range is not its concern:
// the scanner refuses it first.
func storedDouble(lit []byte) (float64, bool) {
	// Count the digits as the scanner does: a lone 0 before the point counts none.
	i := 0
	if i < len(lit) && lit[i] == '-' {
		i++
	}
	at := i
	for i < len(lit) && isDigit(lit[i]) {
		i++
	}
	intDigits := i - at
	if intDigits == 1 && lit[at] == '0' {
		intDigits = 0
	}
	fracDigits := 0
	if i < len(lit) && lit[i] == '.' {
		at = i + 1
		for i = at; i < len(lit) && isDigit(lit[i]); i++ {
		}
		fracDigits = i - at
	}
	f, _ := strconv.ParseFloat(string(lit), 64)
	if i == len(lit) && fracDigits <= maxFixedScale && intDigits+fracDigits <= maxFixedDigits {
		return f, false // a NUMBER: kept as written
	}
	return f, !sameDecimal(lit, strconv.AppendFloat(nil, f, 'g', -1, 64))
}

// loadFinding describes an issue the scanner found in rec, in plain words. warn is true for
// a number loaded under PrecisionWarn.
func loadFinding(rec records.Record, sc *scanner, is issue, warn bool) Finding {
	line, off := rec.At(is.start)
	at := pointerTo(rec.Raw, sc.start, is.start)
	if at == "" {
		at = "/"
	}
	val := rec.Raw[is.start:is.end]
	var msg string
	switch is.rule {
	case RuleLoneSurrogate:
		msg = fmt.Sprintf("the string at '%s' holds a \\u escape of half a UTF-16 surrogate pair without its other half; "+
			"that is not a character, and Snowflake does not promise to load it. Write the character itself, or both halves of the pair (\\ud83d\\ude00)", at)
	case RuleNULCharacter:
		msg = fmt.Sprintf("the string at '%s' holds \\u0000, the NUL character; Snowflake does not promise to load it, "+
			"and many tools cut text at it. Remove it, or send binary content base64-encoded", at)
	case RuleNumberRange:
		msg = fmt.Sprintf("the number at '%s' (%s) is beyond the range of a DOUBLE (about ±1.8e308), the widest number Snowflake stores; "+
			"send it as a string if it must be kept", at, clip(val))
	case RulePrecision:
		f, _ := strconv.ParseFloat(string(val), 64)
		if warn {
			msg = fmt.Sprintf("the number at '%s' (%s) is not kept as written: Snowflake stores numbers with an exponent or more than 38 digits as a DOUBLE, and it is loaded as the DOUBLE %s (LOSSY_NUMBERS=warn)",
				at, clip(val), strconv.FormatFloat(f, 'g', -1, 64))
			break
		}
		msg = fmt.Sprintf("the number at '%s' (%s) is not kept as written: Snowflake stores numbers with an exponent or more than 38 digits as a DOUBLE, and this one would be stored as the DOUBLE %s. "+
			"Send it as a string to keep every digit, or set LOSSY_NUMBERS=warn to load the rounded value", at, clip(val), strconv.FormatFloat(f, 'g', -1, 64))
	case RuleDepth:
		msg = fmt.Sprintf("the value at '%s' is nested %d levels deep; the gate loads at most %d levels, "+
			"because Snowflake documents no limit it promises to take", clip([]byte(at)), is.depth, MaxDepth)
	}
	return Finding{Rule: is.rule, Record: rec.Number, Line: line, Offset: off, Message: msg}
}

// clip shortens what a message quotes from a record.
func clip(b []byte) string {
	const most = 80
	if len(b) <= most {
		return string(b)
	}
	return string(b[:most]) + "..."
}
