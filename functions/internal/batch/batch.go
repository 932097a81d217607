// Package batch defines the load batch: the execution input the validator starts and the loader reads.
package batch

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the version of the execution input shape. A loader refuses an input whose
// version it does not know, so old executions replayed after an upgrade fail loudly instead
// of loading half-understood files.
const Version = 1

// File is one validated S3 object in a load batch, with everything the loader needs to read
// exactly the bytes the validator checked and to enrich each record with where it came from.
type File struct {
	Bucket    string    `json:"bucket"`
	Key       string    `json:"key"`
	VersionID string    `json:"version_id,omitempty"`
	ETag      string    `json:"etag,omitempty"`
	Size      int64     `json:"size"`
	Sequencer string    `json:"sequencer,omitempty"`
	EventName string    `json:"event_name,omitempty"`
	EventTime time.Time `json:"event_time"`
	Principal string    `json:"principal_id,omitempty"`
	SourceIP  string    `json:"source_ip,omitempty"`
	// Bytes is the file's decompressed size, which is what a load holds in memory.
	Bytes int64 `json:"bytes,omitempty"`
	// Records is the number of records the validator counted, invalid ones included.
	Records int64 `json:"records"`
	// Skip lists the 1-based numbers of records the validator found invalid under a
	// bad-record threshold; the loader leaves them out. Empty when every record is valid.
	// Written as ranges ("3-7,12"), see Skips.
	Skip Skips `json:"skip,omitempty"`
}

// Input is the execution input of the loader state machine.
type Input struct {
	Version int    `json:"version"`
	Table   string `json:"table"`
	// Name is the execution name, derived from the members; the loader uses it as load id.
	Name  string `json:"name"`
	Files []File `json:"files"`
	// DeadLetter is an S3-notification-shaped message of the batch's files. The state machine
	// sends it to the dead-letter queue when the load fails; redriven to the ingest queue, the
	// validator reads it as an ordinary notification.
	DeadLetter json.RawMessage `json:"dead_letter"`
}

// LoadBytes is what a file weighs in a load: its decompressed size when the validator
// measured it, else its size as stored.
func (f File) LoadBytes() int64 {
	if f.Bytes > 0 {
		return f.Bytes
	}
	return f.Size
}

// Validate checks the shape a loader relies on.
func (in Input) Validate() error {
	switch {
	case in.Version != Version:
		return fmt.Errorf("execution input version %d is not supported (this loader reads version %d)", in.Version, Version)
	case in.Table == "":
		return fmt.Errorf("execution input has no table")
	case len(in.Files) == 0:
		return fmt.Errorf("execution input has no files")
	}
	for i, f := range in.Files {
		if f.Bucket == "" || f.Key == "" {
			return fmt.Errorf("execution input file %d has no bucket or key", i)
		}
	}
	return nil
}
