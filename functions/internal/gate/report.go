package gate

import (
	"fmt"
	"strings"
	"time"
)

// Report is the JSON document written beside a quarantined file as
// <quarantine key>.report.json: which file, which version, why, and where.
type Report struct {
	Bucket     string `json:"bucket"`
	Key        string `json:"key"`
	VersionID  string `json:"version_id,omitempty"`
	ETag       string `json:"etag,omitempty"`
	Size       int64  `json:"size"`
	Rule       string `json:"rule"`
	Message    string `json:"message"`
	Records    int64  `json:"records"`
	BadRecords int64  `json:"bad_records"`
	// TotalErrors counts every finding, of which Errors holds the first MaxReported.
	TotalErrors int64     `json:"total_errors"`
	Errors      []Finding `json:"errors"`
	CheckedAt   time.Time `json:"checked_at"`
}

// NewReport describes the gates' result for one object version.
func NewReport(bucket, key, versionID, etag string, size int64, res Result, at time.Time) Report {
	total := res.BadRecords
	if !res.Accepted && !isRecordRule(res.Rule) {
		total++ // the file-level finding that stopped reading
	}
	errs := res.Findings
	if errs == nil {
		errs = []Finding{}
	}
	return Report{
		Bucket: bucket, Key: key, VersionID: versionID, ETag: etag, Size: size,
		Rule:    res.Rule,
		Message: summary(res),
		Records: res.Records, BadRecords: res.BadRecords,
		TotalErrors: total,
		Errors:      errs,
		CheckedAt:   at.UTC(),
	}
}

// summary is the one sentence a person reads first.
func summary(res Result) string {
	var first string
	if len(res.Findings) > 0 {
		f := res.Findings[0]
		first = f.Message
		if f.Line > 0 {
			first = fmt.Sprintf("line %d, byte %d, record %d: %s", f.Line, f.Offset, f.Record, f.Message)
		}
	}
	switch {
	case res.Accepted && res.BadRecords == 0:
		return fmt.Sprintf("accepted: %d records", res.Records)
	case res.Accepted:
		return fmt.Sprintf("accepted: %d records, %d %s are skipped; first: %s", res.Records, res.BadRecords, invalidRecords(res, false), first)
	case isRecordRule(res.Rule):
		return fmt.Sprintf("rejected: %d of %d records %s; first: %s", res.BadRecords, res.Records, invalidRecords(res, true), first)
	}
	return fmt.Sprintf("rejected by the %s gate: %s", res.Rule, first)
}

// invalidRecords says what the invalid records of res break, as a verb phrase ("fail the
// schema") or, for the list of skipped records, as an attribute ("failing the schema").
func invalidRecords(res Result, verb bool) string {
	dup, unl := res.DuplicateKeyRecords, res.UnloadableRecords
	schema := res.BadRecords - dup - unl
	switch {
	case dup == 0 && unl == 0 && verb:
		return "fail the schema"
	case dup == 0 && unl == 0:
		return "failing the schema"
	case schema == 0 && unl == 0 && verb:
		return "have duplicate keys"
	case schema == 0 && unl == 0:
		return "with duplicate keys"
	case schema == 0 && dup == 0 && verb:
		return "hold values Snowflake cannot load as written"
	case schema == 0 && dup == 0:
		return "holding values Snowflake cannot load as written"
	}
	var parts []string
	for _, p := range []struct {
		n    int64
		what string
	}{{schema, "failing the schema"}, {dup, "with duplicate keys"}, {unl, "with values Snowflake cannot load as written"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	both := "invalid (" + strings.Join(parts, ", ") + ")"
	if verb {
		return "are " + both
	}
	return both
}
