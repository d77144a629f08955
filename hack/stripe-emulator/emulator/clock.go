package emulator

import (
	"sync"
	"time"
)

// Clock is the time source for everything Stripe timestamps or expires:
// `created`, `updated`, idempotency-key expiry (24 h), event retention (30
// days) and search indexing lag. Rate limiting and injected latency use the
// wall clock instead, so a frozen test clock cannot stall requests.
type Clock interface {
	Now() time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// FakeClock is a settable Clock for tests.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock returns a FakeClock stopped at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{t: t} }

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// offsetClock is the emulator's view of time: the injected clock plus an
// offset that the control API moves (SetClock/AdvanceClock). An offset rather
// than a replacement keeps an injected clock authoritative for its own
// ticking while still letting a demo jump forward a day.
type offsetClock struct {
	base   Clock
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	return c.base.Now().Add(off)
}

func (c *offsetClock) set(t time.Time) {
	c.mu.Lock()
	c.offset = t.Sub(c.base.Now())
	c.mu.Unlock()
}

func (c *offsetClock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
