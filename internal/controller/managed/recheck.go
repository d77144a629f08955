package managed

import (
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Bounds of an adapter's Recheck: seconds at first, so `kubectl wait` on a tenant finishing onboarding
// returns promptly, then minutes, so one that takes a week costs a few reads an hour.
const (
	MinRecheckDelay = 5 * time.Second
	MaxRecheckDelay = 10 * time.Minute
)

// rechecks remembers, per object, how many passes in a row asked to be rechecked for the same reason.
// It lives in the reconciler (one per kind), is bounded by the number of objects that are waiting, and
// forgets an object as soon as a pass no longer asks; a restart simply starts again at seconds.
type rechecks struct {
	mu      sync.Mutex
	waiting map[types.NamespacedName]recheckState
	rate    float64 // passes per second, for all waiting objects together
}

type recheckState struct {
	why      string
	attempts int
}

// DefaultRecheckRate bounds the rechecks of one kind: half a pass a second (a tenant's pass reads
// three objects, so 1.5 reads/s: 6% of Stripe's test-mode limit, 1.5% of live mode's).
const DefaultRecheckRate = 0.5

func newRechecks(rate float64) *rechecks {
	if rate <= 0 {
		rate = DefaultRecheckRate
	}
	return &rechecks{waiting: map[types.NamespacedName]recheckState{}, rate: rate}
}

// delay returns when to observe the object again, given what its adapter asked for this pass: the
// backoff for the number of passes that asked in a row for the same reason, shortened to reach
// NotAfter, never below MinRecheckDelay; then at least as long as it takes the kind's rate to go once
// round every waiting object (500 onboarding tenants at 0.5 passes/s: 1,000 s each), so the sum of
// all rechecks stays within the rate whatever their number; jittered by up to 10% so that many
// tenants created together spread out. A nil request forgets the object and returns 0.
//
// When Stripe's events reach the reconciler (eventsLive: the relay's feed answers), the change awaited
// arrives as an event within seconds, and the recheck is only the safety net for an event lost on
// the way: it starts at MaxRecheckDelay (a deadline, NotAfter, still shortens it).
func (c *rechecks) delay(key types.NamespacedName, request *Recheck, now time.Time, eventsLive bool) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if request == nil {
		delete(c.waiting, key)
		return 0
	}
	state := c.waiting[key]
	if state.why != request.Why {
		state = recheckState{why: request.Why}
	}
	delay := MaxRecheckDelay
	if state.attempts < 16 && !eventsLive { // 5 s << 16 is far past the cap; the guard keeps the shift from overflowing
		delay = min(MinRecheckDelay<<state.attempts, MaxRecheckDelay)
	}
	state.attempts++
	c.waiting[key] = state
	if !request.NotAfter.IsZero() {
		delay = min(delay, request.NotAfter.Sub(now))
	}
	delay = max(delay, MinRecheckDelay, time.Duration(float64(len(c.waiting))/c.rate*float64(time.Second)))
	return delay + time.Duration(rand.Float64()*0.1*float64(delay))
}

func (c *rechecks) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.waiting, key)
}
