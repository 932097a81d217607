package batch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxSkips bounds how many invalid records one file may have skipped (the validator's
// MAX_BAD_RECORDS). A file's skips travel in the execution input, and a batch whose input is
// too large is split, but one file cannot be: its input must fit Step Functions' 256 KiB limit
// on its own. At 11 bytes for an isolated 10-digit record number, 10,000 skips take 110 KB,
// which leaves room for the rest of the file's entry and its dead-letter notification
// (TestWorstCaseInputFits).
// https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
const MaxSkips = 10_000

// Skips is the set of 1-based record numbers of one file that the validator found invalid
// under a bad-record threshold, in ascending order. In the execution input it is written as
// ranges, "3-7,12,40-41", so a run of bad records costs one entry. The loader also reads the
// plain array of numbers that earlier validators wrote.
type Skips []int64

// MarshalJSON writes the set as a string of ranges.
func (s Skips) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.String())
}

// String is the range form: ascending, comma-separated, a run of consecutive numbers as
// first-last.
func (s Skips) String() string {
	sorted := slices.Compact(slices.Sorted(slices.Values(s)))
	var b strings.Builder
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(sorted[i], 10))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(sorted[j], 10))
		}
		i = j + 1
	}
	return b.String()
}

// UnmarshalJSON reads either form: a string of ranges, or an array of numbers.
func (s *Skips) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		*s = nil
		return nil
	}
	if len(data) > 0 && data[0] == '[' {
		var list []int64
		if err := json.Unmarshal(data, &list); err != nil {
			return fmt.Errorf("skip: %w", err)
		}
		*s = Skips(slices.Compact(slices.Sorted(slices.Values(list))))
		return nil
	}
	var text string
	if err := json.Unmarshal(data, &text); err != nil {
		return fmt.Errorf("skip must be a string of record ranges or an array of record numbers: %w", err)
	}
	parsed, err := ParseSkips(text)
	if err != nil {
		return err
	}
	*s = parsed
	return nil
}

// ParseSkips reads the range form. It refuses a range that runs backwards and one longer
// than MaxSkips, so a malformed input cannot make the loader allocate without bound.
func ParseSkips(text string) (Skips, error) {
	var out Skips
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(text, ",") {
		first, last, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseInt(first, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("skip %q: %q is not a record number", text, part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("skip %q: %q is not a range of record numbers", text, part)
			}
		}
		if b-a >= MaxSkips || int64(len(out))+b-a >= MaxSkips {
			return nil, fmt.Errorf("skip %q names more than %d records", text, MaxSkips)
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return Skips(slices.Compact(slices.Sorted(slices.Values(out)))), nil
}
