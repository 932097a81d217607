package localrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofrs/flock"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
)

// savedQueues is what survives between local runs of the in-process queues: the messages
// still waiting, so `--demo success` and `--redrive` find what an earlier run dead-lettered.
// Receive counts start again, as they do after an SQS redrive.
type savedQueues struct {
	Ingest     []savedMessage `json:"ingest"`
	DeadLetter []savedMessage `json:"dead_letter"`
}

type savedMessage struct {
	Body       string            `json:"body"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

func loadQueues(path string, ingest, dlq *sqslocal.Queue) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read the saved queues in %s (%v); check the file's permissions", path, err)
	}
	var saved savedQueues
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&saved); err != nil {
		return damagedQueues(path, raw, err)
	}
	if dec.More() {
		return damagedQueues(path, raw, errors.New("it has more after the saved queues"))
	}
	for _, m := range append(saved.Ingest, saved.DeadLetter...) {
		if m.Body == "" {
			return damagedQueues(path, raw, errors.New("a message has no body"))
		}
	}
	for _, m := range saved.Ingest {
		ingest.Send(m.Body, m.Attributes)
	}
	for _, m := range saved.DeadLetter {
		dlq.Send(m.Body, m.Attributes)
	}
	return nil
}

// damagedQueues explains a queues file that cannot be read: it is left as it is, because it
// may hold the only copy of dead-lettered batches.
func damagedQueues(path string, raw []byte, err error) error {
	why := err.Error()
	var syn *json.SyntaxError
	switch {
	case len(bytes.TrimSpace(raw)) == 0:
		why = "it is empty"
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(why, "unexpected end of JSON input"):
		why = fmt.Sprintf("it ends after %d bytes, in the middle of its content (perhaps a run was killed while writing it)", len(raw))
	case errors.As(err, &syn):
		why = fmt.Sprintf("it is not valid JSON at byte %d", syn.Offset)
	}
	return fmt.Errorf("the saved queues in %s are damaged: %s. The file was left unchanged; it holds the messages "+
		"waiting in the ingest and dead-letter queues. Repair it, or move it away to start with empty queues "+
		"(its messages are then lost), and run again", path, why)
}

// saveQueues writes the queues to a new file and renames it over the old one, so that a run
// killed while saving leaves the previous file whole.
func saveQueues(path string, ingest, dlq *sqslocal.Queue) error {
	snap := func(q *sqslocal.Queue) []savedMessage {
		out := []savedMessage{}
		for _, m := range q.Messages() {
			out = append(out, savedMessage{Body: m.Body, Attributes: m.MessageAttributes})
		}
		return out
	}
	raw, err := json.MarshalIndent(savedQueues{Ingest: snap(ingest), DeadLetter: snap(dlq)}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".queues-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// lockDir takes the state folder for this run. Two runs on one folder would overwrite each
// other's queues and DuckDB allows one writer; the second run is told so in one sentence.
func (st *stack) lockDir() error {
	st.lock = flock.New(filepath.Join(st.dir, "run.lock"))
	locked, err := st.lock.TryLock()
	if err != nil {
		st.lock = nil
		return fmt.Errorf("cannot lock the state folder %s (%v); check its permissions", st.dir, err)
	}
	if !locked {
		st.lock = nil
		return fmt.Errorf("another local run, or a query, is using the state folder %s; wait for it to finish, or give this run a folder of its own with --dir", st.dir)
	}
	return nil
}

// snowflakeOpenError turns DuckDB's reason for not opening the database into one sentence a
// person can act on; the raw text stays in the log.
func (st *stack) snowflakeOpenError(err error) error {
	path := filepath.Join(st.dir, "snowflake.duckdb")
	// DuckDB's own words are kept in the log for whoever needs them.
	st.logger("snowflake.jsonl", nil).Error("could not open the database", "path", path, "error", err.Error())
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock"):
		return fmt.Errorf("the Snowflake database %s is in use by another program; close it (or wait for it), or give this run a folder of its own with --dir", path)
	default:
		return fmt.Errorf("the Snowflake database %s cannot be opened: it is damaged, or not a database this version can read; move it away (or delete %s to start afresh; the tables are then empty) and run again", path, st.dir)
	}
}

// serveLoopback serves h on a free loopback port.
func serveLoopback(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String(), nil
}
