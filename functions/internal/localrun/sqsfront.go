package localrun

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"strings"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
)

// sqsFront serves the SQS API calls the handlers make (SendMessage, in the AWS JSON protocol)
// on loopback, in front of in-process queues, so the validator's real SQS client runs unchanged.
type sqsFront struct {
	URL    string
	srv    *http.Server
	queues map[string]*sqslocal.Queue // by queue URL
}

func startSQSFront(queues ...*sqslocal.Queue) (*sqsFront, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &sqsFront{URL: "http://" + ln.Addr().String(), queues: map[string]*sqslocal.Queue{}}
	for _, q := range queues {
		f.queues[q.URL()] = q
	}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve)}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *sqsFront) Close() error { return f.srv.Close() }

type sqsAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue"`
}

func (f *sqsFront) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	var req struct {
		QueueURL          string                  `json:"QueueUrl"`
		MessageBody       string                  `json:"MessageBody"`
		MessageAttributes map[string]sqsAttribute `json:"MessageAttributes"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || action != "SendMessage" {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#InvalidAction", "message": "the local SQS endpoint serves SendMessage only"})
		return
	}
	q, ok := f.queues[req.QueueURL]
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."})
		return
	}
	attrs := map[string]string{}
	for name, a := range req.MessageAttributes {
		attrs[name] = a.StringValue
	}
	id := q.Send(req.MessageBody, attrs)
	bodySum := md5.Sum([]byte(req.MessageBody))
	out := map[string]string{"MessageId": id, "MD5OfMessageBody": hex.EncodeToString(bodySum[:])}
	if len(req.MessageAttributes) > 0 {
		out["MD5OfMessageAttributes"] = attributesMD5(req.MessageAttributes)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// attributesMD5 is SQS's digest of message attributes, which the SDK checks: for each
// attribute in name order, the length-prefixed name, data type, a transport byte (1 for
// strings) and the length-prefixed value.
func attributesMD5(attrs map[string]sqsAttribute) string {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New()
	field := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, n := range names {
		field(n)
		field(attrs[n].DataType)
		h.Write([]byte{1})
		field(attrs[n].StringValue)
	}
	return hex.EncodeToString(h.Sum(nil))
}
