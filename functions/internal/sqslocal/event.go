package sqslocal

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"

	"github.com/aws/aws-lambda-go/events"
)

// Event builds the event Lambda's SQS trigger delivers for messages received from q.
func (q *Queue) Event(msgs []Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		ev.Records = append(ev.Records, q.record(m))
	}
	return ev
}

func (q *Queue) record(m Message) events.SQSMessage {
	sum := md5.Sum([]byte(m.Body))
	r := events.SQSMessage{
		MessageId:         m.ID,
		ReceiptHandle:     m.ReceiptHandle,
		Body:              m.Body,
		Md5OfBody:         hex.EncodeToString(sum[:]),
		Attributes:        maps.Clone(m.Attributes),
		MessageAttributes: map[string]events.SQSMessageAttribute{},
		EventSourceARN:    q.ARN(),
		EventSource:       "aws:sqs",
		AWSRegion:         Region,
	}
	if len(m.MessageAttributes) > 0 {
		r.Md5OfMessageAttributes = md5OfMessageAttributes(m.MessageAttributes)
	}
	for name, value := range m.MessageAttributes {
		// Lambda sends the list fields as empty arrays, not null.
		r.MessageAttributes[name] = events.SQSMessageAttribute{
			StringValue:      &value,
			StringListValues: []string{},
			BinaryListValues: [][]byte{},
			DataType:         "String",
		}
	}
	return r
}

// md5OfMessageAttributes computes the digest SQS reports for String message attributes: for
// each attribute in name order, the name, the data type and the value, each prefixed by its
// length as a 4-byte big-endian integer, with a transport byte of 1 (string) before the value.
func md5OfMessageAttributes(attrs map[string]string) string {
	var buf []byte
	field := func(s string) {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
		buf = append(buf, s...)
	}
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		field(name)
		field("String")
		buf = append(buf, 1)
		field(attrs[name])
	}
	sum := md5.Sum(buf)
	return hex.EncodeToString(sum[:])
}
