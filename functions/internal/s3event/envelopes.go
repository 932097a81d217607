package s3event

import (
	"encoding/json"
	"errors"
)

// parseSNS unwraps an SNS envelope, whose Message member holds the S3 notification as a
// JSON string.
func parseSNS(top map[string]json.RawMessage) (Message, error) {
	var typ string
	if err := json.Unmarshal(top["Type"], &typ); err != nil {
		pe := newError(ReasonInvalidField, "Type", "is a JSON %s, not a string", jsonType(top["Type"]))
		pe.Err = err
		return Message{}, pe
	}
	if typ != "Notification" {
		// A SubscriptionConfirmation or UnsubscribeConfirmation reaches the queue only when
		// the subscription is being set up or torn down; it never names an object.
		return Message{}, newError(ReasonNotS3, "Type", "is %s; only an SNS Notification carries S3 events", short(typ))
	}
	raw, ok := top["Message"]
	if !ok {
		return Message{}, newError(ReasonMissingField, "Message", "is missing from the SNS envelope")
	}
	var inner string
	if err := json.Unmarshal(raw, &inner); err != nil {
		pe := newError(ReasonInvalidField, "Message", "is a JSON %s; SNS sends the notification as a string", jsonType(raw))
		pe.Err = err
		return Message{}, pe
	}

	msg, err := parse([]byte(inner), KindSNS)
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			return Message{}, err
		}
		pe.Envelope = KindSNS
		switch pe.Reason {
		case ReasonEmpty, ReasonNotJSON, ReasonNotObject, ReasonUnknownShape:
			// SNS carries whatever its publishers send; only S3's own content is ours.
			pe.Reason = ReasonNotS3
			pe.Detail = "not an S3 notification: " + pe.Detail
		}
		return Message{}, pe
	}
	if msg.Kind == KindS3 {
		msg.Kind = KindSNS
	}
	return msg, nil
}

// parseTestEvent reads the message S3 sends once to check that it may publish to a
// destination. It names no object and is acknowledged without work.
func parseTestEvent(top map[string]json.RawMessage) (Message, error) {
	var event string
	if err := json.Unmarshal(top["Event"], &event); err != nil {
		pe := newError(ReasonInvalidField, "Event", "is a JSON %s, not a string", jsonType(top["Event"]))
		pe.Err = err
		return Message{}, pe
	}
	if event != "s3:TestEvent" {
		return Message{}, newError(ReasonUnsupportedEvent, "Event", `is %s; the only event of this shape is "s3:TestEvent"`, short(event))
	}
	return Message{Kind: KindTest}, nil
}

// ebEvent is the part of an EventBridge event from S3 that this package reads.
type ebEvent struct {
	Source     string    `json:"source"`
	DetailType string    `json:"detail-type"`
	Time       string    `json:"time"`
	Region     string    `json:"region"`
	Detail     *ebDetail `json:"detail"`
}

type ebDetail struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"`
		Size      int64  `json:"size"`
		ETag      string `json:"etag"`
		VersionID string `json:"version-id"`
		Sequencer string `json:"sequencer"`
	} `json:"object"`
	Requester    string `json:"requester"`
	SourceIP     string `json:"source-ip-address"`
	Reason       string `json:"reason"`
	DeletionType string `json:"deletion-type"`
}

// parseEventBridge reads an S3 event delivered by EventBridge. Its key is decoded the way an S3
// notification's is (form-urlencoded, '+' a space): AWS's own event libraries (Powertools)
// decode EventBridge keys so, and a key with no reserved characters reads the same either way.
func parseEventBridge(body []byte) (Message, error) {
	var ev ebEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return Message{}, fieldTypeError(err, body)
	}
	switch {
	case ev.Source == "":
		return Message{}, newError(ReasonMissingField, "source", "is missing from the EventBridge event")
	case ev.Source != "aws.s3":
		return Message{}, newError(ReasonNotS3, "source", `is %s, not "aws.s3"`, short(ev.Source))
	case ev.DetailType == "":
		return Message{}, newError(ReasonMissingField, "detail-type", "is missing")
	case ev.Detail == nil:
		return Message{}, newError(ReasonMissingField, "detail", "is missing")
	}
	d := ev.Detail
	name, err := eventBridgeName(ev.DetailType, d)
	if err != nil {
		return Message{}, err
	}
	if ev.Time == "" {
		return Message{}, newError(ReasonMissingField, "time", "is missing")
	}
	at, terr := parseTime(ev.Time)
	if terr != nil {
		pe := newError(ReasonInvalidField, "time", "%s is not an RFC 3339 time", short(ev.Time))
		pe.Err = terr
		return Message{}, pe
	}
	switch {
	case d.Bucket.Name == "":
		return Message{}, newError(ReasonMissingField, "detail.bucket.name", "is missing")
	case d.Object.Key == "":
		return Message{}, newError(ReasonMissingField, "detail.object.key", "is missing")
	case d.Object.Size < 0:
		return Message{}, newError(ReasonInvalidField, "detail.object.size", "is negative (%d)", d.Object.Size)
	}
	key, perr := decodeKey(d.Object.Key)
	if perr != nil {
		perr.Field = "detail.object.key"
		return Message{}, perr
	}
	return Message{Kind: KindEventBridge, Objects: []Object{{
		Bucket:      d.Bucket.Name,
		Key:         key,
		Size:        d.Object.Size,
		ETag:        d.Object.ETag,
		VersionID:   d.Object.VersionID,
		Sequencer:   d.Object.Sequencer,
		EventName:   name,
		EventTime:   at,
		PrincipalID: d.Requester,
		SourceIP:    d.SourceIP,
		Region:      ev.Region,
	}}}, nil
}

// eventBridgeName maps an EventBridge detail-type (and, where it matters, the reason and
// deletion type) onto the event names S3 notifications use, so that the rest of the
// pipeline has one vocabulary.
func eventBridgeName(detailType string, d *ebDetail) (string, *ParseError) {
	switch detailType {
	case "Object Created":
		switch d.Reason {
		case "PutObject":
			return "ObjectCreated:Put", nil
		case "POST Object", "PostObject":
			return "ObjectCreated:Post", nil
		case "CopyObject":
			return "ObjectCreated:Copy", nil
		case "CompleteMultipartUpload":
			return "ObjectCreated:CompleteMultipartUpload", nil
		case "":
			return "", newError(ReasonMissingField, "detail.reason", "is missing from an Object Created event")
		default:
			// A creating API added after this was written still creates an object; keep
			// the event loadable under a name that says which API it was.
			return "ObjectCreated:" + d.Reason, nil
		}
	case "Object Deleted":
		prefix, suffix := "ObjectRemoved", "Delete"
		if d.Reason == "Lifecycle Expiration" {
			prefix = "LifecycleExpiration"
		}
		if d.DeletionType == "Delete Marker Created" {
			suffix = "DeleteMarkerCreated"
		}
		return prefix + ":" + suffix, nil
	case "Object Restore Initiated":
		return "ObjectRestore:Post", nil
	case "Object Restore Completed":
		return "ObjectRestore:Completed", nil
	case "Object Restore Expired":
		return "ObjectRestore:Delete", nil
	case "Object Tags Added":
		return "ObjectTagging:Put", nil
	case "Object Tags Deleted":
		return "ObjectTagging:Delete", nil
	case "Object ACL Updated":
		return "ObjectAcl:Put", nil
	case "Object Storage Class Changed":
		return "LifecycleTransition", nil
	case "Object Access Tier Changed":
		return "IntelligentTiering", nil
	default:
		return "", newError(ReasonUnsupportedEvent, "detail-type", "is %s, not an S3 object event this package knows", short(detailType))
	}
}
