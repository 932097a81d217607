package s3event

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"
)

// s3Record is the part of an S3 notification record this package reads. Members are typed
// so that the documentation's placeholder template (a size written as a string, prose in
// eventTime) fails to decode instead of yielding zero values.
type s3Record struct {
	EventVersion string `json:"eventVersion"`
	// EventSource also receives the "EventSource" of SNS→Lambda records (encoding/json
	// matches names case-insensitively), which is how such an event is recognised.
	EventSource  string `json:"eventSource"`
	AWSRegion    string `json:"awsRegion"`
	EventTime    string `json:"eventTime"`
	EventName    string `json:"eventName"`
	UserIdentity struct {
		PrincipalID string `json:"principalId"`
	} `json:"userIdentity"`
	RequestParameters struct {
		SourceIPAddress string `json:"sourceIPAddress"`
	} `json:"requestParameters"`
	S3 struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			// Key is form-urlencoded. The urlDecodedKey member that some libraries add to
			// their own samples is not sent by S3 and is ignored.
			Key  string `json:"key"`
			Size int64  `json:"size"`
			// ETag is absent from copy and delete events; VersionID is absent in buckets
			// without versioning and null in the documentation's template.
			ETag      string `json:"eTag"`
			VersionID string `json:"versionId"`
			Sequencer string `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}

// parseNotification reads the Records member of an S3 notification.
func parseNotification(raw json.RawMessage) (Message, error) {
	var records []json.RawMessage
	if err := json.Unmarshal(raw, &records); err != nil {
		pe := newError(ReasonInvalidField, "Records", "is a JSON %s, not an array", jsonType(raw))
		pe.Err = err
		return Message{}, pe
	}
	if len(records) == 0 {
		return Message{}, newError(ReasonNoRecords, "Records", "holds no records; S3 never sends an empty notification")
	}
	objs := make([]Object, 0, len(records))
	for i, r := range records {
		o, err := parseRecord(r)
		if err != nil {
			err.Record = i
			return Message{}, err
		}
		objs = append(objs, o)
	}
	return Message{Kind: KindS3, Objects: objs}, nil
}

func parseRecord(raw json.RawMessage) (Object, *ParseError) {
	var rec s3Record
	decodeErr := json.Unmarshal(raw, &rec)

	// The source is checked first, even when some other member failed to decode: a Lambda
	// event passed whole is a wiring mistake and deserves to be named as such.
	switch rec.EventSource {
	case "aws:sqs":
		return Object{}, newError(ReasonLambdaEvent, "eventSource", `is "aws:sqs": this is a Lambda SQS event; each record's body is a message to parse`)
	case "aws:sns":
		return Object{}, newError(ReasonLambdaEvent, "EventSource", `is "aws:sns": this is a Lambda SNS event, whose records carry Sns.Message, not S3 objects`)
	}
	if decodeErr != nil {
		return Object{}, fieldTypeError(decodeErr, raw)
	}
	switch {
	case rec.EventSource == "":
		return Object{}, newError(ReasonMissingField, "eventSource", "is missing")
	case rec.EventSource != "aws:s3":
		return Object{}, newError(ReasonNotS3, "eventSource", `is %s, not "aws:s3"`, short(rec.EventSource))
	}
	if err := checkVersion(rec.EventVersion); err != nil {
		return Object{}, err
	}

	name := normalizeEventName(rec.EventName)
	if name == "" {
		return Object{}, newError(ReasonMissingField, "eventName", "is missing")
	}
	if rec.EventTime == "" {
		return Object{}, newError(ReasonMissingField, "eventTime", "is missing")
	}
	at, err := parseTime(rec.EventTime)
	if err != nil {
		pe := newError(ReasonInvalidField, "eventTime", "%s is not an RFC 3339 time", short(rec.EventTime))
		pe.Err = err
		return Object{}, pe
	}
	obj := rec.S3.Object
	if rec.S3.Bucket.Name == "" {
		return Object{}, newError(ReasonMissingField, "s3.bucket.name", "is missing")
	}
	if obj.Key == "" {
		return Object{}, newError(ReasonMissingField, "s3.object.key", "is missing")
	}
	key, perr := decodeKey(obj.Key)
	if perr != nil {
		return Object{}, perr
	}
	if obj.Size < 0 {
		return Object{}, newError(ReasonInvalidField, "s3.object.size", "is negative (%d)", obj.Size)
	}
	return Object{
		Bucket:      rec.S3.Bucket.Name,
		Key:         key,
		Size:        obj.Size,
		ETag:        obj.ETag,
		VersionID:   obj.VersionID,
		Sequencer:   obj.Sequencer,
		EventName:   name,
		EventTime:   at,
		PrincipalID: rec.UserIdentity.PrincipalID,
		SourceIP:    rec.RequestParameters.SourceIPAddress,
		Region:      rec.AWSRegion,
	}, nil
}

// checkVersion accepts every eventVersion of major version 2. S3 has published 2.0 to 2.3
// per event type and, since 2.4, one version for all types that grows as fields are added;
// additions within a major version do not change the members read here.
func checkVersion(v string) *ParseError {
	if v == "" {
		return newError(ReasonMissingField, "eventVersion", "is missing")
	}
	major, _, _ := strings.Cut(v, ".")
	if major != "2" {
		return newError(ReasonUnsupportedVersion, "eventVersion", "is %s; only major version 2 is understood", short(v))
	}
	return nil
}

// normalizeEventName drops the "s3:" prefix that notification configurations use and some
// hand-written samples copy into events; S3 itself writes names without it.
func normalizeEventName(name string) string {
	for strings.HasPrefix(name, "s3:") {
		name = name[len("s3:"):]
	}
	return name
}

// decodeKey undoes the application/x-www-form-urlencoded encoding S3 applies to keys in
// notifications: '+' is a space and %XX a byte, so "%2B" is a literal '+' and multi-byte
// UTF-8 arrives as a run of escapes.
func decodeKey(encoded string) (string, *ParseError) {
	key, err := url.QueryUnescape(encoded)
	if err != nil {
		pe := newError(ReasonInvalidKey, "s3.object.key", "%s is not form-urlencoded: %v", short(encoded), err)
		pe.Err = err
		return "", pe
	}
	if err := checkKey(key); err != nil {
		err.Detail = short(encoded) + " decodes to a key that " + err.Detail
		return "", err
	}
	return key, nil
}

// checkKey applies S3's own rules for key names: UTF-8, at most MaxKeyBytes bytes.
func checkKey(key string) *ParseError {
	switch {
	case !utf8.ValidString(key):
		return newError(ReasonInvalidKey, "s3.object.key", "is not valid UTF-8")
	case len(key) > MaxKeyBytes:
		return newError(ReasonInvalidKey, "s3.object.key", "is %d bytes, longer than the %d S3 allows", len(key), MaxKeyBytes)
	}
	return nil
}

// fieldTypeError names the member whose JSON type did not match.
func fieldTypeError(err error, raw json.RawMessage) *ParseError {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		if typ.Field == "" {
			pe := newError(ReasonInvalidField, "", "is a JSON %s, not an object", typ.Value)
			pe.Err = err
			return pe
		}
		pe := newError(ReasonInvalidField, typ.Field, "is a JSON %s, want %s", typ.Value, jsonKindOf(typ.Type.Kind().String()))
		pe.Err = err
		return pe
	}
	pe := newError(ReasonInvalidField, "", "does not decode (%s): %v", jsonType(raw), err)
	pe.Err = err
	return pe
}

// jsonKindOf turns a Go kind into the JSON type a reader of the message thinks in.
func jsonKindOf(goKind string) string {
	switch {
	case goKind == "string":
		return "a string"
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "an integer"
	case goKind == "struct", goKind == "map":
		return "an object"
	case goKind == "slice":
		return "an array"
	default:
		return goKind
	}
}

// jsonType names the JSON type of a raw value by its first byte.
func jsonType(raw json.RawMessage) string {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return "object"
		case '[':
			return "array"
		case '"':
			return "string"
		case 't', 'f':
			return "bool"
		case 'n':
			return "null"
		default:
			return "number"
		}
	}
	return "empty value"
}
