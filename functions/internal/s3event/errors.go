package s3event

import (
	"fmt"
	"strings"
)

// Reason is the rule a body broke. The set is small and fixed so that callers and tests
// can branch on it; the message of the error says the rest.
type Reason string

const (
	// ReasonTooLarge: the body is larger than MaxBodyBytes.
	ReasonTooLarge Reason = "too-large"
	// ReasonEmpty: the body is empty or only white space.
	ReasonEmpty Reason = "empty"
	// ReasonNotJSON: the body is not valid JSON.
	ReasonNotJSON Reason = "not-json"
	// ReasonNotObject: the body is JSON, but not an object (an array, string, number, ...).
	ReasonNotObject Reason = "not-object"
	// ReasonUnknownShape: a JSON object in none of the shapes this package reads.
	ReasonUnknownShape Reason = "unknown-shape"
	// ReasonLambdaEvent: a whole Lambda event (SQS or SNS records) where a message body was
	// expected. Its records must be unpacked first; they are not S3 records.
	ReasonLambdaEvent Reason = "lambda-event"
	// ReasonNotS3: a known envelope that does not carry an S3 event, such as an SNS
	// notification of some other publisher or an EventBridge event of another source.
	ReasonNotS3 Reason = "not-s3"
	// ReasonNoRecords: an S3 notification whose Records array is empty or null.
	ReasonNoRecords Reason = "no-records"
	// ReasonUnsupportedVersion: an S3 record whose eventVersion has a major version other than 2.
	ReasonUnsupportedVersion Reason = "unsupported-version"
	// ReasonUnsupportedEvent: an event type this package does not know, such as an unknown
	// EventBridge detail-type or a test event other than s3:TestEvent.
	ReasonUnsupportedEvent Reason = "unsupported-event"
	// ReasonMissingField: a required member is absent or empty.
	ReasonMissingField Reason = "missing-field"
	// ReasonInvalidField: a member has the wrong JSON type or a value that does not parse,
	// such as a size written as a string or an eventTime that is not a time.
	ReasonInvalidField Reason = "invalid-field"
	// ReasonInvalidKey: an object key that is not valid form-urlencoding, does not decode to
	// UTF-8, or is longer than MaxKeyBytes.
	ReasonInvalidKey Reason = "invalid-key"
)

// ParseError says why a body is not a notification this package can read, and where.
type ParseError struct {
	Reason Reason
	// Envelope is KindSNS when the fault lies inside an SNS envelope's Message, empty otherwise.
	Envelope Kind
	// Record is the 0-based index of the record at fault in a Records array, or -1.
	Record int
	// Field is the JSON path of the member at fault (such as "s3.object.key", relative to the
	// record when Record is set), or empty when the fault is the body as a whole.
	Field string
	// Detail is the human-readable account of the fault.
	Detail string
	// Err is the underlying decoding error, if any.
	Err error
}

func newError(reason Reason, field, format string, args ...any) *ParseError {
	return &ParseError{Reason: reason, Record: -1, Field: field, Detail: fmt.Sprintf(format, args...)}
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("s3event: ")
	if e.Envelope != "" {
		fmt.Fprintf(&b, "in %s Message: ", e.Envelope)
	}
	if e.Record >= 0 {
		fmt.Fprintf(&b, "record %d: ", e.Record)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "%s: ", e.Field)
	}
	fmt.Fprintf(&b, "%s (rule %s)", e.Detail, e.Reason)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }
