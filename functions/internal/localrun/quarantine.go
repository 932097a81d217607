package localrun

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/announce"
	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/quarantine"
)

// layout is the local bucket's quarantine layout, the same as the template's.
func layout() quarantine.Layout {
	return quarantine.Layout{Bucket: bucketName, Incoming: incomingPrefix, Quarantine: quarantinePrefix}
}

// Quarantine writes the local bucket's rejected files, newest first, with their rule and
// first problem; given a key, it writes that file's whole report instead.
func Quarantine(ctx context.Context, opt Options, key string, w io.Writer) error {
	ctx, st, done, err := open(ctx, opt)
	if err != nil {
		return err
	}
	defer done()
	if key != "" {
		_, raw, err := quarantine.Read(ctx, st.s3.Client(), layout(), key)
		if err != nil {
			return err
		}
		return quarantine.WriteReport(w, raw)
	}
	entries, err := quarantine.Recent(ctx, st.s3.Client(), layout(), time.Time{}, 0)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		_, err = fmt.Fprintln(w, "No file has been rejected: quarantine/ holds no report.")
		return err
	}
	quarantine.WriteList(w, entries)
	_, err = fmt.Fprintf(w, "\n%d rejected. 'go run ./functions/local quarantine KEY' prints a report; 'go run ./functions/local resubmit KEY' announces the file again once the cause is fixed.\n", len(entries))
	return err
}

// Resubmit announces a rejected file again, as `task aws:resubmit` does in AWS, and
// processes it: it loads, or is quarantined again with a fresh report.
func Resubmit(ctx context.Context, opt Options, key string) (*Summary, error) {
	_, s, err := announceAndRun(ctx, opt, func(ctx context.Context, st *stack) (int, error) {
		obj, _, _, err := quarantine.Original(ctx, st.s3.Client(), layout(), key)
		if err != nil {
			return 0, err
		}
		return announce.Send(ctx, queueSender{st.ingest}, []announce.Object{obj}, announce.Options{Bucket: bucketName, QueueURL: st.ingest.URL()})
	})
	return s, err
}
