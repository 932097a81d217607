// Package s3event reads S3 object events out of an SQS message body and writes the dead-letter message of a load batch.
package s3event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind names the shape in which a message body arrived.
type Kind string

const (
	// KindS3 is an S3 event notification, {"Records":[...]}, as S3 sends it to SQS.
	KindS3 Kind = "s3"
	// KindSNS is an S3 event notification inside an SNS envelope: what an SQS body looks like
	// when S3 publishes to a topic and the subscription does not use raw message delivery.
	KindSNS Kind = "sns"
	// KindEventBridge is an S3 event delivered by an EventBridge rule (source aws.s3).
	KindEventBridge Kind = "eventbridge"
	// KindTest is s3:TestEvent, which S3 sends once when notifications are configured, either
	// directly or inside SNS. It names no object.
	KindTest Kind = "test"
)

// MaxBodyBytes is the largest body Parse reads. It is the largest message SQS accepts, so
// anything bigger did not come from a queue and is refused before any decoding work.
const MaxBodyBytes = 1 << 20

// MaxKeyBytes is the longest object key S3 allows, counted in UTF-8 bytes. A longer key
// cannot name an object, so a notification that carries one is refused.
const MaxKeyBytes = 1024

// Object is one S3 object event, whatever envelope it arrived in.
type Object struct {
	Bucket string
	// Key is the object key as S3 stores it: decoded from the form-urlencoding that S3
	// notifications use, taken as-is from EventBridge events.
	Key       string
	Size      int64
	ETag      string
	VersionID string
	Sequencer string
	// EventName uses the vocabulary of S3 notifications, such as "ObjectCreated:Put" or
	// "ObjectRemoved:Delete", without the "s3:" prefix that notification configurations use.
	// EventBridge detail types are mapped onto the same names.
	EventName   string
	EventTime   time.Time
	PrincipalID string
	SourceIP    string
	Region      string
}

// Created reports whether the event created (or overwrote) the object, the only kind of
// event the pipeline loads.
func (o Object) Created() bool {
	return strings.HasPrefix(o.EventName, "ObjectCreated:")
}

// Message is the content of one message body.
type Message struct {
	Kind    Kind
	Objects []Object
}

// Parse reads the body of one SQS message. It accepts an S3 notification, an S3
// notification inside an SNS envelope, an S3 event from EventBridge and s3:TestEvent (plain
// or inside SNS; Kind test, no objects). Anything else is an error of type *ParseError whose
// Reason says which rule the body broke. A message whose records are not all valid is
// refused as a whole: the records of one message are not independent deliveries.
func Parse(body []byte) (Message, error) {
	return parse(body, "")
}

// parse reads one JSON document; within is KindSNS while reading an SNS Message.
func parse(body []byte, within Kind) (Message, error) {
	if len(body) > MaxBodyBytes {
		return Message{}, newError(ReasonTooLarge, "", "body is %d bytes, more than the %d an SQS message can hold", len(body), MaxBodyBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Message{}, newError(ReasonEmpty, "", "body is empty")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return Message{}, topLevelError(err)
	}
	if top == nil {
		return Message{}, newError(ReasonNotObject, "", "body is JSON null, not an object")
	}

	shape, err := detect(top)
	if err != nil {
		return Message{}, err
	}
	switch shape {
	case KindS3:
		return parseNotification(top["Records"])
	case KindSNS:
		if within == KindSNS {
			return Message{}, newError(ReasonNotS3, "", "an SNS envelope inside an SNS envelope; S3 publishes its notification directly")
		}
		return parseSNS(top)
	case KindTest:
		return parseTestEvent(top)
	default: // KindEventBridge
		if within == KindSNS {
			return Message{}, newError(ReasonNotS3, "", "an EventBridge event inside an SNS envelope; only S3 notifications and test events are read from SNS")
		}
		return parseEventBridge(body)
	}
}

// topLevelError explains why the body did not decode into a JSON object.
func topLevelError(err error) *ParseError {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		pe := newError(ReasonNotJSON, "", "body is not JSON: %s at byte %d", syntax.Error(), syntax.Offset)
		pe.Err = err
		return pe
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		detail := fmt.Sprintf("body is a JSON %s, not an object", typ.Value)
		if typ.Value == "array" {
			// A logged slice of records looks like this; S3 never sends one.
			detail += "; an S3 notification is an object whose Records member holds the array"
		}
		pe := newError(ReasonNotObject, "", "%s", detail)
		pe.Err = err
		return pe
	}
	pe := newError(ReasonNotJSON, "", "body is not JSON: %v", err)
	pe.Err = err
	return pe
}

// markers are the top-level members that identify each shape. Every shape S3 produces has
// exactly one of them, so a body with several is refused rather than guessed at.
var markers = []struct {
	member string
	kind   Kind
}{
	{"Records", KindS3},
	{"Type", KindSNS},
	{"Event", KindTest},
	{"detail-type", KindEventBridge},
}

func detect(top map[string]json.RawMessage) (Kind, error) {
	var found []string
	var kind Kind
	for _, m := range markers {
		if _, ok := top[m.member]; ok {
			found = append(found, m.member)
			kind = m.kind
		}
	}
	switch len(found) {
	case 1:
		return kind, nil
	case 0:
		return "", newError(ReasonUnknownShape, "", "JSON object with %s is none of: an S3 notification (Records), "+
			"an SNS envelope (Type, Message), an S3 test event (Event) or an EventBridge event (detail-type)", describeMembers(top))
	default:
		return "", newError(ReasonUnknownShape, "", "JSON object has the members of several shapes at once (%s)", strings.Join(found, ", "))
	}
}

// describeMembers names a few members of an unrecognised object, enough for a person to
// tell what was sent without copying a hostile body into a log line.
func describeMembers(top map[string]json.RawMessage) string {
	if len(top) == 0 {
		return "no members"
	}
	names := make([]string, 0, len(top))
	for name := range top {
		names = append(names, name)
	}
	sort.Strings(names)
	const shown = 5
	var b strings.Builder
	b.WriteString("members ")
	for i, name := range names {
		if i == shown {
			fmt.Fprintf(&b, " and %d more", len(names)-shown)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(short(name))
	}
	return b.String()
}

// short quotes s for an error message, cut to a length that keeps log lines readable.
func short(s string) string {
	const limit = 64
	if len(s) <= limit {
		return fmt.Sprintf("%q", s)
	}
	cut := limit
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…(%d bytes)", s[:cut], len(s))
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// parseTime reads the timestamps S3 and EventBridge write (RFC 3339, S3 with milliseconds)
// and returns them in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
