package localrun

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gate"
)

// A file's status at the end of a run. The loader's own statuses (loaded, replaced, reloaded,
// skipped_older, superseded) are kept as it reports them; the others say where the file
// stopped.
const (
	StatusLoaded       = "loaded"        // its rows were added
	StatusReplaced     = "replaced"      // its rows replaced an older version's
	StatusReloaded     = "reloaded"      // this version was loaded before: unchanged
	StatusSkippedOlder = "skipped_older" // a newer version is loaded: unchanged
	StatusSuperseded   = "superseded"    // overwritten or deleted between validation and load: not loaded
	StatusUnchanged    = "unchanged"     // uploaded again with the same content: its rows were replaced by the same rows
	StatusRejected     = "rejected"      // a gate refused it; it is in quarantine with a report
	StatusNotDelivered = "not_delivered" // S3 sends no notification for its suffix
	StatusAccepted     = "accepted"      // validated; its load did not end in this run
	StatusFailed       = "failed"        // its batch failed; the dead-letter queue holds it
	StatusSkipped      = "skipped"       // overwritten or deleted before it was read
)

// FileResult is what happened to one file in this run.
type FileResult struct {
	Key       string `json:"key"`
	VersionID string `json:"version"`
	Status    string `json:"status"`
	Rows      int64  `json:"rows"`
	// Rule, Problem and Report are set for a rejected file: the gate that refused it, the
	// first problem found, and the S3 key of its report.
	Rule    string `json:"rule"`
	Problem string `json:"problem,omitempty"`
	Report  string `json:"report"`
	// ReportPath is the report's file on this machine, under the state folder.
	ReportPath string `json:"report_path,omitempty"`
}

// Phrase says a status in words, for the text summary.
func Phrase(status string) string {
	switch status {
	case StatusReloaded, StatusSkippedOlder, StatusUnchanged:
		return "unchanged (already loaded)"
	case StatusNotDelivered:
		return "not delivered (suffix)"
	case StatusAccepted:
		return "accepted, not loaded yet (queued for the next run)"
	case StatusFailed:
		return "failed (in the dead-letter queue)"
	case StatusSkipped:
		return "skipped (overwritten or deleted before it was read)"
	case StatusSuperseded:
		return "superseded (overwritten or deleted after it was validated; the rest of its batch loaded)"
	}
	return status
}

// fileResults keeps one FileResult per file version, whatever the order in which the
// validator's verdicts and the loader's results arrive.
type fileResults struct {
	mu    sync.Mutex
	byKey map[string]*FileResult
}

func newFileResults() *fileResults { return &fileResults{byKey: map[string]*FileResult{}} }

func (r *fileResults) set(key, version string, update func(*FileResult)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := key + "\x00" + version
	f, ok := r.byKey[id]
	if !ok {
		f = &FileResult{Key: key, VersionID: version}
		r.byKey[id] = f
	}
	update(f)
}

// list returns the results sorted by key and version.
func (r *fileResults) list() []FileResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]FileResult, 0, len(r.byKey))
	for _, f := range r.byKey {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].VersionID < out[j].VersionID
	})
	return out
}

// maxReportsRead bounds how many reports the summary opens for their first problem; beyond
// it, a rejected file shows its rule and report path only.
const maxReportsRead = 1000

// addProblems reads the first problem of each rejected file from its report in quarantine,
// the same document a person would open.
func (st *stack) addProblems(ctx context.Context, files []FileResult) {
	read := 0
	for i := range files {
		f := &files[i]
		if f.Status != StatusRejected || f.Report == "" {
			continue
		}
		f.ReportPath = filepath.Join(st.dir, "s3", "buckets", bucketName, filepath.FromSlash(f.Report))
		if _, err := os.Stat(f.ReportPath); err != nil {
			f.ReportPath = ""
		}
		if read == maxReportsRead {
			continue
		}
		read++
		out, err := st.s3.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucketName), Key: aws.String(f.Report)})
		if err != nil {
			continue
		}
		var rep gate.Report
		err = json.NewDecoder(io.LimitReader(out.Body, 1<<20)).Decode(&rep)
		out.Body.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			continue
		}
		if len(rep.Errors) > 0 {
			f.Problem = rep.Errors[0].Message
			if e := rep.Errors[0]; e.Line > 0 {
				f.Problem = fmt.Sprintf("line %d: %s", e.Line, e.Message)
			}
		} else {
			f.Problem = rep.Message
		}
	}
}

// noteSameContent records, before an upload, whether key already holds exactly body: S3's
// ETag of a single-part upload is the MD5 of its bytes.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html (ETag)
func (st *stack) noteSameContent(ctx context.Context, key string, body io.ReadSeeker) error {
	head, err := st.s3.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucketName), Key: aws.String(key)})
	if err != nil {
		return nil // not there yet (or unreadable): the upload says what it is
	}
	h := md5.New()
	if _, err := io.Copy(h, body); err != nil {
		return err
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if strings.Trim(aws.ToString(head.ETag), `"`) == hex.EncodeToString(h.Sum(nil)) {
		st.reuploadMu.Lock()
		if st.reuploaded == nil {
			st.reuploaded = map[string]bool{}
		}
		st.reuploaded[key] = true
		st.reuploadMu.Unlock()
	}
	return nil
}

func (st *stack) sameContent(key string) bool {
	st.reuploadMu.Lock()
	defer st.reuploadMu.Unlock()
	return st.reuploaded[key]
}
