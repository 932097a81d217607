package gate

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
)

func newGate(t testing.TB, edit func(*Config)) *Gate {
	t.Helper()
	cfg := DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	g, err := New(cfg)
	require.NoError(t, err)
	return g
}

func check(t testing.TB, g *Gate, key string, body []byte) Result {
	t.Helper()
	res, err := g.Check(context.Background(), key, int64(len(body)), bytes.NewReader(body))
	require.NoError(t, err)
	return res
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func events(t testing.TB, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	_, err := gendata.WriteNDJSON(&b, gendata.Options{Seed: 7, Records: n})
	require.NoError(t, err)
	return b.Bytes()
}

const (
	view     = `{"event_id":"e1","action":"view","timestamp":"2026-11-01T08:00:00Z"}`
	purchase = `{"event_id":"e2","action":"purchase","amount":12.5,"timestamp":"2026-11-01T08:00:00Z"}`
)

func TestCheckRules(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		body   []byte
		size   int64 // size as stored, when not len(body)
		edit   func(*Config)
		rule   string // "" when accepted
		format records.Format
		recs   int64
		// where the first finding points, when checked
		record, line, offset int64
		message              []string // substrings of the first finding's message
	}{
		{name: "ndjson accepted", key: "incoming/e.ndjson", body: events(t, 10), format: records.FormatNDJSON, recs: 10},
		{name: "array accepted", key: "incoming/e.json", body: []byte("[\n" + view + ",\n" + purchase + "\n]"), format: records.FormatArray, recs: 2},
		{name: "object accepted", key: "incoming/e.json", body: []byte("{\n  \"event_id\": \"e\",\n  \"action\": \"click\",\n  \"timestamp\": \"2026-11-01T08:00:00+01:00\"\n}\n"), format: records.FormatObject, recs: 1},
		{name: "gzip accepted", key: "incoming/e.jsonl.gz", body: gz(t, events(t, 5)), format: records.FormatNDJSON, recs: 5},
		{name: "empty array accepted", key: "incoming/e.json", body: []byte("[]"), format: records.FormatArray, recs: 0},
		{name: "suffix", key: "incoming/e.csv", body: events(t, 1), rule: RuleSuffix, message: []string{"e.csv"}},
		{name: "size", key: "incoming/e.ndjson", body: events(t, 1), size: 257 << 20, rule: RuleSize, message: []string{"269484032 bytes"}},
		{name: "empty", key: "incoming/e.ndjson", body: []byte("\n\n"), rule: RuleEmpty},
		{name: "gzip", key: "incoming/e.json.gz", body: []byte(view), rule: RuleGzip},
		{name: "decompressed size", key: "incoming/e.ndjson.gz", body: gz(t, events(t, 1000)),
			edit: func(c *Config) { c.MaxDecompressedBytes = 100 << 10 }, rule: RuleDecompressedSize, offset: 100 << 10},
		{name: "compression ratio", key: "incoming/e.ndjson.gz", body: gz(t, bytes.Repeat([]byte(view+"\n"), 100_000)), rule: RuleCompressionRatio},
		{name: "utf8", key: "incoming/e.ndjson", body: []byte(view + "\n{\"event_id\":\"\xe9\"}\n"), rule: RuleUTF8, record: 2, line: 2, offset: int64(len(view)) + 14, recs: 1},
		{name: "json in a record", key: "incoming/e.ndjson", body: []byte(view + "\n" + `{"event_id":"x",}` + "\n"), rule: RuleJSON,
			record: 2, line: 2, offset: int64(len(view)) + 1 + 16, recs: 2, message: []string{"invalid character '}'"}},
		{name: "json trailing data in a line", key: "incoming/e.ndjson", body: []byte(view + " x\n"), rule: RuleJSON,
			record: 1, line: 1, offset: int64(len(view)) + 1, recs: 1, message: []string{"after the top-level object"}},
		{name: "json bad number", key: "incoming/e.json", body: []byte("[\n" + view + ",\n{\"amount\": 01}]"), rule: RuleJSON,
			record: 2, line: 3, offset: int64(len(view)) + 16, recs: 2, message: []string{"invalid character '1' after an object value"}},
		{name: "json after the array", key: "incoming/e.json", body: []byte("[" + view + "]\nx"), rule: RuleJSON, record: 2, line: 2, recs: 1},
		{name: "format", key: "incoming/e.json", body: []byte("[1, 2]"), rule: RuleFormat, record: 1, line: 1, offset: 1},
		{name: "record size", key: "incoming/e.ndjson", body: []byte(`{"a":"` + strings.Repeat("x", records.DefaultMaxRecordBytes) + "\"}\n"), rule: RuleRecordSize, record: 1, line: 1},
		{name: "schema missing action", key: "incoming/e.ndjson", body: []byte(view + "\n" + `{"event_id":"e","timestamp":"2026-11-01T08:00:00Z"}` + "\n"), rule: RuleSchema,
			record: 2, line: 2, offset: int64(len(view)) + 1, recs: 2, message: []string{"`action` is required"}},
		{name: "schema negative amount", key: "incoming/e.json", body: []byte(`[{"event_id":"e","action":"refund","amount":-5,"timestamp":"2026-11-01T08:00:00Z"}]`), rule: RuleSchema,
			record: 1, line: 1, offset: 1, recs: 1, message: []string{"`amount` must be at least 0, not -5"}},
		{name: "schema purchase without amount", key: "incoming/e.ndjson", body: []byte(`{"event_id":"e","action":"purchase","timestamp":"2026-11-01T08:00:00Z"}`), rule: RuleSchema,
			record: 1, line: 1, recs: 1, message: []string{"`amount` is required when `action` is `purchase`"}},
		{name: "schema bad timestamp", key: "incoming/e.ndjson", body: []byte(`{"event_id":"e","action":"view","timestamp":"2026-02-30T08:00:00Z"}`), rule: RuleSchema,
			record: 1, line: 1, recs: 1, message: []string{"`timestamp` must be an RFC 3339 date-time", "not '2026-02-30T08:00:00Z'"}},
		{name: "schema unknown action", key: "incoming/e.ndjson", body: []byte(`{"event_id":"e","action":"buy","timestamp":"2026-11-01T08:00:00Z"}`), rule: RuleSchema,
			record: 1, line: 1, recs: 1, message: []string{"`action` must be one of 'view', 'click', 'add_to_cart', 'purchase', 'refund', not 'buy'"}},
		{name: "schema not an object field type", key: "incoming/e.ndjson", body: []byte(`{"event_id":7,"action":"view","timestamp":"2026-11-01T08:00:00Z"}`), rule: RuleSchema,
			record: 1, line: 1, recs: 1, message: []string{"`event_id` must be a string, not a number"}},
		{name: "route mismatch", key: "incoming/e.ndjson", edit: func(c *Config) { c.RouteField = "table" },
			body: []byte(`{"event_id":"e","action":"view","timestamp":"2026-11-01T08:00:00Z","table":"a"}` + "\n" + `{"event_id":"e","action":"view","timestamp":"2026-11-01T08:00:00Z","table":"b"}` + "\n"),
			rule: RuleRoute, record: 2, line: 2, recs: 2, message: []string{`"b" here but "a" in record 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate(t, tt.edit)
			size := tt.size
			if size == 0 {
				size = int64(len(tt.body))
			}
			res, err := g.Check(context.Background(), tt.key, size, bytes.NewReader(tt.body))
			require.NoError(t, err)
			if tt.rule == "" {
				assert.True(t, res.Accepted, "findings: %+v", res.Findings)
				assert.Empty(t, res.Rule)
				assert.Empty(t, res.Findings)
				assert.Equal(t, tt.format, res.Format)
				assert.Equal(t, tt.recs, res.Records)
				return
			}
			assert.False(t, res.Accepted)
			assert.Equal(t, tt.rule, res.Rule, "findings: %+v", res.Findings)
			require.NotEmpty(t, res.Findings)
			f := res.Findings[0]
			assert.Equal(t, tt.rule, f.Rule)
			if tt.record > 0 {
				assert.Equal(t, tt.record, f.Record, "record")
				assert.Equal(t, tt.line, f.Line, "line")
				assert.Equal(t, tt.recs, res.Records, "records read")
			}
			if tt.offset > 0 {
				assert.Equal(t, tt.offset, f.Offset, "offset")
			}
			for _, m := range tt.message {
				assert.Contains(t, f.Message, m)
			}
		})
	}
}

func TestRouteValue(t *testing.T) {
	g := newGate(t, func(c *Config) { c.RouteField = "table" })
	body := `{"event_id":"e","action":"view","timestamp":"2026-11-01T08:00:00Z","table":"orders"}` + "\n" +
		`{"event_id":"e","action":"view","timestamp":"2026-11-01T08:00:00Z","table":"ord\u0065rs"}` + "\n"
	res := check(t, g, "incoming/e.ndjson", []byte(body))
	assert.True(t, res.Accepted, "an escaped spelling of the same value is the same value: %+v", res.Findings)
	assert.Equal(t, "orders", res.RouteValue)

	res = check(t, g, "incoming/e.ndjson", []byte(view+"\n"))
	assert.True(t, res.Accepted)
	assert.Empty(t, res.RouteValue, "a record without the field routes to the default")

	res = check(t, newGate(t, nil), "incoming/e.ndjson", []byte(body))
	assert.Empty(t, res.RouteValue, "no route field configured")
}

func TestThresholdPolicy(t *testing.T) {
	bad := `{"event_id":"bad","timestamp":"2026-11-01T08:00:00Z"}`
	var lines []string
	for i := 1; i <= 10; i++ {
		if i == 3 || i == 6 || i == 9 {
			lines = append(lines, bad)
		} else {
			lines = append(lines, view)
		}
	}
	body := []byte(strings.Join(lines, "\n") + "\n")
	tests := []struct {
		name     string
		max      int64
		accepted bool
		skip     []int64
	}{
		{"zero tolerates nothing", 0, false, nil},
		{"below the count", 2, false, nil},
		{"at the count", 3, true, []int64{3, 6, 9}},
		{"above the count", 50, true, []int64{3, 6, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, newGate(t, func(c *Config) { c.MaxBadRecords = tt.max }), "incoming/e.ndjson", body)
			assert.Equal(t, tt.accepted, res.Accepted)
			assert.Equal(t, int64(10), res.Records)
			assert.Equal(t, int64(3), res.BadRecords)
			assert.Equal(t, tt.skip, res.Skip)
			require.Len(t, res.Findings, 3, "skipped records are still reported")
			assert.Equal(t, []int64{3, 6, 9}, []int64{res.Findings[0].Record, res.Findings[1].Record, res.Findings[2].Record})
			if tt.accepted {
				assert.Empty(t, res.Rule)
			} else {
				assert.Equal(t, RuleSchema, res.Rule)
			}
		})
	}
}

func TestFindingsAreCapped(t *testing.T) {
	bad := `{"event_id":"bad","action":"view","timestamp":"soon"}`
	body := []byte(strings.Repeat(bad+"\n", 30) + "[1]\n")
	res := check(t, newGate(t, func(c *Config) { c.MaxReported = 5 }), "incoming/e.ndjson", body)
	assert.False(t, res.Accepted)
	assert.Equal(t, RuleFormat, res.Rule, "the file-level rule wins over schema findings")
	assert.Equal(t, int64(30), res.BadRecords)
	require.Len(t, res.Findings, 5)
	assert.Equal(t, RuleFormat, res.Findings[0].Rule, "the finding that rejected the file comes first")
	assert.Equal(t, int64(31), res.Findings[0].Record)
	assert.Equal(t, RuleSchema, res.Findings[1].Rule)
	assert.Equal(t, int64(1), res.Findings[1].Record)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	bad := Config{MaxRatio: 0.5, MaxBadRecords: -1}
	err := bad.Validate()
	require.Error(t, err)
	for _, field := range []string{"MaxFileBytes", "MaxDecompressedBytes", "MaxRatio", "MaxBadRecords", "MaxReported"} {
		assert.Contains(t, err.Error(), field)
	}
	_, err = New(bad)
	assert.Error(t, err)
}

func TestDefaultSchema(t *testing.T) {
	sch, err := CompileSchema(DefaultSchemaName, DefaultSchema())
	require.NoError(t, err)
	assert.Equal(t, "Event", sch.Title)
	assert.NotEmpty(t, sch.Description)
	assert.NotNil(t, compilePlan(sch, ""), "the default schema runs on the fast path")

	_, err = CompileSchema("broken.json", []byte(`{"type": 12}`))
	assert.ErrorContains(t, err, "broken.json")
	_, err = CompileSchema("remote.json", []byte(`{"$ref": "https://example.com/other.json"}`))
	assert.Error(t, err, "references to other documents are not fetched")
}

// TestFlaws checks that each generated bad file breaks exactly the rule it names.
func TestFlaws(t *testing.T) {
	g := newGate(t, nil)
	for _, flaw := range gendata.Flaws() {
		t.Run(string(flaw), func(t *testing.T) {
			suffix, body := gendata.Flawed(flaw, 3)
			res := check(t, g, "incoming/flawed"+suffix, body)
			assert.False(t, res.Accepted)
			assert.Equal(t, string(flaw), res.Rule, "findings: %+v", res.Findings)
		})
	}
}

func TestGeneratedFilesPass(t *testing.T) {
	g := newGate(t, nil)
	for _, n := range []int{0, 1, 5, 1000} {
		var nd, arr bytes.Buffer
		_, err := gendata.WriteNDJSON(&nd, gendata.Options{Seed: int64(n), Records: n})
		require.NoError(t, err)
		_, err = gendata.WriteArray(&arr, gendata.Options{Seed: int64(n), Records: n})
		require.NoError(t, err)
		if n > 0 {
			res := check(t, g, "incoming/g.ndjson", nd.Bytes())
			assert.True(t, res.Accepted, "ndjson of %d: %+v", n, res.Findings)
			assert.Equal(t, int64(n), res.Records)
		}
		res := check(t, g, "incoming/g.json", arr.Bytes())
		assert.True(t, res.Accepted, "array of %d: %+v", n, res.Findings)
		assert.Equal(t, int64(n), res.Records)
	}
}

// expectedRules names the rule each invalid sample in testdata breaks; a sample not listed
// must merely be rejected.
var expectedRules = map[string]string{
	"latin1.ndjson":                  RuleUTF8,
	"purchase-without-amount.ndjson": RuleSchema,
	"broken.ndjson.gz":               RuleGzip,
	"array-of-numbers.json":          RuleFormat,
	"bad-timestamp.ndjson":           RuleSchema,
	"events.csv":                     RuleSuffix,
	"truncated.ndjson":               RuleJSON,
	"missing-action.ndjson":          RuleSchema,
	"negative-amount.json":           RuleSchema,
	"empty.json":                     RuleEmpty,
	"lone-surrogate.ndjson":          RuleLoneSurrogate,
	"rounded-number.ndjson":          RulePrecision,
	"amount-too-large.ndjson":        RuleSchema,
}

func TestTestdataSamples(t *testing.T) {
	root := filepath.Join("..", "..", "..", "testdata", "data")
	if _, err := os.Stat(root); err != nil {
		t.Skip("no testdata/data in this checkout")
	}
	g := newGate(t, nil)
	for _, dir := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*"))
		require.NoError(t, err)
		for _, path := range files {
			t.Run(dir+"/"+filepath.Base(path), func(t *testing.T) {
				body, err := os.ReadFile(path)
				require.NoError(t, err)
				res := check(t, g, "incoming/"+filepath.Base(path), body)
				if dir == "valid" {
					assert.True(t, res.Accepted, "findings: %+v", res.Findings)
					assert.Positive(t, res.Records)
					return
				}
				assert.False(t, res.Accepted)
				if want, ok := expectedRules[filepath.Base(path)]; ok {
					assert.Equal(t, want, res.Rule, "findings: %+v", res.Findings)
				}
			})
		}
	}
}
