package validator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/awserr"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/route"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/s3event"
)

type outcomeKind int

const (
	outcomeAccepted outcomeKind = iota
	outcomeRejected
	outcomeSkipped
	outcomeRetry
)

type outcome struct {
	kind  outcomeKind
	file  batch.File
	table string
}

// maxCopyBytes is S3's limit for a single CopyObject; a larger rejected file stays where it is
// and only its report goes to quarantine.
const maxCopyBytes = 5 << 30

// checkFile reads one object at the version the notification names and gates it.
func (h *Handler) checkFile(ctx context.Context, messageID string, obj s3event.Object) outcome {
	log := h.Logger.With("message_id", messageID, "bucket", obj.Bucket, "s3_key", obj.Key, "version_id", obj.VersionID)

	in := &s3.GetObjectInput{Bucket: aws.String(obj.Bucket), Key: aws.String(obj.Key)}
	if obj.VersionID != "" {
		in.VersionId = aws.String(obj.VersionID)
	} else if obj.ETag != "" {
		in.IfMatch = aws.String(quoteETag(obj.ETag))
	}
	got, err := h.S3.GetObject(ctx, in)
	if err != nil {
		return h.readFailed(ctx, log, err)
	}
	defer got.Body.Close()

	// Without a version id, the ETag pins the bytes: an object overwritten since the
	// notification is a newer upload with its own notification, and this one is stale.
	etag := strings.Trim(aws.ToString(got.ETag), `"`)
	if obj.VersionID == "" && obj.ETag != "" && etag != "" && etag != strings.Trim(obj.ETag, `"`) {
		return h.skipOverwritten(ctx, log)
	}
	size := aws.ToInt64(got.ContentLength)
	if obj.Size > 0 {
		size = obj.Size
	}

	res, err := h.Gate.Check(ctx, obj.Key, size, got.Body)
	if err != nil {
		return h.readFailed(ctx, log, err)
	}
	table := route.DefaultTable
	if res.Accepted {
		table = h.Router.Table(obj.Key, res.RouteValue)
	}

	file := batch.File{
		Bucket: obj.Bucket, Key: obj.Key, VersionID: obj.VersionID, ETag: firstNonEmpty(strings.Trim(obj.ETag, `"`), etag),
		Size: size, Sequencer: obj.Sequencer, EventName: obj.EventName, EventTime: obj.EventTime,
		Principal: obj.PrincipalID, SourceIP: obj.SourceIP, Bytes: res.Bytes, Records: res.Records, Skip: res.Skip,
	}
	if !res.Accepted {
		if err := h.quarantine(ctx, file, res); err != nil {
			log.ErrorContext(ctx, "could not quarantine the rejected file; SQS will deliver the message again", "rule", res.Rule, "error", err.Error())
			return outcome{kind: outcomeRetry}
		}
		h.count(obs.FilesRejected, 1)
		log.WarnContext(ctx, "file rejected", "outcome", "rejected", "rule", res.Rule, "records", res.Records,
			"bad_records", res.BadRecords, "quarantine_key", h.quarantineKey(obj.Key))
		return outcome{kind: outcomeRejected}
	}
	h.count(obs.FilesAccepted, 1)
	h.count(obs.BytesAccepted, float64(size))
	log.InfoContext(ctx, "file accepted", "outcome", "accepted", "table", table, "records", res.Records,
		"bad_records", res.BadRecords, "format", string(res.Format))
	if res.LossyRecords > 0 {
		// LOSSY_NUMBERS=warn: the file loads, but Snowflake keeps fewer digits than were sent.
		log.WarnContext(ctx, "numbers will be rounded by Snowflake", "lossy_records", res.LossyRecords,
			"first", res.Warnings[0].Message, "line", res.Warnings[0].Line, "record", res.Warnings[0].Record)
	}
	return outcome{kind: outcomeAccepted, file: file, table: table}
}

// readFailed decides what a failed read means for the message.
func (h *Handler) readFailed(ctx context.Context, log *slog.Logger, err error) outcome {
	switch awserr.Classify(err) {
	case awserr.Precondition:
		return h.skipOverwritten(ctx, log)
	case awserr.NotFound:
		h.count(obs.FilesSkipped, 1)
		log.InfoContext(ctx, "object no longer exists; nothing to load", "outcome", "skipped", "error", err.Error())
		return outcome{kind: outcomeSkipped}
	case awserr.Transient:
		log.WarnContext(ctx, "could not read the object for now; SQS will deliver the message again", "outcome", "retry", "error", err.Error())
		return outcome{kind: outcomeRetry}
	default:
		// Access denied and the like need a person; the message goes back to SQS and, after
		// the queue's maximum receive count, to the dead-letter queue for redrive once fixed.
		log.ErrorContext(ctx, "could not read the object; check the validator's permissions", "outcome", "retry", "error", err.Error())
		return outcome{kind: outcomeRetry}
	}
}

// skipOverwritten acknowledges a notification whose object has since been overwritten: the
// newer upload has a notification of its own, which loads it.
func (h *Handler) skipOverwritten(ctx context.Context, log *slog.Logger) outcome {
	h.count(obs.FilesSkipped, 1)
	log.InfoContext(ctx, "object was overwritten since this notification; its newer notification loads it", "outcome", "skipped")
	return outcome{kind: outcomeSkipped}
}

// quarantineKey maps incoming/a/b.json to quarantine/a/b.json.
func (h *Handler) quarantineKey(key string) string {
	return h.Config.QuarantinePrefix + strings.TrimPrefix(key, h.Config.IncomingPrefix)
}

// quarantine copies a rejected file, server-side, under the quarantine prefix and writes its
// report beside it. The quarantine prefix lies outside the incoming prefix, so neither write
// triggers the pipeline again.
func (h *Handler) quarantine(ctx context.Context, f batch.File, res gate.Result) error {
	dest := h.quarantineKey(f.Key)
	if f.Size <= maxCopyBytes {
		source := url.PathEscape(f.Bucket) + "/" + escapeKey(f.Key)
		if f.VersionID != "" {
			source += "?versionId=" + url.QueryEscape(f.VersionID)
		}
		_, err := h.S3.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String(f.Bucket), Key: aws.String(dest), CopySource: aws.String(source),
		})
		if err != nil && awserr.Classify(err) != awserr.NotFound {
			return fmt.Errorf("copy s3://%s/%s to %s: %w", f.Bucket, f.Key, dest, err)
		}
	}
	report := gate.NewReport(f.Bucket, f.Key, f.VersionID, f.ETag, f.Size, res, h.Now().UTC())
	body, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	_, err = h.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(f.Bucket), Key: aws.String(dest + ".report.json"),
		Body: bytes.NewReader(body), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("write report %s.report.json: %w", dest, err)
	}
	return nil
}

// escapeKey escapes each path segment of a key for CopySource, keeping the slashes.
func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func quoteETag(etag string) string {
	return `"` + strings.Trim(etag, `"`) + `"`
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// deadLetterInput carries the original body unchanged, with the reason in attributes, so a
// person can read why and a redrive delivers exactly what arrived.
func deadLetterInput(queueURL string, rec events.SQSMessage, name, cause string) *sqs.SendMessageInput {
	if len(cause) > 1000 {
		cause = cause[:1000]
	}
	return &sqs.SendMessageInput{
		QueueUrl:    aws.String(queueURL),
		MessageBody: aws.String(rec.Body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"ErrorName":         {DataType: aws.String("String"), StringValue: aws.String(name)},
			"ErrorCause":        {DataType: aws.String("String"), StringValue: aws.String(cause)},
			"OriginalMessageId": {DataType: aws.String("String"), StringValue: aws.String(rec.MessageId)},
		},
	}
}
