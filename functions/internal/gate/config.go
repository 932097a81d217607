// Package gate decides whether a file may be loaded: file gates (name, size, compression,
// encoding, layout) and record gates (a JSON Schema), with a report a person can act on.
package gate

import (
	"errors"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
)

// Rules name why a file was rejected; they appear in reports and metrics. The file-level
// rules are the records package's, plus the size cap and routing. The record rules, schema
// and duplicate_key, judge one record at a time; a file breaks them when more records fail
// them than MaxBadRecords allows.
const (
	RuleSuffix           = records.RuleSuffix
	RuleSize             = "size" // larger than MaxFileBytes as stored
	RuleEmpty            = records.RuleEmpty
	RuleGzip             = records.RuleGzip
	RuleDecompressedSize = records.RuleDecompressedSize
	RuleCompressionRatio = records.RuleCompressionRatio
	RuleUTF8             = records.RuleUTF8
	RuleJSON             = records.RuleJSON
	RuleFormat           = records.RuleFormat
	RuleRecordSize       = records.RuleRecordSize
	RuleSchema           = "schema"        // a record fails the JSON Schema
	RuleDuplicateKey     = "duplicate_key" // a record holds an object with the same key twice, which Snowflake refuses
	RuleRoute            = "route"         // records name different values of RouteField

	// Record rules for values Snowflake refuses or changes (see loadable.go).
	RuleLoneSurrogate = "lone_surrogate"   // a string holds a \u escape of half a surrogate pair
	RuleNULCharacter  = "nul_character"    // a string holds \u0000
	RuleNumberRange   = "number_range"     // a number beyond the range of a DOUBLE (1e309)
	RulePrecision     = "number_precision" // a number Snowflake would store as a DOUBLE of another value, under PrecisionReject
	RuleDepth         = "nesting_depth"    // arrays and objects nested deeper than MaxDepth
)

// isRecordRule reports whether rule judges single records, whose failures MaxBadRecords
// may tolerate, rather than the file.
func isRecordRule(rule string) bool {
	switch rule {
	case RuleSchema, RuleDuplicateKey, RuleLoneSurrogate, RuleNULCharacter, RuleNumberRange, RulePrecision, RuleDepth:
		return true
	}
	return false
}

// Config sets the gates' limits.
type Config struct {
	// MaxFileBytes caps the file's size as stored (compressed, for .gz), checked before
	// reading.
	MaxFileBytes int64
	// MaxDecompressedBytes caps the bytes a file decompresses to (and a plain file's size).
	MaxDecompressedBytes int64
	// MaxRatio caps decompressed/compressed bytes of .gz files. JSON events compress about
	// 5 to 20 times; even very repetitive ones rarely pass 50. A gzip bomb is built for
	// ratios around 1000, so 100 stops bombs within a few megabytes and rejects no real data.
	MaxRatio float64
	// MaxBadRecords is how many records may break a record rule (fail the schema, hold a
	// duplicate key, or hold a value Snowflake refuses or changes, see loadable.go): 0
	// rejects a file on its first invalid record; N > 0 loads a file with
	// up to N invalid records, skipping them and listing them in Result.Skip. Only record
	// rules are skippable: a syntax, encoding or layout error leaves no trustworthy way to
	// tell where records begin, while a record with a duplicate key is well-formed JSON that
	// the loader reads past like any other.
	MaxBadRecords int64
	// MaxReported is how many findings a Result and a report carry.
	MaxReported int
	// Schema validates each record; nil means DefaultSchema.
	Schema *jsonschema.Schema
	// RouteField names an optional top-level string field whose value routes the file to a
	// table (Result.RouteValue). Every loaded record of a file must agree on it.
	RouteField string
	// Precision says what to do with a record holding a number Snowflake would store with
	// another value than the one written (see loadable.go); "" means PrecisionReject.
	Precision Precision
}

// DefaultConfig returns the limits the validator runs with unless configured otherwise.
func DefaultConfig() Config {
	return Config{
		MaxFileBytes:         256 << 20,
		MaxDecompressedBytes: 1 << 30,
		MaxRatio:             100,
		MaxBadRecords:        0,
		MaxReported:          20,
		Precision:            PrecisionReject,
	}
}

// Validate reports every setting that is out of range, in one error.
func (c Config) Validate() error {
	var errs []error
	if c.MaxFileBytes <= 0 {
		errs = append(errs, fmt.Errorf("MaxFileBytes must be positive, got %d", c.MaxFileBytes))
	}
	if c.MaxDecompressedBytes <= 0 {
		errs = append(errs, fmt.Errorf("MaxDecompressedBytes must be positive, got %d", c.MaxDecompressedBytes))
	}
	if c.MaxRatio < 1 {
		errs = append(errs, fmt.Errorf("MaxRatio must be at least 1, got %g", c.MaxRatio))
	}
	if c.MaxBadRecords < 0 {
		errs = append(errs, fmt.Errorf("MaxBadRecords must not be negative, got %d", c.MaxBadRecords))
	}
	if c.MaxReported < 1 {
		errs = append(errs, fmt.Errorf("MaxReported must be at least 1, got %d", c.MaxReported))
	}
	switch c.Precision {
	case "", PrecisionReject, PrecisionWarn:
	default:
		errs = append(errs, fmt.Errorf("Precision must be %q or %q, got %q", PrecisionReject, PrecisionWarn, c.Precision))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gate config: %w", err)
	}
	return nil
}
