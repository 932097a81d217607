package records

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnclosedValueMessage checks the sentence for a value cut off by the end of the file.
func TestUnclosedValueMessage(t *testing.T) {
	tests := []struct {
		name, key, body, want string
	}{
		{name: "object in an array", key: "e.json", body: `[{"a": 1`, want: "the object opened here is never closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(strings.NewReader(tc.body), tc.key, Limits{})
			require.NoError(t, err)
			var last error
			for range 5 {
				if _, last = r.Next(); last != nil {
					break
				}
			}
			require.Error(t, last)
			assert.Contains(t, last.Error(), tc.want)
			assert.NotContains(t, last.Error(), "the an ")
		})
	}
}
