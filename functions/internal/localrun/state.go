package localrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"

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
		return err
	}
	var saved savedQueues
	if err := json.Unmarshal(raw, &saved); err != nil {
		return fmt.Errorf("%s is not a saved queue state (delete it to start afresh): %w", path, err)
	}
	for _, m := range saved.Ingest {
		ingest.Send(m.Body, m.Attributes)
	}
	for _, m := range saved.DeadLetter {
		dlq.Send(m.Body, m.Attributes)
	}
	return nil
}

func saveQueues(path string, ingest, dlq *sqslocal.Queue) error {
	snap := func(q *sqslocal.Queue) []savedMessage {
		var out []savedMessage
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
	return os.WriteFile(path, raw, 0o644)
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
