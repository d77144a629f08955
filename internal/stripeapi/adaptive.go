package stripeapi

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Adaptive budget. The configured budget is a ceiling, not a promise: Stripe's limit is per account,
// and another client of the same account (a second cluster, a script, the Dashboard's own calls) or a
// budget set above Stripe's limit makes Stripe answer 429 rate_limit. Retrying at the same pace would
// keep every controller failing together, so the connection's shared bucket halves its rate on a 429
// and climbs back towards the ceiling while requests succeed (additive increase, multiplicative
// decrease, as TCP does): all controllers of the connection slow down at once, and no one starves.
const (
	// minAdaptiveRate is the floor: the budget never drops below one request per second.
	minAdaptiveRate rate.Limit = 1
	// rateCutInterval spaces the cuts: the 429s of one burst count as one signal.
	rateCutInterval = time.Second
	// rateStepInterval spaces the increases.
	rateStepInterval = time.Second
)

// rateAdapter moves a connection's limiter between minAdaptiveRate and the configured ceiling.
type rateAdapter struct {
	limiter *rate.Limiter

	mu      sync.Mutex
	ceiling rate.Limit
	changed time.Time
}

func newRateAdapter(limit rate.Limit, burst int) *rateAdapter {
	return &rateAdapter{limiter: rate.NewLimiter(limit, burst), ceiling: limit}
}

// resize sets a new configured budget (the connection's spec changed) and starts from it.
func (a *rateAdapter) resize(limit rate.Limit, burst int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ceiling = limit
	a.limiter.SetLimit(limit)
	a.limiter.SetBurst(burst)
}

// throttled records a 429 rate_limit answer: halve the rate, once per rateCutInterval.
func (a *rateAdapter) throttled(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.changed) < rateCutInterval {
		return
	}
	a.limiter.SetLimitAt(now, max(minAdaptiveRate, a.limiter.Limit()/2))
	a.changed = now
}

// succeeded records an answer that was not a rate limit: step back towards the ceiling, by a
// twentieth of it (at least one request per second) per rateStepInterval.
func (a *rateAdapter) succeeded(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	current := a.limiter.Limit()
	if current >= a.ceiling || now.Sub(a.changed) < rateStepInterval {
		return
	}
	a.limiter.SetLimitAt(now, min(a.ceiling, current+max(1, a.ceiling/20)))
	a.changed = now
}

// current returns the rate in force.
func (a *rateAdapter) current() rate.Limit { return a.limiter.Limit() }
