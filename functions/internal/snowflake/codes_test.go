package snowflake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sfemu"
)

// TestErrorCodesOnTheWire has the emulator answer a statement the way Snowflake does and
// checks the name the real driver's error gets: the HTTP statuses the driver does not retry
// reach the client as 261000 with the status as an argument, and server errors as their
// number, SQLSTATE and text.
func TestErrorCodesOnTheWire(t *testing.T) {
	tests := []struct {
		name  string
		fault sfemu.Fault
		want  string
	}{
		{"HTTP 400", sfemu.Fault{HTTPStatus: 400}, NameBadRequest},
		{"HTTP 403", sfemu.Fault{HTTPStatus: 403}, NameForbidden},
		{"HTTP 413", sfemu.Fault{HTTPStatus: 413}, NameRequestTooLarge},
		{"HTTP 401", sfemu.Fault{HTTPStatus: 401}, NameAuth},
		{"000603 internal error", sfemu.Fault{Code: "000603", SQLState: "XX000",
			Message: "SQL execution internal error: Processing aborted due to error 300010:391167117; incident 1."}, NameTransient},
		{"000625 lock waiters", sfemu.Fault{Code: "000625", SQLState: "57014",
			Message: "Statement '01b4' has locked table 'RAW_DATA' in transaction 1715330074481000000 and this lock has not yet been released. Your statement '01b5' was aborted because the number of waiters for this lock exceeds the 20 statements limit."}, NameTransient},
		{"resource monitor quota", sfemu.Fault{Code: "090073", SQLState: "57P03",
			Message: "Warehouse 'LOADER_WH' cannot be resumed because resource monitor 'LOADER_RM' has exceeded its quota."}, NameQuotaExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			c := newClient(t, s, nil)
			require.NoError(t, c.Ping(context.Background()), "logged in before the fault")
			tt.fault.Count = 1
			s.InjectFault(tt.fault)

			err := c.Ping(context.Background())
			require.Error(t, err)
			assert.Equal(t, tt.want, Classify(err), "%v", err)
			require.NoError(t, c.Ping(context.Background()), "the client works once the fault has passed")
		})
	}
}

// TestSessionGoneLogsInAgain: 390111 means the server closed the session; the driver does not
// log in again by itself, so the client drops its pool and logs in afresh, like for 390114.
func TestSessionGoneLogsInAgain(t *testing.T) {
	s := emulator(t)
	var logs bytes.Buffer
	c := newClient(t, s, &logs)
	require.NoError(t, c.Ping(context.Background()))
	s.InjectFault(sfemu.Fault{Count: 1, Code: "390111", SQLState: "08003",
		Message: "Session no longer exists.  New login required to access the service."})

	require.NoError(t, c.Ping(context.Background()), "the statement runs again on a new session")
	assert.Equal(t, int64(2), c.Logins())
	assert.Contains(t, logs.String(), "logging in again")
}

// silentServer accepts TCP connections on loopback and never answers, like an endpoint
// behind a firewall that drops replies or a proxy that hangs. It counts the connections.
func silentServer(t testing.TB) (port int, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted = &atomic.Int64{}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					_ = c.Close()
				}
				return
			}
			accepted.Add(1)
			held = append(held, conn) // kept open, never read from or written to
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port, accepted
}

// silentConfig points the client at a silent server.
func silentConfig(port int, login, request time.Duration) Config {
	cfg := DefaultConfig(testAccount)
	cfg.Host, cfg.Port, cfg.Protocol = "127.0.0.1", port, "http"
	cfg.LoginTimeout, cfg.RequestTimeout, cfg.MaxRetries = login, request, DefaultMaxRetries
	return cfg
}

// TestSilentEndpointLoginIsBounded logs in against an endpoint that accepts and stays
// silent. The request timeout is far longer than the login timeout, so a login cut by its
// own deadline (and not by the driver's retries running out) is what the error must show.
func TestSilentEndpointLoginIsBounded(t *testing.T) {
	useIdentity(t, loaderKeyID, loaderSecret)
	port, accepted := silentServer(t)
	c, err := New(silentConfig(port, time.Second, time.Minute), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	err = c.Ping(context.Background())
	require.Error(t, err)
	assert.Equal(t, NameTransient, Classify(err), "a silent endpoint may answer later: retried by the state machine")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "did not complete within the login timeout of 1s")
	assert.Contains(t, err.Error(), "127.0.0.1")
	assert.Equal(t, int64(0), c.Logins())
	assert.GreaterOrEqual(t, accepted.Load(), int64(1), "the login reached the endpoint")
}

// TestSilentEndpointAfterLoginIsTransient logs in through a proxy that then stops answering
// statements, as a network path that dies under an open session does: each attempt is cut
// by the request timeout, and the failure is Transient for the state machine to retry.
func TestSilentEndpointAfterLoginIsTransient(t *testing.T) {
	s := emulator(t)
	target, err := url.Parse(fmt.Sprintf("http://%s:%d", s.Host(), s.Port()))
	require.NoError(t, err)
	var silent atomic.Bool
	release := make(chan struct{})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if silent.Load() && strings.HasPrefix(r.URL.Path, "/queries/") {
			select { // hold the request without an answer until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(release); proxy.Close() })
	port, err := strconv.Atoi(strings.TrimPrefix(proxy.URL, "http://127.0.0.1:"))
	require.NoError(t, err)

	cfg := emuConfig(s)
	cfg.Host, cfg.Port = "127.0.0.1", port
	cfg.RequestTimeout, cfg.MaxRetries = time.Second, 1
	c, err := New(cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(context.Background()))

	silent.Store(true)
	err = c.Ping(context.Background())
	require.Error(t, err)
	assert.Equal(t, NameTransient, Classify(err), "%v", err)
	var netErr net.Error
	require.ErrorAs(t, err, &netErr)
	assert.True(t, netErr.Timeout(), "the request was cut by its timeout: %v", err)
}

// TestLoginTimeoutLeavesTheSessionUsable checks that the login deadline ends with the login:
// a session opened within it keeps working after the deadline has passed.
func TestLoginTimeoutLeavesTheSessionUsable(t *testing.T) {
	s := emulator(t)
	cfg := emuConfig(s)
	cfg.LoginTimeout = 2 * time.Second
	c, err := New(cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(context.Background()))
	// Waiting out the login deadline on a real clock is the point of this test.
	time.Sleep(cfg.LoginTimeout + 500*time.Millisecond)
	require.NoError(t, c.Ping(context.Background()))
	assert.Equal(t, int64(1), c.Logins())
}

// BenchmarkSilentEndpointLogin measures a login against a silent endpoint with the shipped
// timeouts (DefaultConfig: 30 s login, 60 s requests, 3 retries). Run it with
// go test ./functions/internal/snowflake -run '^$' -bench SilentEndpointLogin -benchtime 1x
func BenchmarkSilentEndpointLogin(b *testing.B) {
	useIdentity(b, loaderKeyID, loaderSecret)
	port, _ := silentServer(b)
	for b.Loop() {
		c, err := New(silentConfig(port, DefaultLoginTimeout, DefaultRequestTimeout), nil)
		require.NoError(b, err)
		err = c.Ping(context.Background())
		_ = c.Close()
		if !errors.Is(err, context.DeadlineExceeded) {
			b.Fatalf("login did not time out: %v", err)
		}
	}
}
