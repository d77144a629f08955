package emulator

import (
	"strconv"
	"sync"
)

// Stats counts what the emulator served since it started or was last reset.
// Requests are keyed "METHOD /route/pattern" (POST /v1/prices/{price}), the
// unit benchmarks report Stripe calls in.
type Stats struct {
	// Requests counts every API request received, refused or not.
	Requests map[string]int64 `json:"requests"`
	// Responses counts responses by HTTP status.
	Responses map[string]int64 `json:"responses"`
	// RateLimited counts 429 rate_limit answers, in total and per endpoint.
	RateLimited   int64            `json:"rate_limited"`
	RateLimitedBy map[string]int64 `json:"rate_limited_by"`
	// IdempotentReplays counts responses replayed for a reused key.
	IdempotentReplays int64 `json:"idempotent_replays"`
	// Faults counts injected failures by kind.
	Faults FaultStats `json:"faults"`
}

// FaultStats counts injected failures.
type FaultStats struct {
	Delayed      int64 `json:"delayed"`
	ServerErrors int64 `json:"server_errors"`
	LockTimeouts int64 `json:"lock_timeouts"`
	DropsBefore  int64 `json:"drops_before"`
	DropsAfter   int64 `json:"drops_after"`
}

type statsCounter struct {
	mu sync.Mutex
	s  Stats
}

func newStatsCounter() *statsCounter {
	c := &statsCounter{}
	c.reset()
	return c
}

func (c *statsCounter) reset() {
	c.mu.Lock()
	c.s = Stats{Requests: map[string]int64{}, Responses: map[string]int64{}, RateLimitedBy: map[string]int64{}}
	c.mu.Unlock()
}

func (c *statsCounter) update(f func(s *Stats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

func (c *statsCounter) response(status int) {
	c.update(func(s *Stats) { s.Responses[strconv.Itoa(status)]++ })
}

func (c *statsCounter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.s
	out.Requests = copyCounts(c.s.Requests)
	out.Responses = copyCounts(c.s.Responses)
	out.RateLimitedBy = copyCounts(c.s.RateLimitedBy)
	return out
}

func copyCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
