package emulator

import (
	"math"
	"path"
	"strings"
	"sync"
	"time"
)

// RateLimit is a token bucket: Rate requests per second on average, bursts
// of up to Burst. A zero Rate means no limit.
type RateLimit struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst,omitempty"` // 0 → one second's worth (at least 1)
}

// EndpointLimit adds a limit to the requests whose route matches Method
// ("" = any) and Pattern, a glob over route patterns (/v1/*/search). All
// requests matching one EndpointLimit share its bucket, and they still count
// against the global limit.
type EndpointLimit struct {
	Method  string `json:"method,omitempty"`
	Pattern string `json:"pattern"`
	RateLimit
}

// StripeTestModeLimits are the limits Stripe documents for test mode: 25
// requests per second overall, and 20 per second across the Search API.
func StripeTestModeLimits() (RateLimit, []EndpointLimit) {
	return RateLimit{Rate: 25}, []EndpointLimit{{Method: "GET", Pattern: "/v1/*/search", RateLimit: RateLimit{Rate: 20}}}
}

type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBucket(l RateLimit) *bucket {
	if l.Rate <= 0 {
		return nil
	}
	burst := float64(l.Burst)
	if burst <= 0 {
		burst = math.Max(1, math.Ceil(l.Rate))
	}
	return &bucket{rate: l.Rate, burst: burst, tokens: burst}
}

func (b *bucket) refill(now time.Time) {
	if !b.last.IsZero() {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
}

// rateLimiter uses the wall clock, not the emulator clock: it limits real
// request throughput, and a frozen test clock must not stall it.
type rateLimiter struct {
	mu        sync.Mutex
	now       func() time.Time
	global    *bucket
	endpoints []endpointBucket
}

type endpointBucket struct {
	limit EndpointLimit
	b     *bucket
}

func newRateLimiter(global RateLimit, endpoints []EndpointLimit) *rateLimiter {
	rl := &rateLimiter{now: time.Now}
	rl.configure(global, endpoints)
	return rl
}

func (rl *rateLimiter) configure(global RateLimit, endpoints []EndpointLimit) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.global = newBucket(global)
	rl.endpoints = nil
	for _, e := range endpoints {
		if b := newBucket(e.RateLimit); b != nil {
			rl.endpoints = append(rl.endpoints, endpointBucket{limit: e, b: b})
		}
	}
}

// allow takes a token from the global bucket and from every endpoint bucket
// the request matches, or from none of them if any is empty.
func (rl *rateLimiter) allow(method, pattern string) bool {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	now := rl.now()
	var hit []*bucket
	if rl.global != nil {
		hit = append(hit, rl.global)
	}
	for _, e := range rl.endpoints {
		if matchTarget(e.limit.Method, e.limit.Pattern, method, pattern, "") {
			hit = append(hit, e.b)
		}
	}
	for _, b := range hit {
		b.refill(now)
		if b.tokens < 1 {
			return false
		}
	}
	for _, b := range hit {
		b.tokens--
	}
	return true
}

// matchTarget reports whether a rule for (ruleMethod, rulePath) covers a
// request: empty means any; rulePath is a glob (path.Match: * stays within
// a segment) matched against the route pattern and, when given, the
// concrete path, except that a trailing * matches any rest of the path
// (/v1/prices* covers /v1/prices/{price}).
func matchTarget(ruleMethod, rulePath, method, pattern, rawPath string) bool {
	if ruleMethod != "" && ruleMethod != method {
		return false
	}
	if rulePath == "" {
		return true
	}
	for _, p := range []string{pattern, rawPath} {
		if p == "" {
			continue
		}
		if ok, _ := path.Match(rulePath, p); ok {
			return true
		}
		if prefix, ok := strings.CutSuffix(rulePath, "*"); ok && !strings.ContainsAny(prefix, "*?[") && strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}
