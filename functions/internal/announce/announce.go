// Package announce sends S3-notification-shaped messages for objects already in a bucket, so
// the validator checks and loads them as if they had just been uploaded (a backfill).
package announce

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
)

// Suffixes are the key endings the bucket's notification configuration (template.yaml)
// announces; a backfill announces the same objects an upload would, and no others.
var Suffixes = []string{".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz"}

// Announced reports whether S3 would announce an object with this key.
func Announced(key string) bool {
	for _, s := range Suffixes {
		if strings.HasSuffix(key, s) {
			return true
		}
	}
	return false
}

// Lister lists a bucket's objects and their versions; *s3.Client is one.
type Lister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
}

// Sender sends messages to a queue in groups; *sqs.Client is one.
type Sender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// BatchSize is the most messages SQS takes in one SendMessageBatch.
const BatchSize = 10

// Object is one object to announce.
type Object struct {
	Key string
	// VersionID is the current version, empty when the bucket keeps none.
	VersionID    string
	Size         int64
	ETag         string
	LastModified time.Time
}

// List returns the objects under prefix that S3 would announce, in key order, each at its
// current version. The versions come from ListObjectVersions; where that is not available (a
// store without versioning, or no s3:ListBucketVersions permission) the objects are listed
// without versions.
func List(ctx context.Context, client Lister, bucket, prefix string) ([]Object, error) {
	out, err := listVersions(ctx, client, bucket, prefix)
	var apiErr smithy.APIError
	if err != nil && errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NotImplemented" || apiErr.ErrorCode() == "AccessDenied") {
		return listCurrent(ctx, client, bucket, prefix)
	}
	return out, err
}

// listVersions lists the latest version of each object; a key whose latest version is a
// delete marker is gone and left out.
func listVersions(ctx context.Context, client Lister, bucket, prefix string) ([]Object, error) {
	var out []Object
	p := s3.NewListObjectVersionsPaginator(client, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the versions under s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, v := range page.Versions {
			key := aws.ToString(v.Key)
			if !aws.ToBool(v.IsLatest) || !Announced(key) {
				continue
			}
			o := Object{Key: key, VersionID: aws.ToString(v.VersionId), Size: aws.ToInt64(v.Size), ETag: strings.Trim(aws.ToString(v.ETag), `"`), LastModified: aws.ToTime(v.LastModified)}
			// S3 names the only version of an object in an unversioned bucket "null".
			if o.VersionID == "null" {
				o.VersionID = ""
			}
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// listCurrent lists the objects without their versions.
func listCurrent(ctx context.Context, client Lister, bucket, prefix string) ([]Object, error) {
	var out []Object
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if !Announced(key) {
				continue
			}
			out = append(out, Object{Key: key, Size: aws.ToInt64(o.Size), ETag: strings.Trim(aws.ToString(o.ETag), `"`), LastModified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// Notification is the message S3 would have sent for obj: one record, ObjectCreated:Put, the
// object's version, ETag and size, its last-modified time as the event time. The validator
// reads exactly that version, so loading it again replaces its own rows (status reloaded).
// Without a version the ETag pins the bytes, and a file overwritten in the meantime is skipped
// (its own upload announced the newer bytes). S3 sequencers cannot be had after the fact.
func Notification(bucket string, obj Object) (string, error) {
	body, err := s3event.Encode([]s3event.Object{{
		Bucket: bucket, Key: obj.Key, VersionID: obj.VersionID, Size: obj.Size, ETag: obj.ETag,
		EventName: "ObjectCreated:Put", EventTime: obj.LastModified.UTC(),
	}})
	return string(body), err
}

// Options say where to send and how fast.
type Options struct {
	Bucket, QueueURL string
	// PerSecond paces the messages; 0 sends as fast as SQS takes them.
	PerSecond float64
	// Done, when set, is called after each group with the objects SQS accepted.
	Done func(sent []Object)
}

// Send announces objs to the queue in groups of BatchSize, paced. It returns how many were
// sent; an entry SQS refuses is sent once more in the next group, then reported in the error.
func Send(ctx context.Context, q Sender, objs []Object, opt Options) (int, error) {
	limit := rate.NewLimiter(rate.Inf, BatchSize)
	if opt.PerSecond > 0 {
		limit = rate.NewLimiter(rate.Limit(opt.PerSecond), BatchSize)
	}
	sent := 0
	var failed []string
	retried := map[string]bool{}
	pending := append([]Object(nil), objs...)
	for len(pending) > 0 {
		group := pending[:min(BatchSize, len(pending))]
		pending = pending[len(group):]
		if err := limit.WaitN(ctx, len(group)); err != nil {
			return sent, err
		}
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(group))
		byID := map[string]Object{}
		for i, o := range group {
			body, err := Notification(opt.Bucket, o)
			if err != nil {
				return sent, fmt.Errorf("%s: %w", o.Key, err)
			}
			id := strconv.Itoa(i)
			byID[id] = o
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(body)}
		}
		out, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(opt.QueueURL), Entries: entries})
		if err != nil {
			return sent, fmt.Errorf("send to %s: %w", opt.QueueURL, err)
		}
		sent += len(out.Successful)
		accepted := make([]Object, 0, len(out.Successful))
		for _, ok := range out.Successful {
			accepted = append(accepted, byID[aws.ToString(ok.Id)])
		}
		for _, f := range out.Failed {
			o := byID[aws.ToString(f.Id)]
			if !retried[o.Key] && !f.SenderFault {
				retried[o.Key] = true
				pending = append(pending, o)
				continue
			}
			failed = append(failed, fmt.Sprintf("%s (%s: %s)", o.Key, aws.ToString(f.Code), aws.ToString(f.Message)))
		}
		if opt.Done != nil {
			opt.Done(accepted)
		}
	}
	if len(failed) > 0 {
		return sent, fmt.Errorf("SQS refused %d of %d messages: %s", len(failed), len(objs), strings.Join(failed, "; "))
	}
	return sent, nil
}

// ErrNothing is returned by callers that found nothing to announce.
var ErrNothing = errors.New("no object under the prefix has a suffix S3 announces (.json, .ndjson, .jsonl, optionally .gz)")
