package s3event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// EncodedVersion is the eventVersion Encode writes: the version S3 uses for ObjectCreated
// events, which every reader of version 2 understands.
const EncodedVersion = "2.1"

// eventTimeLayout is how S3 writes eventTime: UTC with milliseconds.
const eventTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// formatEventTime writes t as S3 does, keeping any digits below the millisecond (which S3
// never produces) so that no time read by Parse is changed by a round trip.
func formatEventTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		return t.Format(time.RFC3339Nano)
	}
	return t.Format(eventTimeLayout)
}

// notification and the types below are the members of an S3 notification that Encode writes.
type notification struct {
	Records []record `json:"Records"`
}

type record struct {
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AWSRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      userIdentity      `json:"userIdentity"`
	RequestParameters requestParameters `json:"requestParameters"`
	S3                recordS3          `json:"s3"`
}

type userIdentity struct {
	PrincipalID string `json:"principalId"`
}

type requestParameters struct {
	SourceIPAddress string `json:"sourceIPAddress"`
}

type recordS3 struct {
	SchemaVersion string       `json:"s3SchemaVersion"`
	Bucket        recordBucket `json:"bucket"`
	Object        recordObject `json:"object"`
}

type recordBucket struct {
	Name string `json:"name"`
}

type recordObject struct {
	Key string `json:"key"`
	// Size is a pointer so that it is written for every created object, empty ones included,
	// and left out of other events, as S3 does.
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	Sequencer string `json:"sequencer,omitempty"`
}

// Encode writes objs as one S3 notification, the way S3 would have sent them: eventVersion
// 2.1, eventSource aws:s3, keys form-urlencoded, eventTime in UTC with milliseconds. It is
// the inverse of Parse: a load batch's dead-letter message, redriven to the ingest queue,
// reads as an ordinary notification, and Parse(Encode(objs)) returns objs (with EventTime
// in UTC). Encode refuses objects that Parse would not read back (no bucket or event name,
// an event name with the "s3:" prefix, a key S3 could not hold, a negative size, text that
// is not UTF-8), so a dead letter never becomes a poison message.
func Encode(objs []Object) ([]byte, error) {
	if len(objs) == 0 {
		return nil, errors.New("s3event: encode: no objects; an S3 notification holds at least one record")
	}
	n := notification{Records: make([]record, len(objs))}
	for i, o := range objs {
		if err := encodable(o); err != nil {
			return nil, fmt.Errorf("s3event: encode object %d (bucket %s, key %s): %w", i, short(o.Bucket), short(o.Key), err)
		}
		obj := recordObject{
			Key:       encodeKey(o.Key),
			ETag:      o.ETag,
			VersionID: o.VersionID,
			Sequencer: o.Sequencer,
		}
		if o.Created() || o.Size != 0 {
			size := o.Size
			obj.Size = &size
		}
		n.Records[i] = record{
			EventVersion:      EncodedVersion,
			EventSource:       "aws:s3",
			AWSRegion:         o.Region,
			EventTime:         formatEventTime(o.EventTime),
			EventName:         o.EventName,
			UserIdentity:      userIdentity{PrincipalID: o.PrincipalID},
			RequestParameters: requestParameters{SourceIPAddress: o.SourceIP},
			S3: recordS3{
				SchemaVersion: "1.0",
				Bucket:        recordBucket{Name: o.Bucket},
				Object:        obj,
			},
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Keys and principals may hold '&', '<' or '>'; S3 does not escape them and neither
	// need we, since the message is never embedded in HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("s3event: encode: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// encodable checks that Parse will read o back unchanged.
func encodable(o Object) error {
	switch {
	case o.Bucket == "":
		return errors.New("bucket is empty")
	case o.Key == "":
		return errors.New("key is empty")
	case o.EventName == "":
		return errors.New("event name is empty")
	case o.EventName != normalizeEventName(o.EventName):
		return fmt.Errorf("event name %s carries the s3: prefix, which S3 does not write in events", short(o.EventName))
	case o.Size < 0:
		return fmt.Errorf("size %d is negative", o.Size)
	}
	if err := checkKey(o.Key); err != nil {
		return errors.New("key " + err.Detail)
	}
	if y := o.EventTime.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("event time %s is outside the years RFC 3339 can write", o.EventTime)
	}
	for _, f := range []struct{ name, value string }{
		{"bucket", o.Bucket}, {"etag", o.ETag}, {"version id", o.VersionID}, {"sequencer", o.Sequencer},
		{"event name", o.EventName}, {"principal id", o.PrincipalID}, {"source ip", o.SourceIP}, {"region", o.Region},
	} {
		// JSON would replace the invalid bytes, so the value would not come back as it went.
		if !utf8.ValidString(f.value) {
			return fmt.Errorf("%s is not valid UTF-8", f.name)
		}
	}
	return nil
}

// encodeKey writes a key the way S3 writes keys into notifications:
// application/x-www-form-urlencoded as Java's URLEncoder produces it (letters, digits and
// ". - * _" stay, a space becomes '+', every other byte becomes %XX in upper-case hex),
// except that '/' stays as it is, which is what S3 sends for keys with "folders". Readers
// decode any escape, so the choice only matters for how the message looks.
func encodeKey(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == '*', c == '_', c == '/':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0x0F])
		}
	}
	return b.String()
}
