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
	waiting map[types.UID]recheckState
}

type recheckState struct {
	why      string
	attempts int
}

func newRechecks() *rechecks { return &rechecks{waiting: map[types.UID]recheckState{}} }

// delay returns when to observe the object again, given what its adapter asked for this pass: the
// backoff for the number of passes that asked in a row for the same reason, shortened to reach
// NotAfter, never below MinRecheckDelay, jittered by up to 10% so that many tenants created together
// spread out. A nil request forgets the object and returns 0.
func (c *rechecks) delay(uid types.UID, request *Recheck, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if request == nil {
		delete(c.waiting, uid)
		return 0
	}
	state := c.waiting[uid]
	if state.why != request.Why {
		state = recheckState{why: request.Why}
	}
	delay := MaxRecheckDelay
	if state.attempts < 16 { // 5 s << 16 is far past the cap; the guard keeps the shift from overflowing
		delay = min(MinRecheckDelay<<state.attempts, MaxRecheckDelay)
	}
	state.attempts++
	c.waiting[uid] = state
	if !request.NotAfter.IsZero() {
		delay = min(delay, request.NotAfter.Sub(now))
	}
	delay = max(delay, MinRecheckDelay)
	return delay + time.Duration(rand.Float64()*0.1*float64(delay))
}

func (c *rechecks) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.waiting, uid)
}
