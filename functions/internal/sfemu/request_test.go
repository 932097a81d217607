package sfemu

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseQueryRequest(t *testing.T) {
	body := `{"sqlText":"INSERT INTO t VALUES (?, ?, ?)","asyncExec":false,"sequenceId":3,"isInternal":false,
 "parameters":{"QUERY_TAG":"x"},"queryContextDTO":{"entries":[{"id":0,"context":{}}]},
 "bindings":{"1":{"type":"TEXT","value":["a\"b\\c\n","\u00e9\ud83d\ude00",null,"plain"]},
             "2":{"type":"FIXED","value":[ "1" , null , null, "4" ]},
             "3":{"type":"TEXT","value":null},
             "10":{"type":"BOOLEAN","value":"true","fmt":"x","schema":{"fields":[]}}}}`
	req, err := parseQueryRequest([]byte(body))
	require.NoError(t, err)
	assert.Equal(t, "INSERT INTO t VALUES (?, ?, ?)", req.SQLText)
	assert.Equal(t, map[string]any{"QUERY_TAG": "x"}, req.Parameters)
	require.Len(t, req.Bindings, 4)

	b := req.Bindings["1"]
	assert.True(t, b.isArray)
	assert.Equal(t, []string{"a\"b\\c\n", "é😀", "", "plain"}, b.array)
	assert.Equal(t, []bool{false, false, true, false}, b.nulls)
	b2 := req.Bindings["2"]
	assert.Equal(t, []string{"1", "", "", "4"}, b2.array)
	assert.Equal(t, []bool{false, true, true, false}, b2.nulls)
	assert.Nil(t, req.Bindings["3"].scalar)
	require.NotNil(t, req.Bindings["10"].scalar)
	assert.Equal(t, "true", *req.Bindings["10"].scalar)

	set, err := decodeBindings(req.Bindings)
	require.NoError(t, err)
	assert.Equal(t, 4, set.rows)
	assert.Equal(t, 10, set.count())
	v, ok := set.binds[1].at(1)
	assert.False(t, ok, "row 2 of bind 2 is NULL: %q", v)

	for name, bad := range map[string]string{
		"truncated":           `{"sqlText":"x","bindings":{"1":{"type":"TEXT","value":["a"`,
		"unterminated string": `{"sqlText":"x`,
		"trailing data":       `{"sqlText":"x"} {}`,
		"bad escape":          `{"sqlText":"\x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseQueryRequest([]byte(bad))
			assert.Error(t, err)
		})
	}
}

func FuzzParseQueryRequest(f *testing.F) {
	f.Add(`{"sqlText":"SELECT ?","bindings":{"1":{"type":"TEXT","value":["a",null,"\u00e9"]}}}`)
	f.Add(`{"sqlText":"SELECT 1","parameters":{"MULTI_STATEMENT_COUNT":2}}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := parseQueryRequest([]byte(body))
		if err != nil {
			return
		}
		if set, err := decodeBindings(req.Bindings); err == nil && set != nil {
			for i := range set.binds {
				for r := -1; r < set.rows; r++ {
					set.binds[i].at(r)
				}
			}
		}
	})
}
