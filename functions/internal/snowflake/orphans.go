package snowflake

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultOrphanAge is the age past which a transaction of the loader's own user is taken for
// the orphan of a dead loader: a Lambda invocation lives at most 15 minutes, so no live
// loader holds a transaction that long. The margin covers clock differences.
const DefaultOrphanAge = 20 * time.Minute

// orphan is a transaction SHOW TRANSACTIONS lists.
type orphan struct {
	ID      int64
	Started time.Time
}

// sweepOrphans is the hook each new session runs once it is set up: it aborts the
// transactions of the loader's user that have been open longer than OrphanAge, each logged,
// and removes the staged files of batches older than that (sweepStaged).
// A new session is when a dead loader's transaction is most likely: a Lambda killed
// mid-batch comes back as a new container, and a cut connection as a new login. Snowflake
// aborts such a transaction by itself once it has blocked another for 5 idle minutes; this
// only makes the recovery quicker, so a failure here is logged and the session goes on.
// SHOW TRANSACTIONS lists the current user's transactions, and SYSTEM$ABORT_TRANSACTION may
// end them (https://docs.snowflake.com/en/sql-reference/sql/show-transactions,
// https://docs.snowflake.com/en/sql-reference/functions/system_abort_transaction).
func (c *Client) sweepOrphans(ctx context.Context, conn driver.Conn) {
	age := orDuration(c.cfg.OrphanAge, DefaultOrphanAge)
	q, okQ := conn.(driver.QueryerContext)
	ex, okE := conn.(driver.ExecerContext)
	if !okQ || !okE {
		return
	}
	list, err := listTransactions(ctx, q)
	if err != nil {
		c.log.WarnContext(ctx, "could not list the loader's open Snowflake transactions; a dead loader's transaction, if any, is left to Snowflake to abort",
			"user", c.cfg.User, "error", err.Error())
		return
	}
	now := time.Now()
	aborted := 0
	for _, o := range list {
		if now.Sub(o.Started) < age {
			continue
		}
		id := strconv.FormatInt(o.ID, 10)
		if _, err := ex.ExecContext(ctx, "SELECT SYSTEM$ABORT_TRANSACTION(?)", []driver.NamedValue{{Ordinal: 1, Value: id}}); err != nil {
			c.log.WarnContext(ctx, "could not abort an orphaned Snowflake transaction of the loader's user",
				"transaction", o.ID, "started_on", o.Started, "error", err.Error())
			continue
		}
		aborted++
		c.log.WarnContext(ctx, "aborted an orphaned Snowflake transaction of the loader's user: open longer than a loader can live, most likely left by a loader that died mid-batch",
			"transaction", o.ID, "started_on", o.Started, "open_for", now.Sub(o.Started).Round(time.Second).String())
	}
	if aborted > 0 {
		// With AUTOCOMMIT off, the SELECTs opened a transaction; the first batch starts afresh.
		if _, err := ex.ExecContext(ctx, "COMMIT", nil); err != nil {
			c.log.WarnContext(ctx, "could not end the transaction of the orphan sweep", "error", err.Error())
		}
	}
	c.sweepStaged(ctx, q, ex, now, age)
}

// sweepStaged removes the batch folders of the user stage made longer than age ago: a
// loader removes its folder after its batch's COMMIT or ROLLBACK, so an older one was left
// by a loader that died in between, and its files would cost storage for ever. Each is
// logged. Files of the user stage are the user's own, and REMOVE needs no privilege
// (https://docs.snowflake.com/en/sql-reference/sql/list,
// https://docs.snowflake.com/en/sql-reference/sql/remove). A folder's age comes from its
// name (newStagePath); names of another form are left alone.
func (c *Client) sweepStaged(ctx context.Context, q driver.QueryerContext, ex driver.ExecerContext, now time.Time, age time.Duration) {
	folders, err := listStageFolders(ctx, q)
	if err != nil {
		c.log.WarnContext(ctx, "could not list the loader's staged files; files a dead loader left, if any, stay in the user stage until the next session looks",
			"stage", "@~/"+stageRoot, "error", err.Error())
		return
	}
	for _, folder := range folders {
		m := reStageFolder.FindStringSubmatch(folder)
		if m == nil {
			continue
		}
		made, err := time.Parse(stageTimeLayout, m[1])
		if err != nil || now.Sub(made) < age {
			continue
		}
		stage := "@~/" + stageRoot + folder + "/"
		if _, err := ex.ExecContext(ctx, "REMOVE "+stage, nil); err != nil {
			c.log.WarnContext(ctx, "could not remove the staged files a dead loader left", "stage", stage, "error", err.Error())
			continue
		}
		c.log.WarnContext(ctx, "removed the staged files of a batch whose loader stopped before removing them (most likely a loader that died mid-batch); the batch itself was rolled back or committed as usual",
			"stage", stage, "staged_at", made, "age", now.Sub(made).Round(time.Second).String())
	}
}

// listStageFolders returns the folders under @~/s3-snowflake-loader/ that LIST shows files
// in, by the name column.
func listStageFolders(ctx context.Context, q driver.QueryerContext) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	err := eachRow(ctx, q, "LIST @~/"+stageRoot, []string{"name"}, func(v []driver.Value) {
		name, _ := v[0].(string)
		_, rest, ok := strings.Cut(name, stageRoot)
		if !ok {
			return
		}
		if folder, _, ok := strings.Cut(rest, "/"); ok && !seen[folder] {
			seen[folder] = true
			out = append(out, folder)
		}
	})
	return out, err
}

// listTransactions reads SHOW TRANSACTIONS by column name: id and started_on.
func listTransactions(ctx context.Context, q driver.QueryerContext) ([]orphan, error) {
	var out []orphan
	err := eachRow(ctx, q, "SHOW TRANSACTIONS", []string{"id", "started_on"}, func(v []driver.Value) {
		id, err := strconv.ParseInt(fmt.Sprint(v[0]), 10, 64)
		started, ok := v[1].(time.Time)
		if err == nil && ok {
			out = append(out, orphan{ID: id, Started: started})
		}
	})
	return out, err
}

// eachRow runs query and calls fn with the values of the named columns of each row, in the
// order of names. Columns are found by name, so that their order in Snowflake's answer does
// not matter.
func eachRow(ctx context.Context, q driver.QueryerContext, query string, names []string, fn func([]driver.Value)) error {
	rows, err := q.QueryContext(ctx, query, nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols := rows.Columns()
	idx := make([]int, len(names))
	for i, n := range names {
		if idx[i] = slices.Index(cols, n); idx[i] < 0 {
			return fmt.Errorf("%s has no %s column (columns: %v)", query, n, cols)
		}
	}
	vals := make([]driver.Value, len(cols))
	picked := make([]driver.Value, len(names))
	for {
		if err := rows.Next(vals); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		for i, j := range idx {
			picked[i] = vals[j]
		}
		fn(picked)
	}
}
