package gendata_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
)

type event struct {
	EventID   string       `json:"event_id"`
	UserID    string       `json:"user_id"`
	Action    string       `json:"action"`
	Amount    *json.Number `json:"amount"`
	Timestamp time.Time    `json:"timestamp"`
}

func ndjson(t *testing.T, opt gendata.Options) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := gendata.WriteNDJSON(&b, opt)
	require.NoError(t, err)
	assert.Equal(t, int64(b.Len()), n, "the byte count returned is the bytes written")
	return b.Bytes()
}

func TestSameSeedSameBytes(t *testing.T) {
	opt := gendata.Options{Seed: 1, Records: 500}
	a, b := ndjson(t, opt), ndjson(t, opt)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, ndjson(t, gendata.Options{Seed: 2, Records: 500}))

	// The bytes for a seed are fixed across releases: the local runner and the tests
	// count rows by them. Change these only on purpose.
	first := ndjson(t, gendata.Options{Seed: 1, Records: 1})
	assert.Equal(t, `{"event_id":"evt-00000001-000000000","user_id":"user-43605","action":"view","timestamp":"2026-11-07T12:41:18Z","session_id":"s-01d80c32e889","page":"/checkout","product_id":"sku-06740","device":"mobile"}`+"\n", string(first))
	sum := sha256.Sum256(ndjson(t, gendata.Options{Seed: 1, Records: 1000}))
	assert.Equal(t, "cf21738ce2f64a5979d83b73013e4510e3b7a177a81ff70b7f1b5bbee0d0b5fa", hex.EncodeToString(sum[:]))
}

func TestEvents(t *testing.T) {
	opt := gendata.Options{Seed: 9, Records: 5000, Start: time.Date(2026, 11, 10, 15, 0, 0, 0, time.UTC), Days: 3}
	body := ndjson(t, opt)
	rd, err := records.NewReader(bytes.NewReader(body), "g.ndjson", records.Limits{})
	require.NoError(t, err)
	actions := map[string]int{}
	days := map[string]int{}
	ids := map[string]bool{}
	n := 0
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		n++
		assert.GreaterOrEqual(t, len(rec.Raw), 170, "record %d: %s", n, rec.Raw)
		assert.LessOrEqual(t, len(rec.Raw), 250, "record %d: %s", n, rec.Raw)
		var ev event
		require.NoError(t, json.Unmarshal(rec.Raw, &ev))
		actions[ev.Action]++
		days[ev.Timestamp.Format(time.DateOnly)]++
		assert.False(t, ids[ev.EventID], "event ids are unique")
		ids[ev.EventID] = true
		assert.NotEmpty(t, ev.UserID)
		if ev.Action == "purchase" || ev.Action == "refund" {
			require.NotNil(t, ev.Amount, "record %d", n)
			f, err := ev.Amount.Float64()
			require.NoError(t, err)
			assert.Positive(t, f)
		} else {
			assert.Nil(t, ev.Amount)
		}
	}
	assert.Equal(t, opt.Records, n)
	assert.Equal(t, records.FormatNDJSON, rd.Format())
	for _, a := range []string{"view", "click", "add_to_cart", "purchase", "refund"} {
		assert.Positive(t, actions[a], a)
	}
	assert.Len(t, actions, 5)
	assert.Equal(t, map[string]bool{"2026-11-10": true, "2026-11-11": true, "2026-11-12": true},
		keys(days), "events fall on the Days days from Start's day")
}

func keys(m map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func TestTinyFileHasEveryAction(t *testing.T) {
	var got []string
	r := gendata.NewRand(3)
	for i := range 5 {
		var ev event
		require.NoError(t, json.Unmarshal(gendata.Event(r, i, gendata.Options{}), &ev))
		got = append(got, ev.Action)
		assert.Equal(t, 2026, ev.Timestamp.Year(), "default start")
		assert.Equal(t, time.November, ev.Timestamp.Month())
		assert.Less(t, ev.Timestamp.Day(), 8, "default 7 days")
	}
	assert.Equal(t, []string{"view", "click", "add_to_cart", "purchase", "refund"}, got)
}

func TestWriteArray(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		var b bytes.Buffer
		written, err := gendata.WriteArray(&b, gendata.Options{Seed: 4, Records: n})
		require.NoError(t, err)
		assert.Equal(t, int64(b.Len()), written)
		var arr []json.RawMessage
		require.NoError(t, json.Unmarshal(b.Bytes(), &arr), "%s", b.Bytes())
		assert.Len(t, arr, n)
		if n > 0 {
			// The array holds the same events as the NDJSON of the same options.
			lines := bytes.Split(bytes.TrimSpace(ndjson(t, gendata.Options{Seed: 4, Records: n})), []byte("\n"))
			assert.Equal(t, string(lines[n-1]), string(arr[n-1]))
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteErrors(t *testing.T) {
	_, err := gendata.WriteNDJSON(failWriter{}, gendata.Options{Records: 10})
	assert.ErrorIs(t, err, io.ErrClosedPipe)
}

func TestFlawed(t *testing.T) {
	seen := map[gendata.Flaw]bool{}
	for _, flaw := range gendata.Flaws() {
		assert.False(t, seen[flaw])
		seen[flaw] = true
		suffix, body := gendata.Flawed(flaw, 5)
		assert.NotEmpty(t, suffix, flaw)
		s2, b2 := gendata.Flawed(flaw, 5)
		assert.Equal(t, suffix, s2)
		assert.Equal(t, body, b2, "%s: the same seed gives the same bytes", flaw)
	}
	suffix, body := gendata.Flawed("nonsense", 1)
	assert.Empty(t, suffix)
	assert.Nil(t, body)
}
