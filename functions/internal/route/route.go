// Package route maps an accepted file to the Snowflake table it loads into.
package route

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// DefaultTable receives every file no rule routes elsewhere.
const DefaultTable = "RAW_DATA"

// identifier is Snowflake's unquoted identifier grammar (letters, digits, _ and $, not starting
// with a digit or $, at most 255 characters), optionally qualified as DATABASE.SCHEMA.TABLE.
// Quoted identifiers are refused on purpose: a table name from configuration ends up in SQL
// text, and the unquoted grammar leaves no room for injection.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,254}(\.[A-Za-z_][A-Za-z0-9_$]{0,254}){0,2}$`)

// ValidTable reports whether name is an unquoted, optionally qualified Snowflake identifier.
func ValidTable(name string) bool { return identifier.MatchString(name) }

// Rule sends files whose key starts with Prefix (and, when Field is set, whose records carry
// Value in that field) to Table.
type Rule struct {
	Prefix string
	Field  string
	Value  string
	Table  string
}

// Router picks a table for a file. It is immutable and safe for concurrent use.
type Router struct {
	rules   []Rule
	field   string
	allowed map[string]bool
}

// New checks the rules against Snowflake's identifier grammar and the allow-list. The default
// table is always allowed. All field rules must use the same field: the gate reads one field.
func New(rules []Rule, allowed []string) (*Router, error) {
	r := &Router{allowed: map[string]bool{DefaultTable: true}}
	for _, t := range allowed {
		t = strings.ToUpper(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		if !ValidTable(t) {
			return nil, fmt.Errorf("allowed table %q is not a valid Snowflake identifier (letters, digits, _ and $, optionally DATABASE.SCHEMA.TABLE)", t)
		}
		r.allowed[t] = true
	}
	for _, rule := range rules {
		rule.Table = strings.ToUpper(rule.Table)
		switch {
		case !ValidTable(rule.Table):
			return nil, fmt.Errorf("route %q: table %q is not a valid Snowflake identifier", rule.Prefix, rule.Table)
		case !r.allowed[rule.Table]:
			return nil, fmt.Errorf("route %q: table %s is not in the allowed tables (%s)", rule.Prefix, rule.Table, strings.Join(r.Allowed(), ", "))
		case rule.Field != "" && r.field != "" && rule.Field != r.field:
			return nil, fmt.Errorf("route %q: routes may read one record field only, found %q and %q", rule.Prefix, r.field, rule.Field)
		}
		if rule.Field != "" {
			r.field = rule.Field
		}
		r.rules = append(r.rules, rule)
	}
	// The most specific rule wins: longer prefixes first, and a rule with a field condition
	// before a plain one of the same prefix.
	sort.SliceStable(r.rules, func(i, j int) bool {
		a, b := r.rules[i], r.rules[j]
		if len(a.Prefix) != len(b.Prefix) {
			return len(a.Prefix) > len(b.Prefix)
		}
		return a.Field != "" && b.Field == ""
	})
	return r, nil
}

// Parse reads routes written as comma-separated entries PREFIX=TABLE or
// PREFIX[field=value]=TABLE, for example
// "incoming/orders/=ORDERS,incoming/web/[source=app]=APP_EVENTS".
func Parse(spec string, allowed []string) (*Router, error) {
	var rules []Rule
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		eq := strings.LastIndex(entry, "=")
		if eq <= 0 || eq == len(entry)-1 {
			return nil, fmt.Errorf("route %q: write PREFIX=TABLE or PREFIX[field=value]=TABLE", entry)
		}
		rule := Rule{Prefix: entry[:eq], Table: entry[eq+1:]}
		if open := strings.Index(rule.Prefix, "["); open >= 0 {
			cond := rule.Prefix[open:]
			rule.Prefix = rule.Prefix[:open]
			field, value, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(cond, "["), "]"), "=")
			if !ok || !strings.HasSuffix(cond, "]") || field == "" {
				return nil, fmt.Errorf("route %q: a field condition is written [field=value]", entry)
			}
			rule.Field, rule.Value = field, value
		}
		rules = append(rules, rule)
	}
	return New(rules, allowed)
}

// Field is the record field the rules read, or "" when no rule reads one.
func (r *Router) Field() string { return r.field }

// Allowed lists the allowed tables, sorted.
func (r *Router) Allowed() []string {
	out := make([]string, 0, len(r.allowed))
	for t := range r.allowed {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Table returns the table for a file with this key whose records carry fieldValue in the
// routing field.
func (r *Router) Table(key, fieldValue string) string {
	for _, rule := range r.rules {
		if !strings.HasPrefix(key, rule.Prefix) {
			continue
		}
		if rule.Field != "" && rule.Value != fieldValue {
			continue
		}
		return rule.Table
	}
	return DefaultTable
}
