package gate

import (
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// builtinDateTime is the library's own date-time format. The plan checks that format
// without calling it, because the library's check allocates for every value and the
// timestamp is in every record; a date-time format registered by whoever compiled the
// schema is a different *Format and is called as it is.
var builtinDateTime = sync.OnceValue(func() *jsonschema.Format {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("probe.json", map[string]any{"format": "date-time"}); err != nil {
		return nil
	}
	sch, err := c.Compile("probe.json")
	if err != nil {
		return nil
	}
	return sch.Format
})

// isDateTime reports whether s is an RFC 3339 date-time in the plain form
// 2026-11-01T12:30:00(.123)?(Z|+01:00). It accepts a subset of what the library accepts:
// a leap second, or any looser spelling the library tolerates, returns false, and the plan
// then leaves the value to the library rather than call it invalid.
func isDateTime(s []byte) bool {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' && s[10] != 't' || s[13] != ':' || s[16] != ':' {
		return false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	h, ok4 := digits(s[11:13])
	m, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || h > 23 || m > 59 || sec > 59 {
		return false
	}
	rest := s[19:]
	if rest[0] == '.' {
		k := 1
		for k < len(rest) && isDigit(rest[k]) {
			k++
		}
		if k == 1 {
			return false
		}
		rest = rest[k:]
	}
	switch {
	case len(rest) == 1:
		return rest[0] == 'Z' || rest[0] == 'z'
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		zh, ok1 := digits(rest[1:3])
		zm, ok2 := digits(rest[4:6])
		return ok1 && ok2 && zh <= 23 && zm <= 59
	}
	return false
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
