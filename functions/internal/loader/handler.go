// Package loader is the loader Lambda's handler: it reads a batch's files at their validated versions and loads them into Snowflake in one transaction.
package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/obs"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/route"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/snowflake"
)

// Store is the Snowflake side of a load.
type Store interface {
	// Load writes the batch in one transaction and says what it did with each file.
	Load(ctx context.Context, b *snowflake.Batch) (*snowflake.Result, error)
	// Logins counts the Snowflake sessions opened so far by this container.
	Logins() int64
	// Close ends the sessions.
	Close() error
}

var _ Store = (*snowflake.Client)(nil)

// DefaultMaxBatchBytes bounds the decompressed record bytes one invocation loads. The loader
// does not hold a batch in memory: it writes the records to /tmp, gzipped file by file, and
// uploads them to a Snowflake stage (snowflake.Batch), so its heap stays near 50 MB whatever
// the batch (BenchmarkLoadMemory). The cap bounds /tmp instead: the template's
// EphemeralStorage (2 GiB) is sized for 512 MiB, the validator's default batch cap, which it
// counts in decompressed bytes too. A batch beyond the cap fails as Data.Invalid, naming the
// file where it was crossed: the validator's BATCH_MAX_BYTES must keep batches below it.
const DefaultMaxBatchBytes = 512 << 20

// maxListedFiles caps the per-file list of the output. A batch has at most 1000 files (100 by
// default); at about 150 bytes per entry even the full list stays far below Step Functions'
// 256 KiB state limit, but the cap keeps that true whatever the batch caps become.
const maxListedFiles = 500

// Handler loads one batch per invocation.
type Handler struct {
	S3    ObjectReader
	Store Store
	// Now gives the load time written to every row; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// MaxBatchBytes bounds the decompressed record bytes loaded; 0 means DefaultMaxBatchBytes.
	MaxBatchBytes int64
	// Metrics, when set, records each invocation's figures; they are written to MetricsOut as
	// one CloudWatch embedded-metric line at the end of the invocation.
	Metrics    *obs.Metrics
	MetricsOut io.Writer
}

// Output is the execution's result: small, so that it fits Step Functions' state limit.
type Output struct {
	LoadID string       `json:"load_id"`
	Table  string       `json:"table"`
	Files  []FileOutput `json:"files"`
	// FilesNotListed counts files left out of Files beyond maxListedFiles.
	FilesNotListed int `json:"files_not_listed,omitempty"`
	// FilesLoaded counts files whose rows are now in the table (loaded, replaced, reloaded).
	FilesLoaded int   `json:"files_loaded"`
	RowsLoaded  int64 `json:"rows_loaded"`
	// FilesSuperseded counts files skipped because their object changed or vanished after
	// validation. They are always listed in Files, whatever maxListedFiles says.
	FilesSuperseded int `json:"files_superseded,omitempty"`
}

// FileOutput is the outcome of one file.
type FileOutput struct {
	Key       string `json:"key"`
	VersionID string `json:"version_id,omitempty"`
	Rows      int64  `json:"rows"`
	// Status is one of loaded, replaced, reloaded, skipped_older, superseded (see
	// snowflake.Status).
	Status string `json:"status"`
	// Reason says why a superseded file was skipped.
	Reason string `json:"reason,omitempty"`
}

// Handle loads the batch and reports per file. A failure comes back as a
// messages.InvokeResponse_Error whose Type is one of the documented error names; a panic is
// logged and panics again as Loader.Panic (panicked).
func (h *Handler) Handle(ctx context.Context, in batch.Input) (Output, error) {
	// Every line logged during the load, the Snowflake login included, names the execution.
	ctx = obs.WithExecution(ctx, in.Name)
	defer h.panicked(ctx, in.Name)
	obs.Annotate(ctx, obs.KeyExecution, in.Name)
	log := h.logger()
	loginsBefore, started := h.Store.Logins(), time.Now()
	out, rows, err := h.load(ctx, in)
	logins := h.Store.Logins()
	h.flushMetrics(ctx, out, logins-loginsBefore, time.Since(started))
	if err != nil {
		name := nameOf(err)
		attrs := []any{
			slog.String("load_id", in.Name), slog.String("table", in.Table),
			slog.String("error_name", name), slog.Int64("rows", rows), slog.Int64("logins", logins),
			slog.String("error", err.Error()),
		}
		log.ErrorContext(ctx, "batch failed", append(attrs, errorAttrs(err)...)...)
		return Output{}, invokeError(name, err)
	}
	log.InfoContext(ctx, "batch loaded",
		slog.String("load_id", out.LoadID), slog.String("table", out.Table),
		slog.Int("files", len(in.Files)), slog.Int("files_loaded", out.FilesLoaded),
		slog.Int("files_superseded", out.FilesSuperseded),
		slog.Int64("rows", out.RowsLoaded), slog.Int64("logins", logins))
	return out, nil
}

// flushMetrics writes the invocation's metric line: files and rows loaded, how long the load
// took, and the logins it needed (0 on a warm container: a rising figure means sessions are
// not being reused).
func (h *Handler) flushMetrics(ctx context.Context, out Output, logins int64, took time.Duration) {
	if h.Metrics == nil || h.MetricsOut == nil {
		return
	}
	h.Metrics.Add(obs.FilesLoaded, float64(out.FilesLoaded))
	h.Metrics.Add(obs.RowsLoaded, float64(out.RowsLoaded))
	h.Metrics.Add(obs.LoadSeconds, took.Seconds())
	h.Metrics.Add(obs.SnowflakeLogins, float64(logins))
	if err := h.Metrics.Flush(h.MetricsOut); err != nil {
		h.logger().WarnContext(ctx, "could not write metrics", "error", err.Error())
	}
}

// load reads every file into one batch and loads it. rows is the number of records read, for
// the failure log line.
func (h *Handler) load(ctx context.Context, in batch.Input) (Output, int64, error) {
	if err := in.Validate(); err != nil {
		return Output{}, 0, &inputError{err}
	}
	if !route.ValidTable(in.Table) {
		return Output{}, 0, &inputError{fmt.Errorf("table %q is not a valid Snowflake identifier", in.Table)}
	}
	if in.Name == "" {
		return Output{}, 0, &inputError{fmt.Errorf("execution input has no name, which every loaded row carries as its load id")}
	}
	for _, f := range in.Files {
		if err := checkSkips(f); err != nil {
			return Output{}, 0, err
		}
	}

	keptAs := newestPerKey(in.Files)
	b := &snowflake.Batch{Table: in.Table, LoadID: in.Name, LoadedAt: h.now()}
	// The batch spools its records to /tmp; a batch that never reaches Load is removed here.
	defer b.Close()
	// index holds the batch file index of each kept input file, or -1 for a superseded one,
	// whose reason is in superseded.
	index := make([]int, len(in.Files))
	superseded := map[int]string{}
	limit := h.maxBatchBytes()
	for i, f := range in.Files {
		if keptAs[i] != i {
			continue
		}
		err := h.readFile(ctx, f, b, limit)
		var se *supersededError
		if errors.As(err, &se) {
			// One overwritten or deleted file must not send the rest of its batch to the
			// dead-letter queue: it is skipped, named in the result and in this line.
			index[i], superseded[i] = -1, se.reason
			h.logger().WarnContext(ctx, "file skipped: superseded",
				slog.String("load_id", in.Name), slog.String("bucket", f.Bucket),
				slog.String("s3_key", f.Key), slog.String("version_id", f.VersionID),
				slog.String("status", string(snowflake.StatusSuperseded)), slog.String("reason", se.reason))
			continue
		}
		if err != nil {
			return Output{}, b.Records(), err
		}
		index[i] = len(b.Files()) - 1
	}

	res := &snowflake.Result{}
	if len(b.Files()) > 0 {
		err := obs.Trace(ctx, "snowflake load", func(ctx context.Context) error {
			var err error
			res, err = h.Store.Load(ctx, b)
			return err
		})
		if err != nil {
			return Output{}, b.Records(), err
		}
	}
	return h.output(in, keptAs, index, superseded, res), b.Records(), nil
}

// output reports each input file in input order. A file left out for a newer version of its
// key in the same batch is skipped_older; a second copy of the kept version reports the kept
// file's status with no rows of its own, so rows are counted once. When the kept version is
// superseded, an older version of the key in the same batch stays skipped_older: it would
// have been replaced by the kept one, and loading it now could bring back rows of a version
// its owner has already overwritten or deleted.
func (h *Handler) output(in batch.Input, keptAs, index []int, superseded map[int]string, res *snowflake.Result) Output {
	out := Output{LoadID: in.Name, Table: in.Table, Files: []FileOutput{}}
	for i, f := range in.Files {
		fo := FileOutput{Key: f.Key, VersionID: f.VersionID}
		k := keptAs[i]
		var r snowflake.FileResult
		if reason, ok := superseded[k]; ok {
			r.Status = snowflake.StatusSuperseded
			fo.Reason = reason
		} else {
			r = res.Files[index[k]]
		}
		switch {
		case k == i:
			fo.Status, fo.Rows = string(r.Status), r.Rows
		case sameVersion(f, in.Files[k]):
			fo.Status = string(r.Status)
		default:
			fo.Status, fo.Reason = string(snowflake.StatusSkippedOlder), ""
		}
		if k == i && r.Status != snowflake.StatusSkippedOlder && r.Status != snowflake.StatusSuperseded {
			out.FilesLoaded++
			out.RowsLoaded += fo.Rows
		}
		if fo.Status == string(snowflake.StatusSuperseded) {
			out.FilesSuperseded++
		}
		if len(out.Files) < maxListedFiles || fo.Status == string(snowflake.StatusSuperseded) {
			out.Files = append(out.Files, fo)
		} else {
			out.FilesNotListed++
		}
	}
	return out
}

// newestPerKey returns, for each file, the index of the file that stands for its key: the
// newest of the batch's versions of that key. Only that one is read; the others would be
// replaced within the same transaction anyway.
func newestPerKey(files []batch.File) []int {
	best := map[[2]string]int{}
	for i, f := range files {
		k := [2]string{f.Bucket, f.Key}
		j, seen := best[k]
		if !seen || snowflake.Newer(toSnowflake(f), toSnowflake(files[j])) {
			best[k] = i
		}
	}
	keptAs := make([]int, len(files))
	for i, f := range files {
		keptAs[i] = best[[2]string{f.Bucket, f.Key}]
	}
	return keptAs
}

// sameVersion reports whether two entries name one object version.
func sameVersion(a, b batch.File) bool {
	if a.VersionID != "" || b.VersionID != "" {
		return a.VersionID == b.VersionID
	}
	return unquoteETag(a.ETag) == unquoteETag(b.ETag) && snowflake.CompareSequencers(a.Sequencer, b.Sequencer) == 0
}

func toSnowflake(f batch.File) snowflake.File {
	return snowflake.File{
		Bucket: f.Bucket, Key: f.Key, VersionID: f.VersionID, ETag: unquoteETag(f.ETag), Size: f.Size,
		Sequencer: f.Sequencer, EventTime: f.EventTime, Principal: f.Principal, SourceIP: f.SourceIP,
	}
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func (h *Handler) maxBatchBytes() int64 {
	if h.MaxBatchBytes > 0 {
		return h.MaxBatchBytes
	}
	return DefaultMaxBatchBytes
}
