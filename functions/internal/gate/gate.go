package gate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
)

// Finding is one problem found in a file: which rule, where, and why.
type Finding struct {
	Rule    string `json:"rule"`
	Record  int64  `json:"record,omitempty"`
	Line    int64  `json:"line,omitempty"`
	Offset  int64  `json:"offset"`
	Message string `json:"message"`
}

// Result is the gates' verdict on one file. A rejected file is an outcome, not an error.
type Result struct {
	Accepted bool
	// Rule is the rule that rejected the file, "" when it was accepted. A file rejected for
	// too many invalid records is rejected by the rule its first invalid record broke.
	Rule   string
	Format records.Format
	// Records counts the records read, invalid ones included. For a rejected file it stops
	// where reading stopped.
	Records int64
	// BadRecords counts the records that broke a record rule, DuplicateKeyRecords those of
	// them that hold a duplicate key; the others fail the schema.
	BadRecords          int64
	DuplicateKeyRecords int64
	// UnloadableRecords counts the invalid records that hold a value Snowflake refuses or,
	// under PrecisionReject, would change (the rules in loadable.go).
	UnloadableRecords int64
	// LossyRecords counts the records loaded under PrecisionWarn that hold a number
	// Snowflake stores as a DOUBLE of another value; Warnings describes the first
	// MaxReported of those numbers.
	LossyRecords int64
	Warnings     []Finding
	// Bytes is the number of decompressed bytes read.
	Bytes int64
	// Skip lists the records that broke a record rule in a file accepted under
	// MaxBadRecords; the loader leaves them out, so Snowflake never parses them.
	Skip []int64
	// Findings holds the first MaxReported findings. When a file-level rule rejected the
	// file, its finding comes first.
	Findings []Finding
	// RouteValue is the RouteField value of the file's first valid record ("" when the
	// field is not configured or the record has no such string field).
	RouteValue string
}

// Gate checks files. It is safe for concurrent use.
type Gate struct {
	cfg  Config
	sch  *jsonschema.Schema
	plan *plan // nil: every record goes through the schema library
}

// New returns a Gate for cfg, compiling the default schema when cfg.Schema is nil.
func New(cfg Config) (*Gate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sch := cfg.Schema
	if sch == nil {
		var err error
		if sch, err = CompileSchema(DefaultSchemaName, defaultSchema); err != nil {
			return nil, err
		}
	}
	return &Gate{cfg: cfg, sch: sch, plan: compilePlan(sch, cfg.RouteField)}, nil
}

// Check reads the file body (the object key, its size as stored) through every gate. It
// returns an error only when reading fails or ctx ends: whatever the content, the verdict
// is in the Result. An empty array ("[]") is a valid file of zero records and is accepted;
// a file with no JSON value at all is rejected as empty.
func (g *Gate) Check(ctx context.Context, key string, size int64, body io.Reader) (Result, error) {
	if _, ok := records.Suffix(key); !ok {
		return reject(RuleSuffix, fmt.Sprintf("%q does not end in .json, .ndjson or .jsonl (optionally .gz)", key)), nil
	}
	if size > g.cfg.MaxFileBytes {
		return reject(RuleSize, fmt.Sprintf("the file is %d bytes, over the cap of %d", size, g.cfg.MaxFileBytes)), nil
	}
	rd, err := records.NewReader(ctxReader{ctx, body}, key, records.Limits{
		MaxBytes: g.cfg.MaxDecompressedBytes,
		MaxRatio: g.cfg.MaxRatio,
		// The gate checks each record's syntax itself, in the pass that looks at its fields.
		SkipSyntaxCheck: true,
	})
	if err != nil {
		return Result{}, fmt.Errorf("gate %s: %w", key, err) // the suffix was checked above
	}
	c := &checker{g: g}
	if g.plan != nil {
		c.ev = newEvaluator(g.plan)
	}
	for c.fatal == nil {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if err := c.readError(err); err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				return Result{}, fmt.Errorf("gate %s: %w", key, err)
			}
			break
		}
		c.res.Records++
		c.record(rec)
	}
	c.res.Format, c.res.Bytes = rd.Format(), rd.BytesRead()
	return c.result(), nil
}

func reject(rule, msg string) Result {
	return Result{Rule: rule, Findings: []Finding{{Rule: rule, Message: msg}}}
}

// ctxReader ends reading when the context does, so a Lambda about to time out stops
// between two reads of the body.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// checker holds the state of one Check.
type checker struct {
	g        *Gate
	sc       scanner
	ev       *evaluator
	res      Result
	findings []Finding // record findings, at most MaxReported
	fatal    *Finding  // the finding that stops reading
	badRule  string    // the record rule the first invalid record broke
	routeSet bool
	routeRec int64
}

// readError turns a content error of the reader into the finding that rejects the file,
// and returns any other error: a failed read, which is not the file's fault.
func (c *checker) readError(err error) error {
	var rerr *records.Error
	if !errors.As(err, &rerr) {
		return err
	}
	c.fatal = &Finding{Rule: rerr.Rule, Record: rerr.Record, Line: rerr.Line, Offset: rerr.Offset, Message: rerr.Err.Error()}
	return nil
}

// record runs the record gates on one record.
func (c *checker) record(rec records.Record) {
	if !c.sc.scan(rec.Raw) {
		line, off := rec.At(c.sc.errPos)
		c.fatal = &Finding{Rule: RuleJSON, Record: rec.Number, Line: line, Offset: off, Message: c.sc.errMsg}
		return
	}
	if c.sc.dupAt >= 0 {
		// Decoding would keep one of the values and the schema would judge that; Snowflake
		// refuses the record whatever the schema says.
		if len(c.findings) < c.g.cfg.MaxReported {
			c.findings = append(c.findings, duplicateFinding(rec, &c.sc))
		}
		c.res.DuplicateKeyRecords++
		c.bad(rec, RuleDuplicateKey)
		return
	}
	is := c.sc.refusal
	if is.rule == "" && c.sc.lossy.rule != "" && c.g.cfg.Precision != PrecisionWarn {
		is = c.sc.lossy
	}
	if is.rule != "" {
		// Snowflake would fail the whole load batch on this record, or change its data.
		if len(c.findings) < c.g.cfg.MaxReported {
			c.findings = append(c.findings, loadFinding(rec, &c.sc, is, false))
		}
		c.res.UnloadableRecords++
		c.bad(rec, is.rule)
		return
	}
	lossy := c.sc.lossy.rule != ""
	if lossy {
		c.res.LossyRecords++
		if len(c.res.Warnings) < c.g.cfg.MaxReported {
			c.res.Warnings = append(c.res.Warnings, loadFinding(rec, &c.sc, c.sc.lossy, true))
		}
	}
	v := unknown
	if c.ev != nil && !lossy {
		// The plan reads numbers as written; a record whose numbers Snowflake rounds is
		// judged by the library on the values Snowflake stores.
		v = c.ev.record(rec.Raw, &c.sc)
	}
	var decoded any
	needMessage := len(c.findings) < c.g.cfg.MaxReported
	if v == unknown || v == invalid && needMessage {
		// The library decides, and writes the message. A plan that says invalid is exact,
		// so past MaxReported findings its word is enough and the library is spared.
		decoded = decode(rec.Raw)
		if lossy {
			decoded = asStored(decoded)
		}
		if err := c.g.sch.Validate(decoded); err != nil {
			v = invalid
			if needMessage {
				c.findings = append(c.findings, schemaFinding(c.g.sch, decoded, rec, err))
			}
		} else {
			v = valid
		}
	}
	if v == invalid {
		c.bad(rec, RuleSchema)
		return
	}
	c.route(rec, decoded)
}

// bad counts a record that broke rule, and lists it for the loader to skip while the file
// stays within MaxBadRecords.
func (c *checker) bad(rec records.Record, rule string) {
	if c.res.BadRecords == 0 {
		c.badRule = rule
	}
	c.res.BadRecords++
	if c.res.BadRecords <= c.g.cfg.MaxBadRecords {
		c.res.Skip = append(c.res.Skip, rec.Number)
	}
}

// route checks that every loaded record names the same RouteField value.
func (c *checker) route(rec records.Record, decoded any) {
	if c.g.cfg.RouteField == "" {
		return
	}
	var val []byte
	if decoded == nil && c.ev != nil {
		val, decoded = c.fastRoute(rec)
	}
	if decoded != nil {
		if obj, ok := decoded.(map[string]any); ok {
			s, _ := obj[c.g.cfg.RouteField].(string)
			val = []byte(s)
		}
	}
	if !c.routeSet {
		c.routeSet, c.routeRec, c.res.RouteValue = true, rec.Number, string(val)
		return
	}
	if string(val) != c.res.RouteValue {
		c.fatal = &Finding{Rule: RuleRoute, Record: rec.Number, Line: rec.Line, Offset: rec.Offset,
			Message: fmt.Sprintf("%s is %q here but %q in record %d: a file loads into one table", c.g.cfg.RouteField, val, c.res.RouteValue, c.routeRec)}
	}
}

// fastRoute reads the route value from the plan's view of the record; when the view cannot
// be sure (escapes, duplicate keys) it decodes the record instead.
func (c *checker) fastRoute(rec records.Record) ([]byte, any) {
	if val, ok := c.ev.routeValue(); ok {
		return val, nil
	}
	return nil, decode(rec.Raw)
}

// decode turns a record the scanner accepted into the values the schema library validates.
func decode(raw []byte) any {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		// Unreachable: the scanner accepted the same bytes. Return a value no schema
		// describing objects accepts rather than pretend the record was empty.
		return fmt.Sprintf("undecodable record: %v", err)
	}
	return v
}

// maxCauses is how many schema errors of one record its finding spells out.
const maxCauses = 5

// schemaFinding turns the library's error tree into one finding: each leaf error as a
// sentence about the record's field (messages.go).
func schemaFinding(root *jsonschema.Schema, decoded any, rec records.Record, err error) Finding {
	f := Finding{Rule: RuleSchema, Record: rec.Number, Line: rec.Line, Offset: rec.Offset}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		f.Message = err.Error()
		return f
	}
	var leaves []*jsonschema.ValidationError
	var collect func(*jsonschema.ValidationError)
	collect = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
		}
		for _, c := range e.Causes {
			collect(c)
		}
	}
	collect(verr)
	var msgs []string
	for i, l := range leaves {
		if i == maxCauses {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(leaves)-maxCauses))
			break
		}
		msgs = append(msgs, plainMessage(root, decoded, l))
	}
	f.Message = strings.Join(msgs, "; ")
	return f
}

func (c *checker) result() Result {
	res := c.res
	res.Findings = make([]Finding, 0, min(c.g.cfg.MaxReported, len(c.findings)+1))
	if c.fatal != nil {
		res.Findings = append(res.Findings, *c.fatal)
	}
	for _, f := range c.findings {
		if len(res.Findings) == c.g.cfg.MaxReported {
			break
		}
		res.Findings = append(res.Findings, f)
	}
	switch {
	case c.fatal != nil:
		res.Rule = c.fatal.Rule
		res.Skip = nil
	case res.BadRecords > c.g.cfg.MaxBadRecords:
		res.Rule = c.badRule
		res.Skip = nil
	default:
		res.Accepted = true
	}
	if !res.Accepted {
		res.RouteValue = ""
	}
	return res
}
