package snowflake

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// File is one S3 object version of a batch: where its records came from.
type File struct {
	Bucket    string
	Key       string
	VersionID string
	ETag      string
	Size      int64
	Sequencer string
	EventTime time.Time
	Principal string
	SourceIP  string
}

// Status says what a load did with a file.
type Status string

// The statuses a load reports. The vocabulary is small on purpose: it tells whether a file's
// rows are now in the table and, if so, what they replaced.
const (
	// StatusLoaded: the first version of this key to be loaded; its rows were added.
	StatusLoaded Status = "loaded"
	// StatusReplaced: an older version of the key was loaded; its rows were replaced.
	StatusReplaced Status = "replaced"
	// StatusReloaded: this same version was loaded before; its rows were replaced by one
	// fresh copy (a redelivery or a retried batch).
	StatusReloaded Status = "reloaded"
	// StatusSkippedOlder: a newer version of the key is already loaded; nothing changed.
	StatusSkippedOlder Status = "skipped_older"
	// StatusSuperseded: the object changed or vanished between validation and load, so the
	// version the validator checked can no longer be read; nothing of it was loaded. A newer
	// version of the key arrives with its own notification, and a deleted object has nothing
	// left to load. The loader reports it; Load never sees such a file.
	StatusSuperseded Status = "superseded"
)

// Batch is what one Load writes: files and their records, held as the three column slices
// that Load binds as arrays (stage row number i is fileNo[i], recordNo[i], payload[i]).
//
// Rows of two kinds share the columns. A record row carries its file's number, its record
// number and its text. A file row, record number 0, carries the file's metadata as a small
// JSON object in the payload column; the load statements read it from there. So a record
// costs its text plus three values, not the thirteen of a row that repeated its file's
// metadata: the driver spends some 40 bytes of memory per bound value, which for 200-byte
// events would otherwise outweigh the events themselves.
type Batch struct {
	// Table receives the records; it has RAW_DATA's columns.
	Table string
	// LoadID names the load in every row it writes (the Step Functions execution name).
	LoadID   string
	LoadedAt time.Time

	files    []File
	rows     []int64 // records per file
	fileRows []int   // stage row of each file
	bytes    int64   // record bytes held

	fileNo   []int64
	recordNo []int64
	payload  []string
}

// AddFile adds a file to the batch and returns its index, which AddRecord takes.
func (b *Batch) AddFile(f File) int {
	i := len(b.files)
	f.Sequencer = normalizeSequencer(f.Sequencer)
	b.files = append(b.files, f)
	b.rows = append(b.rows, 0)
	b.fileRows = append(b.fileRows, len(b.fileNo))
	// The file row's payload is written by seal, once the file's record count is known.
	b.appendRow(int64(i), 0, "")
	return i
}

// AddRecord adds one record of file i. raw is copied, so the caller may reuse its buffer.
func (b *Batch) AddRecord(file int, number int64, raw []byte) {
	b.rows[file]++
	b.bytes += int64(len(raw))
	b.appendRow(int64(file), number, string(raw))
}

func (b *Batch) appendRow(file, number int64, payload string) {
	b.fileNo = append(b.fileNo, file)
	b.recordNo = append(b.recordNo, number)
	b.payload = append(b.payload, payload)
}

// fileMeta is the payload of a file row. Empty values are left out, so that the statements
// read them as NULL.
type fileMeta struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"version_id,omitempty"`
	ETag      string `json:"etag,omitempty"`
	Size      int64  `json:"size"`
	Sequencer string `json:"sequencer,omitempty"`
	EventTime string `json:"event_time,omitempty"`
	Principal string `json:"principal,omitempty"`
	SourceIP  string `json:"source_ip,omitempty"`
	Rows      int64  `json:"rows"`
}

// seal writes each file's metadata, with its record count, into its file row.
func (b *Batch) seal() error {
	for i, f := range b.files {
		meta, err := json.Marshal(fileMeta{
			Bucket: f.Bucket, Key: f.Key, VersionID: f.VersionID, ETag: f.ETag, Size: f.Size,
			Sequencer: f.Sequencer, EventTime: formatTime(f.EventTime), Principal: f.Principal,
			SourceIP: f.SourceIP, Rows: b.rows[i],
		})
		if err != nil {
			return err
		}
		b.payload[b.fileRows[i]] = string(meta)
	}
	return nil
}

// Files returns the batch's files in the order they were added.
func (b *Batch) Files() []File { return b.files }

// Rows returns the number of records added for file i.
func (b *Batch) Rows(i int) int64 { return b.rows[i] }

// PayloadBytes returns the bytes of record text the batch holds.
func (b *Batch) PayloadBytes() int64 { return b.bytes }

// Records returns the number of records in the batch.
func (b *Batch) Records() int64 { return int64(len(b.fileNo) - len(b.files)) }

// check refuses a batch the load statements cannot handle.
func (b *Batch) check() error {
	switch {
	case !validTable(b.Table):
		return fmt.Errorf("table %q is not a valid Snowflake identifier", b.Table)
	case b.LoadID == "":
		return fmt.Errorf("batch has no load id")
	case len(b.files) == 0:
		return fmt.Errorf("batch has no files")
	}
	seen := make(map[[2]string]bool, len(b.files))
	for _, f := range b.files {
		k := [2]string{f.Bucket, f.Key}
		if seen[k] {
			// Two versions of one key in one MERGE would make its outcome depend on row
			// order; the caller keeps the newest (see Newer).
			return fmt.Errorf("batch holds s3://%s/%s twice", f.Bucket, f.Key)
		}
		seen[k] = true
	}
	return nil
}

// normalizeSequencer upper-cases a sequencer so that hex digits compare the same in Go and
// in SQL, whatever case the notification used.
func normalizeSequencer(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// isoOffset is ISO 8601 with a numeric offset, +00:00 included where RFC 3339 would write Z:
// the TZH:TZM form is the one Snowflake's TIMESTAMP_TZ input detection documents.
const isoOffset = "2006-01-02T15:04:05.999999999-07:00"

// formatTime writes t for a TIMESTAMP_TZ conversion; the zero time (unknown) becomes the
// empty string, left out and so NULL.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(isoOffset)
}
