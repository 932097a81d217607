package s3local

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
)

// Notifier receives one event per object created, as S3 event notifications would deliver it.
type Notifier func(obj s3event.Object)

// notifying wraps the S3 handler so that every successful object creation (PUT, copy,
// completed multipart upload) produces the event S3 would send. gofakes3 has no event
// notifications of its own.
type notifying struct {
	next   http.Handler
	server *Server
	notify Notifier

	mu       sync.Mutex
	lastSeq  int64
	sequence int64
}

func (n *notifying) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	event := createEvent(r)
	if event == "" {
		n.next.ServeHTTP(w, r)
		return
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	n.next.ServeHTTP(rec, r)
	if rec.status >= 300 {
		return
	}
	bucket, key, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		return
	}
	head, err := n.server.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	n.notify(s3event.Object{
		Bucket: bucket, Key: key, Size: aws.ToInt64(head.ContentLength),
		ETag: strings.Trim(aws.ToString(head.ETag), `"`), VersionID: rec.Header().Get("x-amz-version-id"),
		Sequencer: n.nextSequencer(), EventName: event, EventTime: time.Now().UTC(),
		PrincipalID: principal(r), SourceIP: host, Region: Region,
	})
}

// createEvent names the S3 event a request causes when it succeeds, or "" for none.
func createEvent(r *http.Request) string {
	q := r.URL.Query()
	q.Del("x-id") // the SDK names the operation in the query; it is no sub-resource
	switch {
	case r.Method == http.MethodPut && q.Has("partNumber"):
		return ""
	case r.Method == http.MethodPut && len(q) > 0:
		return "" // ?versioning, ?tagging and other sub-resources
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		return "ObjectCreated:Copy"
	case r.Method == http.MethodPut:
		return "ObjectCreated:Put"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "ObjectCreated:CompleteMultipartUpload"
	}
	return ""
}

// nextSequencer returns strictly increasing hex sequencers, as S3 orders events of one key.
func (n *notifying) nextSequencer() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	seq := time.Now().UnixNano()
	if seq <= n.lastSeq {
		seq = n.lastSeq + 1
	}
	n.lastSeq = seq
	return fmt.Sprintf("%016X", seq)
}

// principal is what S3 reports as the uploader: the access key's owner.
func principal(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if i := strings.Index(auth, "Credential="); i >= 0 {
		cred := auth[i+len("Credential="):]
		if j := strings.IndexAny(cred, "/,"); j >= 0 {
			return "AWS:" + cred[:j]
		}
	}
	return "AWS:anonymous"
}

// splitPath reads a path-style request path /bucket/key.
func splitPath(escaped string) (bucket, key string, ok bool) {
	b, k, found := strings.Cut(strings.TrimPrefix(escaped, "/"), "/")
	if !found || k == "" {
		return "", "", false
	}
	bucket, err1 := url.PathUnescape(b)
	key, err2 := url.PathUnescape(k)
	return bucket, key, err1 == nil && err2 == nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
