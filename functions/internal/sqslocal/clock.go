package sqslocal

import (
	"slices"
	"sync"
	"time"
)

// Clock is the time source of queues and mappings. Visibility timeouts, long polls, batching
// windows and function timeouts all read it, so a test can move time forward instead of
// sleeping.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

var (
	_ Clock = RealClock{}
	_ Clock = (*FakeClock)(nil)
)

// RealClock is the system clock.
type RealClock struct{}

// Now returns the current time.
func (RealClock) Now() time.Time { return time.Now() }

// After waits for d on the system clock.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// FakeClock stands still until Advance moves it. Every channel After handed out fires once the
// clock reaches its deadline, in deadline order.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock starts a fake clock at start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the fake time once the clock has advanced by d. A
// duration of zero or less fires at once, as time.After does.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The buffer lets Advance fire a waiter nobody listens to any more without blocking.
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock forward by d and fires every waiter whose deadline has come.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	var due []fakeWaiter
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		due = append(due, w)
	}
	c.waiters = kept
	// Fire in deadline order so that a test advancing past several deadlines at once sees the
	// same order of events as a real clock would give.
	slices.SortStableFunc(due, func(a, b fakeWaiter) int { return a.at.Compare(b.at) })
	for _, w := range due {
		w.ch <- c.now
	}
}
