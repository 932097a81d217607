package sfemu

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLongStatementIsAnsweredInProgress runs a statement that waits 3 s for a lock from a
// client whose every HTTP request gives up after 1 s and is retried once. Answered "in
// progress" after 100 ms, the client asks for the result until it is there, and the
// statement succeeds, run once. Held for as long as it runs, each request of the client
// times out, and the statement fails in the client though it ran.
func TestLongStatementIsAnsweredInProgress(t *testing.T) {
	for _, tt := range []struct {
		name       string
		inProgress time.Duration
		succeeds   bool
	}{
		{name: "answered in progress", inProgress: 100 * time.Millisecond, succeeds: true},
		{name: "held until done", inProgress: time.Minute, succeeds: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServerWith(t, Config{AbortIdleAfter: time.Hour, InProgressAfter: tt.inProgress})
			holder := sessions(t, s, 1)[0]
			cfg := driverConfig(s)
			cfg.RequestTimeout, cfg.ClientTimeout, cfg.MaxRetryCount = time.Second, time.Second, 1
			waiter, err := open(t, cfg).Conn(context.Background())
			require.NoError(t, err)
			t.Cleanup(func() { _ = waiter.Close() })

			exec(t, holder, "BEGIN")
			exec(t, holder, "DELETE FROM EVENTS")
			done := make(chan error, 1)
			go func() {
				_, err := waiter.ExecContext(context.Background(), "INSERT INTO EVENTS (ID) VALUES (1)")
				done <- err
			}()
			waitBlocked(t, s)
			time.Sleep(3 * time.Second) // the lock is held longer than the client's requests wait
			exec(t, holder, "COMMIT")

			err = <-done
			if !tt.succeeds {
				require.Error(t, err, "every request of the client timed out")
				assert.Zero(t, s.Stats().InProgress)
				return
			}
			require.NoError(t, err)
			assert.GreaterOrEqual(t, s.Stats().InProgress, int64(3), "the client was told the statement was running, and asked again")
			assert.Equal(t, int64(1), s.Stats().Statements["INSERT"], "the statement ran once")
			assert.Equal(t, int64(1), queryInt(t, s, "SELECT COUNT(*) FROM LOADER_DB.RAW.EVENTS"))
		})
	}
}
