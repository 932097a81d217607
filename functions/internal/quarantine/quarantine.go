// Package quarantine reads the reports the validator writes beside rejected files, and finds
// the original upload of a rejected file so that it can be announced again.
package quarantine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/announce"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/awserr"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
)

// ReportSuffix ends the key of every report: quarantine/<path>.report.json beside
// quarantine/<path>, the copy of incoming/<path>.
const ReportSuffix = ".report.json"

// Client is the part of the S3 API this package uses; *s3.Client is one.
type Client interface {
	announce.Lister
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Layout names the prefixes the validator was deployed with.
type Layout struct {
	Bucket, Incoming, Quarantine string
}

// DefaultLayout is the template's: incoming/ and quarantine/.
func DefaultLayout(bucket string) Layout {
	return Layout{Bucket: bucket, Incoming: "incoming/", Quarantine: "quarantine/"}
}

// ReportKey returns the report's key for a file named by its upload key (incoming/...), its
// quarantined copy (quarantine/...) or its report.
func (l Layout) ReportKey(key string) string {
	switch {
	case strings.HasSuffix(key, ReportSuffix):
		return key
	case strings.HasPrefix(key, l.Incoming):
		return l.Quarantine + strings.TrimPrefix(key, l.Incoming) + ReportSuffix
	}
	return key + ReportSuffix
}

// Entry is one quarantined file.
type Entry struct {
	ReportKey string
	Written   time.Time
	Report    gate.Report
}

// Recent returns the reports written since since, newest first, at most limit of them.
func Recent(ctx context.Context, c Client, l Layout, since time.Time, limit int) ([]Entry, error) {
	var keys []Entry
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(l.Bucket), Prefix: aws.String(l.Quarantine)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", l.Bucket, l.Quarantine, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if strings.HasSuffix(k, ReportSuffix) && !aws.ToTime(o.LastModified).Before(since) {
				keys = append(keys, Entry{ReportKey: k, Written: aws.ToTime(o.LastModified)})
			}
		}
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].Written.After(keys[j].Written) })
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	for i := range keys {
		r, _, err := Read(ctx, c, l, keys[i].ReportKey)
		if err != nil {
			return nil, err
		}
		keys[i].Report = r
	}
	return keys, nil
}

// ErrNoReport means no report exists for the key given.
var ErrNoReport = errors.New("no quarantine report")

// Read returns one report, decoded and as stored.
func Read(ctx context.Context, c Client, l Layout, key string) (gate.Report, []byte, error) {
	rk := l.ReportKey(key)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(l.Bucket), Key: aws.String(rk)})
	if err != nil {
		if awserr.Classify(err) == awserr.NotFound {
			return gate.Report{}, nil, fmt.Errorf("%w s3://%s/%s: was %s rejected? 'quarantine' lists the rejected files", ErrNoReport, l.Bucket, rk, key)
		}
		return gate.Report{}, nil, fmt.Errorf("read s3://%s/%s: %w", l.Bucket, rk, err)
	}
	defer out.Body.Close()
	raw, err := io.ReadAll(out.Body)
	if err != nil {
		return gate.Report{}, nil, fmt.Errorf("read s3://%s/%s: %w", l.Bucket, rk, err)
	}
	var r gate.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		return gate.Report{}, raw, fmt.Errorf("s3://%s/%s is not a quarantine report: %w", l.Bucket, rk, err)
	}
	return r, raw, nil
}

// Original finds the upload a report is about, as it is now, ready to be announced again.
// changed says the object is no longer the version that was rejected (it was uploaded again).
func Original(ctx context.Context, c Client, l Layout, key string) (obj announce.Object, r gate.Report, changed bool, err error) {
	r, _, err = Read(ctx, c, l, key)
	if err != nil {
		return announce.Object{}, r, false, err
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(l.Bucket), Key: aws.String(r.Key)})
	if err != nil {
		return announce.Object{}, r, false, fmt.Errorf("the rejected file s3://%s/%s cannot be read (deleted?): %w", l.Bucket, r.Key, err)
	}
	obj = announce.Object{
		Key: r.Key, Size: aws.ToInt64(head.ContentLength), ETag: strings.Trim(aws.ToString(head.ETag), `"`),
		LastModified: aws.ToTime(head.LastModified),
	}
	// S3 names the only version of an object in an unversioned bucket "null".
	if v := aws.ToString(head.VersionId); v != "null" {
		obj.VersionID = v
	}
	changed = (r.VersionID != "" && aws.ToString(head.VersionId) != r.VersionID) || (r.ETag != "" && strings.Trim(r.ETag, `"`) != obj.ETag)
	return obj, r, changed, nil
}

// WriteReport prints a report as Read returned it, indented; what is not JSON is printed as
// stored.
func WriteReport(w io.Writer, raw []byte) error {
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(raw)
	}
	pretty.WriteByte('\n')
	_, err := pretty.WriteTo(w)
	return err
}

// WriteList prints entries as a table: when, rule, file, first problem.
func WriteList(w io.Writer, entries []Entry) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REJECTED AT\tRULE\tFILE\tFIRST PROBLEM")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Written.UTC().Format(time.RFC3339), e.Report.Rule, e.Report.Key, FirstProblem(e.Report))
	}
	_ = tw.Flush()
}

// FirstProblem is the report's first finding with where it is, or its summary.
func FirstProblem(r gate.Report) string {
	if len(r.Errors) == 0 {
		return r.Message
	}
	f := r.Errors[0]
	if f.Line > 0 {
		return fmt.Sprintf("line %d, record %d: %s", f.Line, f.Record, f.Message)
	}
	return f.Message
}
