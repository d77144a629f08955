package emulator

import (
	"math/rand/v2"
	"sync"
	"time"
)

// FaultRule injects failures into the requests it targets: Method ("" =
// any) and Path, a glob over the route pattern (/v1/prices/{price}) or the
// concrete path (/v1/prices/price_123); "" targets every request. The first
// rule that matches a request applies.
type FaultRule struct {
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// Latency is added to every matching request, plus a uniform random
	// extra of up to Jitter.
	Latency time.Duration `json:"-"`
	Jitter  time.Duration `json:"-"`
	// ErrorRate is the share of requests answered 500 api_error before the
	// endpoint runs (nothing changes; the idempotency key stays unused).
	ErrorRate float64 `json:"error_rate,omitempty"`
	// LockTimeoutRate is the share answered 429 lock_timeout, which Stripe
	// sends when an object is busy and stripe-go retries.
	LockTimeoutRate float64 `json:"lock_timeout_rate,omitempty"`
	// DropRate is the share whose connection is closed before the endpoint
	// runs: the client sees a network error and nothing changed.
	DropRate float64 `json:"drop_rate,omitempty"`
	// DropAfterRate is the share whose endpoint runs (and commits) but
	// whose connection is then closed without a response: the client sees
	// a network error although the change happened, the case idempotency
	// keys exist for.
	DropAfterRate float64 `json:"drop_after_rate,omitempty"`
}

// FaultConfig is the set of fault rules and the seed of the random source
// that decides which requests fail, so that a failing run repeats when the
// same requests arrive in the same order.
type FaultConfig struct {
	Seed  uint64      `json:"seed"`
	Rules []FaultRule `json:"rules"`
}

// faultPlan is what happens to one request.
type faultPlan struct {
	latency     time.Duration
	dropBefore  bool
	serverError bool
	lockTimeout bool
	dropAfter   bool
}

type faultInjector struct {
	mu  sync.Mutex
	cfg FaultConfig
	rng *rand.Rand
}

func newFaultInjector(cfg FaultConfig) *faultInjector {
	f := &faultInjector{}
	f.configure(cfg)
	return f
}

func (f *faultInjector) configure(cfg FaultConfig) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg.Rules = append([]FaultRule(nil), cfg.Rules...)
	f.cfg = cfg
	// Re-seeding on every configuration makes "configure, then run" repeat
	// exactly.
	f.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
}

func (f *faultInjector) config() FaultConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cfg
	c.Rules = append([]FaultRule(nil), c.Rules...)
	return c
}

// plan decides the faults for one request. A matching rule always draws the
// same number of random values, so one request's outcome does not shift the
// sequence seen by the next.
func (f *faultInjector) plan(method, pattern, rawPath string) faultPlan {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.cfg.Rules {
		if !matchTarget(r.Method, r.Path, method, pattern, rawPath) {
			continue
		}
		jitter, e, l, d, da := f.rng.Float64(), f.rng.Float64(), f.rng.Float64(), f.rng.Float64(), f.rng.Float64()
		p := faultPlan{latency: r.Latency + time.Duration(jitter*float64(r.Jitter))}
		switch {
		case d < r.DropRate:
			p.dropBefore = true
		case e < r.ErrorRate:
			p.serverError = true
		case l < r.LockTimeoutRate:
			p.lockTimeout = true
		case da < r.DropAfterRate:
			p.dropAfter = true
		}
		return p
	}
	return faultPlan{}
}
