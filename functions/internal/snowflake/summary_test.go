package snowflake

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDailySummary loads events of two days through the loader and reads DAILY_SUMMARY as
// sql/setup.sql defines it: files per day, events per day by action, amounts per day.
func TestDailySummary(t *testing.T) {
	s := emulator(t)
	c := newClient(t, s, nil)

	events := map[string][]string{
		"day1-a.json": {
			`{"action":"view","timestamp":"2026-11-01T08:00:00Z"}`,
			`{"action":"click","timestamp":"2026-11-01T08:01:00Z"}`,
			`{"action":"purchase","amount":10.50,"timestamp":"2026-11-01T08:02:00Z"}`,
		},
		"day1-b.json": {
			`{"action":"add_to_cart","timestamp":"2026-11-01T09:00:00Z"}`,
			`{"action":"purchase","amount":4.25,"timestamp":"2026-11-01T09:05:00Z"}`,
			`{"action":"view","timestamp":"2026-11-02T23:59:59Z"}`,
		},
		"day2.json": {
			`{"action":"refund","amount":10.50,"timestamp":"2026-11-02T10:00:00Z"}`,
			`{"action":"view","timestamp":"2026-11-02T11:00:00Z"}`,
		},
	}
	b := &Batch{Table: "RAW_DATA", LoadID: "load-summary", LoadedAt: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}
	for _, key := range []string{"day1-a.json", "day1-b.json", "day2.json"} {
		f := b.AddFile(File{Bucket: "landing", Key: key, VersionID: "v1", Sequencer: "0A", EventTime: time.Now()})
		for n, e := range events[key] {
			b.AddRecord(f, int64(n+1), []byte(e))
		}
	}
	_, err := c.Load(context.Background(), b)
	require.NoError(t, err)

	rows := query(t, s, `SELECT EVENT_DATE, FILES_LOADED, TOTAL_EVENTS, VIEWS, CLICKS, ADD_TO_CARTS,
		PURCHASES, REFUNDS, PURCHASE_AMOUNT, REFUND_AMOUNT FROM LOADER_DB.RAW.DAILY_SUMMARY ORDER BY EVENT_DATE`)
	require.Len(t, rows, 2)
	day := func(r []any) []string {
		out := make([]string, len(r))
		for i, v := range r {
			out[i] = fmt.Sprint(v)
		}
		return out
	}
	d1, d2 := day(rows[0]), day(rows[1])
	assert.Contains(t, d1[0], "2026-11-01")
	assert.Equal(t, []string{"2", "5", "1", "1", "1", "2", "0"}, d1[1:8], "files, events, views, clicks, carts, purchases, refunds")
	assert.Equal(t, "14.75", trimZeros(d1[8]))
	assert.Equal(t, "0", trimZeros(d1[9]))
	assert.Contains(t, d2[0], "2026-11-02")
	assert.Equal(t, []string{"2", "3", "2", "0", "0", "0", "1"}, d2[1:8])
	assert.Equal(t, "0", trimZeros(d2[8]))
	assert.Equal(t, "10.5", trimZeros(d2[9]))
}

// trimZeros writes a decimal without trailing zeros, so 10.50 and 10.5 compare equal.
func trimZeros(s string) string {
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		return s
	}
	return fmt.Sprint(f)
}

// TestDailySummaryAmountBound shows why the shipped schema bounds amount: DAILY_SUMMARY
// casts each amount to NUMBER(18,2), and one amount it cannot hold fails every read of the
// summary with Snowflake's "Numeric value out of range" (100039), not only that record's day.
// The schema's maximum, 9999999999999999.99, is the largest NUMBER(18,2).
func TestDailySummaryAmountBound(t *testing.T) {
	tests := []struct {
		name   string
		amount string
		want   string // PURCHASE_AMOUNT; amount when empty
		fails  bool
	}{
		{name: "largest amount", amount: "9999999999999999.99"},
		{name: "largest amount after rounding", amount: "9999999999999999.994", want: "9999999999999999.99"},
		{name: "rounding past NUMBER(18,2)", amount: "9999999999999999.995", fails: true},
		{name: "beyond NUMBER(18,2)", amount: "10000000000000000", fails: true},
		{name: "beyond NUMBER(18,2) as a DOUBLE", amount: "1e16", fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			c := newClient(t, s, nil)
			b := &Batch{Table: "RAW_DATA", LoadID: "load-bound", LoadedAt: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}
			f := b.AddFile(File{Bucket: "landing", Key: "big.json", VersionID: "v1", Sequencer: "0A", EventTime: time.Now()})
			b.AddRecord(f, 1, []byte(`{"action":"view","timestamp":"2026-11-01T08:00:00Z"}`))
			b.AddRecord(f, 2, []byte(`{"action":"purchase","amount":`+tt.amount+`,"timestamp":"2026-11-02T08:00:00Z"}`))
			_, err := c.Load(context.Background(), b)
			require.NoError(t, err, "the load itself never casts the amount")

			_, rows, err := s.Query(context.Background(), `SELECT EVENT_DATE, PURCHASE_AMOUNT::VARCHAR FROM LOADER_DB.RAW.DAILY_SUMMARY ORDER BY EVENT_DATE`)
			if tt.fails {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "100039 (22003)", "Snowflake's code for a numeric value out of range")
				return
			}
			require.NoError(t, err)
			require.Len(t, rows, 2, "both days, the one without the amount too")
			want := tt.want
			if want == "" {
				want = tt.amount
			}
			assert.Equal(t, want, rows[1][1])
		})
	}
}
