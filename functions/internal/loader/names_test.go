package loader

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepFunctionsNames are names Step Functions itself gives a failed execution that reach the
// dead-letter queue: documented in the README, matched by the Catch's States.ALL.
var stepFunctionsNames = []string{"States.Timeout"}

// readmeErrorTable reads the README's "Error names" table: each documented name and whether
// the table says the state machine retries it.
func readmeErrorTable(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	require.NoError(t, err)
	text := string(data)
	start := strings.Index(text, "## Error names")
	require.GreaterOrEqual(t, start, 0, "the README has an Error names section")
	section := text[start:]
	if end := strings.Index(section[2:], "\n## "); end >= 0 {
		section = section[:end+2]
	}
	names := map[string]bool{}
	code := regexp.MustCompile("`([A-Za-z0-9]+\\.[A-Za-z0-9]+)`")
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || strings.TrimSpace(cells[1]) == "Name" || strings.HasPrefix(strings.TrimSpace(cells[1]), "-") {
			continue
		}
		retried := strings.HasPrefix(strings.TrimSpace(cells[3]), "yes")
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			names[m[1]] = retried
		}
	}
	require.NotEmpty(t, names, "the Error names table has rows")
	return names
}

// stateMachineNames reads the error names the loader's task states retry and catch.
func stateMachineNames(t *testing.T) (retried, caught []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "statemachine", "loader.asl.json"))
	require.NoError(t, err)
	var def struct {
		States map[string]struct {
			Resource string
			Retry    []struct{ ErrorEquals []string }
			Catch    []struct{ ErrorEquals []string }
		}
	}
	require.NoError(t, json.Unmarshal(data, &def))
	var tasks int
	for _, st := range def.States {
		if st.Resource != "arn:aws:states:::lambda:invoke" {
			continue
		}
		tasks++
		for _, r := range st.Retry {
			retried = append(retried, r.ErrorEquals...)
		}
		for _, c := range st.Catch {
			caught = append(caught, c.ErrorEquals...)
		}
	}
	require.Positive(t, tasks, "the definition invokes the loader")
	slices.Sort(retried)
	slices.Sort(caught)
	return slices.Compact(retried), slices.Compact(caught)
}

// TestErrorNamesAgree checks the README's error table, the loader's error names and the
// state machine's Retry and Catch lists against each other: every name the loader returns
// is documented; every name the state machine matches is documented; the table documents
// nothing else; and it says "retried" exactly for the names a Retry lists.
func TestErrorNamesAgree(t *testing.T) {
	readme := readmeErrorTable(t)
	retried, caught := stateMachineNames(t)

	for _, name := range Names() {
		assert.Contains(t, readme, name, "the loader returns %s, which the README's error table must list", name)
		assert.NotEmpty(t, advice[name], "%s has no advice for the dead-letter message", name)
	}
	for _, name := range append(slices.Clone(retried), caught...) {
		if name == "States.ALL" {
			continue
		}
		assert.Contains(t, readme, name, "the state machine matches %s, which the README's error table must list", name)
	}

	known := append(append(Names(), retried...), stepFunctionsNames...)
	for _, c := range caught {
		if c != "States.ALL" {
			known = append(known, c)
		}
	}
	for name, documentedRetry := range readme {
		assert.Contains(t, known, name, "the README documents %s, which neither the loader nor the state machine knows", name)
		assert.Equal(t, slices.Contains(retried, name), documentedRetry,
			"the README and the state machine disagree on whether %s is retried", name)
	}
	assert.Contains(t, caught, "States.ALL", "every other failure takes the dead-letter path")
}
