package snowsql

import (
	"strings"
)

func castFunc(snowType string) func(c *callCtx) (item, error) {
	return func(c *callCtx) (item, error) {
		if err := c.arity(1, 2); err != nil {
			return item{}, err
		}
		t, _ := mapType(snowType, nil)
		if len(c.args) == 2 {
			f := c.args[1]
			if !f.isLit || f.lit != String {
				return item{}, compileErr("format argument of %s must be a string literal", c.name)
			}
			src := c.args[0]
			if src.kind == kindJSON {
				src.sql = src.unwrapped()
			}
			return item{sql: "CAST(strptime(" + src.sql + ", " + QuoteString(convertFormat(c.raw[1][0].Text)) + ") AS " + t.duck + ")", kind: kindOther}, nil
		}
		a := c.args[0]
		if a.isLit && a.lit == Number && (t.duck == "TIMESTAMP" || t.duck == "TIMESTAMPTZ") {
			// A number is seconds since the epoch.
			return item{sql: "CAST(to_timestamp(" + a.sql + ") AS " + t.duck + ")", kind: kindOther}, nil
		}
		return castTo(a, t, false), nil
	}
}

func numberFunc(c *callCtx) (item, error) {
	if err := c.arity(1, 4); err != nil {
		return item{}, err
	}
	var args []string
	for _, a := range c.args[1:] {
		if !a.isLit || a.lit != Number {
			// TO_NUMBER(x, 'format', p, s): the format is not used by the emulator.
			if a.isLit && a.lit == String {
				continue
			}
			return item{}, compileErr("precision and scale of %s must be constants", c.name)
		}
		args = append(args, a.sql)
	}
	t, err := mapType("NUMBER", args)
	if err != nil {
		return item{}, compileErr("%s", err.Error())
	}
	return castTo(c.args[0], t, false), nil
}

func toVarchar(c *callCtx) (item, error) {
	if err := c.arity(1, 2); err != nil {
		return item{}, err
	}
	if len(c.args) == 2 {
		f := c.args[1]
		if !f.isLit || f.lit != String {
			return item{}, compileErr("format argument of %s must be a string literal", c.name)
		}
		return item{sql: "strftime(" + c.args[0].sql + ", " + QuoteString(convertFormat(c.raw[1][0].Text)) + ")", kind: kindOther}, nil
	}
	t, _ := mapType("VARCHAR", nil)
	return castTo(c.args[0], t, false), nil
}

func dateAdd(c *callCtx) (item, error) {
	if err := c.arity(3, 3); err != nil {
		return item{}, err
	}
	p, err := c.part(0)
	if err != nil {
		return item{}, err
	}
	n := "CAST(" + c.args[1].sql + " AS BIGINT)"
	var interval string
	switch f := intervalFuncs[p]; {
	case p == "quarter":
		interval = "to_months(3 * " + n + ")"
	case f != "":
		interval = f + "(" + n + ")"
	default:
		return item{}, compileErr("error line 1 at position 0\ninvalid date part '%s' for function %s", p, c.name)
	}
	return item{sql: "(" + c.args[2].sql + " + " + interval + ")", kind: kindOther}, nil
}

func dateDiff(c *callCtx) (item, error) {
	if err := c.arity(3, 3); err != nil {
		return item{}, err
	}
	p, err := c.part(0)
	if err != nil {
		return item{}, err
	}
	return item{sql: "date_diff(" + QuoteString(p) + ", " + c.args[1].sql + ", " + c.args[2].sql + ")", kind: kindOther}, nil
}

// convertFormat turns a Snowflake date/time format into a strftime/strptime format.
func convertFormat(f string) string {
	repl := []struct{ from, to string }{
		{"YYYY", "%Y"}, {"YY", "%y"}, {"MMMM", "%B"}, {"MON", "%b"}, {"MM", "%m"}, {"DD", "%d"},
		{"DY", "%a"}, {"HH24", "%H"}, {"HH12", "%I"}, {"HH", "%H"}, {"AM", "%p"}, {"PM", "%p"},
		{"MI", "%M"}, {"SS", "%S"}, {"FF9", "%n"}, {"FF6", "%f"}, {"FF3", "%g"}, {"FF", "%n"},
		{"TZH:TZM", "%z"}, {"TZHTZM", "%z"},
	}
	var b strings.Builder
	up := strings.ToUpper(f)
	for i := 0; i < len(f); {
		if f[i] == '"' {
			end := strings.IndexByte(f[i+1:], '"')
			if end < 0 {
				b.WriteString(f[i+1:])
				break
			}
			b.WriteString(strings.ReplaceAll(f[i+1:i+1+end], "%", "%%"))
			i += end + 2
			continue
		}
		matched := false
		for _, r := range repl {
			if strings.HasPrefix(up[i:], r.from) {
				b.WriteString(r.to)
				i += len(r.from)
				matched = true
				break
			}
		}
		if !matched {
			if f[i] == '%' {
				b.WriteString("%%")
			} else {
				b.WriteByte(f[i])
			}
			i++
		}
	}
	return b.String()
}

var datePartAliases = map[string]string{
	"y": "year", "yy": "year", "yyy": "year", "yyyy": "year", "yr": "year", "years": "year", "yrs": "year",
	"mm": "month", "mon": "month", "mons": "month", "months": "month",
	"d": "day", "dd": "day", "days": "day", "dayofmonth": "day",
	"h": "hour", "hh": "hour", "hr": "hour", "hours": "hour", "hrs": "hour",
	"m": "minute", "mi": "minute", "min": "minute", "minutes": "minute", "mins": "minute",
	"s": "second", "sec": "second", "seconds": "second", "secs": "second",
	"w": "week", "wk": "week", "weekofyear": "week", "woy": "week", "wy": "week", "weeks": "week",
	"q": "quarter", "qtr": "quarter", "qtrs": "quarter", "quarters": "quarter",
	"ms": "millisecond", "msec": "millisecond", "milliseconds": "millisecond",
	"us": "microsecond", "usec": "microsecond", "microseconds": "microsecond",
	"ns": "nanosecond", "nsec": "nanosecond", "nanoseconds": "nanosecond", "nanosec": "nanosecond",
}

// intervalFuncs are DuckDB's constructors of an interval of n date parts.
var intervalFuncs = map[string]string{
	"year": "to_years", "quarter": "", "month": "to_months", "week": "to_weeks", "day": "to_days",
	"hour": "to_hours", "minute": "to_minutes", "second": "to_seconds",
	"millisecond": "to_milliseconds", "microsecond": "to_microseconds",
}
