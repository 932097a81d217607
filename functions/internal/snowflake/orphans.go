package snowflake

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
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
// transactions of the loader's user that have been open longer than OrphanAge, each logged.
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
}

// listTransactions reads SHOW TRANSACTIONS by column name: id and started_on.
func listTransactions(ctx context.Context, q driver.QueryerContext) ([]orphan, error) {
	rows, err := q.QueryContext(ctx, "SHOW TRANSACTIONS", nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := rows.Columns()
	idCol, startCol := slices.Index(cols, "id"), slices.Index(cols, "started_on")
	if idCol < 0 || startCol < 0 {
		return nil, fmt.Errorf("SHOW TRANSACTIONS has no id or started_on column (columns: %v)", cols)
	}
	var out []orphan
	vals := make([]driver.Value, len(cols))
	for {
		if err := rows.Next(vals); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		id, err := strconv.ParseInt(fmt.Sprint(vals[idCol]), 10, 64)
		started, ok := vals[startCol].(time.Time)
		if err != nil || !ok {
			continue
		}
		out = append(out, orphan{ID: id, Started: started})
	}
}
