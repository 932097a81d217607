package snowsql

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// templateVar matches the Snowflake CLI's template syntax, <% name %>.
var templateVar = regexp.MustCompile(`<%\s*([^%]*?)\s*%>`)

// MissingVariablesError names the template variables a script uses but was not given.
type MissingVariablesError struct {
	Names []string
}

func (e *MissingVariablesError) Error() string {
	return fmt.Sprintf("SQL template variable(s) not defined: %s (pass them with -D name=value)", strings.Join(e.Names, ", "))
}

// Expand substitutes <% name %> in a script the way `snow sql -f file -D name=value` does:
// over the whole text, comments included, before any SQL is read. Every variable the
// script uses must be given.
func Expand(script string, vars map[string]string) (string, error) {
	missing := map[string]bool{}
	out := templateVar.ReplaceAllStringFunc(script, func(m string) string {
		name := templateVar.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok {
			missing[name] = true
			return m
		}
		return v
	})
	if len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for n := range missing {
			names = append(names, n)
		}
		sort.Strings(names)
		return "", &MissingVariablesError{Names: names}
	}
	return out, nil
}
