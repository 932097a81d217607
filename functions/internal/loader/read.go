package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/awserr"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/records"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/snowflake"
)

// ObjectReader is the part of S3 the loader uses.
type ObjectReader interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// readFile streams file f into b at the version the validator checked, holding at most limit
// bytes of records in b. It reads by version id when the bucket is versioned; otherwise it
// sends If-Match with the ETag (S3 then answers 412 if the object was overwritten) and also
// compares the ETag of the answer, because not every S3 implementation honours If-Match on
// GET. A file that can no longer be read at that version comes back as a *supersededError and
// adds nothing to b.
func (h *Handler) readFile(ctx context.Context, f batch.File, b *snowflake.Batch, limit int64) error {
	return obs.Trace(ctx, "s3 read", func(ctx context.Context) error {
		obs.Annotate(ctx, obs.KeyS3Key, f.Key)
		return h.readObject(ctx, f, b, limit)
	})
}

// readObject streams one object into the batch.
func (h *Handler) readObject(ctx context.Context, f batch.File, b *snowflake.Batch, limit int64) error {
	in := &s3.GetObjectInput{Bucket: aws.String(f.Bucket), Key: aws.String(f.Key)}
	switch {
	case f.VersionID != "":
		in.VersionId = aws.String(f.VersionID)
	case f.ETag != "":
		in.IfMatch = aws.String(quoteETag(f.ETag))
	}
	out, err := h.S3.GetObject(ctx, in)
	if err != nil {
		if reason := supersededReason(f, err); reason != "" {
			return &supersededError{reason: reason, err: err}
		}
		return fileError(f, s3Name(err), fmt.Errorf("get object: %w", err))
	}
	defer out.Body.Close()
	if f.VersionID == "" && f.ETag != "" && out.ETag != nil && unquoteETag(*out.ETag) != unquoteETag(f.ETag) {
		return &supersededError{reason: fmt.Sprintf(
			"the object was overwritten after it was validated (its ETag is now %s, the validator read %s); the new version is loaded from its own notification",
			*out.ETag, quoteETag(f.ETag))}
	}

	// No file may be larger than the whole batch may be; the decoder stops such a file as
	// soon as it passes the cap, a gzip bomb included.
	r, err := records.NewReader(out.Body, f.Key, records.Limits{MaxBytes: limit})
	if err != nil {
		return contentError(f, err)
	}
	file := b.AddFile(toSnowflake(f))
	skip := slices.Sorted(slices.Values(f.Skip))
	var count int64
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return contentError(f, err)
		}
		count = rec.Number
		for len(skip) > 0 && skip[0] < rec.Number {
			skip = skip[1:]
		}
		if len(skip) > 0 && skip[0] == rec.Number {
			continue
		}
		b.AddRecord(file, rec.Number, rec.Raw)
		if b.PayloadBytes() > limit {
			return fileError(f, NameDataInvalid, fmt.Errorf(
				"the batch holds more than %d bytes of records by record %d of this file, above the loader's cap; lower the validator's BATCH_MAX_BYTES",
				limit, rec.Number))
		}
	}
	if count != f.Records {
		return fileError(f, NameDataInvalid, fmt.Errorf("holds %d records, the validator counted %d", count, f.Records))
	}
	return nil
}

// checkSkips refuses skip lists that cannot belong to the file: a number outside 1..records
// would silently load a record the validator rejected, or skip nothing.
func checkSkips(f batch.File) error {
	for _, n := range f.Skip {
		if n < 1 || n > f.Records {
			return fileError(f, NameDataInvalid, fmt.Errorf("skip list names record %d of %d", n, f.Records))
		}
	}
	return nil
}

// contentError turns a decoder error into the file's error: a content problem is
// Data.Invalid with its rule and line; anything else is a failed read of the body.
func contentError(f batch.File, err error) error {
	var re *records.Error
	if errors.As(err, &re) {
		fe := fileError(f, NameDataInvalid, err)
		fe.Rule, fe.Line = re.Rule, re.Line
		return fe
	}
	return fileError(f, s3Name(err), fmt.Errorf("read object: %w", err))
}

func fileError(f batch.File, name string, err error) *FileError {
	return &FileError{Name: name, Bucket: f.Bucket, Key: f.Key, VersionID: f.VersionID, Err: err}
}

// supersededError means the version the validator checked can no longer be read: the file is
// skipped with status superseded and the rest of the batch loads.
type supersededError struct {
	reason string
	err    error // the S3 error, when there was one
}

func (e *supersededError) Error() string { return e.reason }

func (e *supersededError) Unwrap() error { return e.err }

// supersededReason says why f can no longer be read, or returns "" when err is a failure that
// must stop the batch. Two answers mean the object itself moved on:
//   - 412 Precondition Failed: the GET carried If-Match with the validated ETag and the key now
//     holds other bytes (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
//     "If-Match"). The overwrite sent a notification of its own, which loads the new version.
//   - 404 NoSuchKey or NoSuchVersion: the object, or the validated version of it, was deleted.
//     There is nothing left to load. S3 answers 404 rather than 403 only to a caller that may
//     list the bucket (API_GetObject.html, "Permissions"), which is why the loader's role holds
//     s3:ListBucket; a 403 stays an error, since it also means a missing permission, which
//     skipping would hide.
//
// NoSuchBucket is not a vanished file but a wrong bucket, so it fails the batch.
func supersededReason(f batch.File, err error) string {
	switch awserr.Classify(err) {
	case awserr.Precondition:
		return fmt.Sprintf("the object was overwritten after it was validated (S3 refused the read with If-Match %s); the new version is loaded from its own notification", quoteETag(f.ETag))
	case awserr.NotFound:
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket" {
			return ""
		}
		if f.VersionID != "" {
			return "this version of the object was deleted after it was validated; there is nothing left to load"
		}
		return "the object was deleted after it was validated; there is nothing left to load"
	}
	return ""
}

// s3Name maps an S3 error that stops the batch to its documented name. A refusal (403) is
// S3.NotFound: the object cannot be read until a person acts.
func s3Name(err error) string {
	if awserr.Classify(err) == awserr.Transient {
		return NameS3Transient
	}
	return NameS3NotFound
}

func quoteETag(s string) string { return `"` + unquoteETag(s) + `"` }

func unquoteETag(s string) string { return strings.Trim(s, `"`) }
