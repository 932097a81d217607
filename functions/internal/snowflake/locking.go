package snowflake

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Bounds of a load's waits, sized against the loader Lambda's 15-minute timeout
// (template.yaml) and Snowflake's 5-minute abort of an idle transaction that blocks another
// one's lock (https://docs.snowflake.com/en/sql-reference/transactions, "Aborting
// transactions"). A load waiting behind a loader that died mid-transaction waits longer than
// those 5 minutes, so it gets the lock once Snowflake aborts the dead one; a statement that
// waits or runs longer fails as Snowflake.Transient (000625, 000630) well before Lambda would
// kill the invocation with nothing reported. Snowflake's own defaults are 12 hours and 2 days.
const (
	DefaultLockTimeout      = 7 * time.Minute
	DefaultStatementTimeout = 10 * time.Minute
)

// sessionTimeouts is the part of the session's ALTER SESSION SET that bounds its waits:
// LOCK_TIMEOUT and STATEMENT_TIMEOUT_IN_SECONDS, in whole seconds
// (https://docs.snowflake.com/en/sql-reference/parameters).
func sessionTimeouts(cfg Config) string {
	lock := orDuration(cfg.LockTimeout, DefaultLockTimeout)
	stmt := orDuration(cfg.StatementTimeout, DefaultStatementTimeout)
	return fmt.Sprintf(" LOCK_TIMEOUT = %d STATEMENT_TIMEOUT_IN_SECONDS = %d", seconds(lock), seconds(stmt))
}

// seconds rounds d up to whole seconds, at least one: 0 would mean "no wait" for
// LOCK_TIMEOUT and "no limit" for STATEMENT_TIMEOUT_IN_SECONDS.
func seconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}

// takeLock is the batch's first statement on a shared table: the UPDATE of the lock row.
// Until the batch's COMMIT or ROLLBACK no other load gets past its own takeLock, so every
// FILE_LOADS row and every target row this load reads afterwards stays as it reads it.
func takeLock(ctx context.Context, conn *sql.Conn, st statements, b *Batch) error {
	n, err := execCount(ctx, conn, st.lock(), b.LoadID, loadTime(b))
	if err != nil {
		return fmt.Errorf("lock %s (the row %s that serialises loads): %w", loadLock, lockRow, err)
	}
	if n == 0 {
		return &Error{Name: NameSQL, Op: "lock loads", Err: fmt.Errorf(
			"table %s has no row %s, which every load updates first to serialise its reads and writes of FILE_LOADS; run sql/setup.sql again to create it", loadLock, lockRow)}
	}
	return nil
}

// loadTime is the batch's load time as bound to statements.
func loadTime(b *Batch) string {
	if b.LoadedAt.IsZero() {
		return formatTime(time.Now().UTC())
	}
	return formatTime(b.LoadedAt.UTC())
}

// moved finds the winners whose loaded version FILE_LOADS places in another table than the
// batch's: a route sent the new version elsewhere, and the old rows must go, or the key would
// have rows of two versions. Table names read back from FILE_LOADS end up in SQL text, so
// load refuses one that is not a plain identifier before the MERGE.
func moved(b *Batch, loaded map[int]loadedVersion, p plan) map[string][]int {
	out := map[string][]int{}
	for _, i := range p.winners() {
		prev, ok := loaded[i]
		if !ok || prev.Table == "" || strings.EqualFold(prev.Table, b.Table) {
			continue
		}
		t := strings.ToUpper(prev.Table)
		out[t] = append(out[t], i)
	}
	return out
}
