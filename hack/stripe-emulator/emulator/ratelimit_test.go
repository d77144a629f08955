package emulator

import (
	"net/http"
	"testing"
	"time"
)

// Rule 7: past the global rate the emulator answers Stripe's 429.
func TestGlobalRateLimit(t *testing.T) {
	// One request per minute refills nothing during the test: the burst of
	// 2 is all there is.
	e := newEnv(t, Options{RateLimit: RateLimit{Rate: 1.0 / 60, Burst: 2}})
	for i := 0; i < 2; i++ {
		if r := e.do(t, "GET", "/v1/products", ""); r.status != 200 {
			t.Fatalf("request %d within the burst: %d", i, r.status)
		}
	}
	r := e.do(t, "GET", "/v1/products", "")
	if r.status != http.StatusTooManyRequests || r.errField("type") != TypeInvalidRequest || r.errField("code") != "rate_limit" ||
		r.errField("message") != "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits." {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	// stripe-go decodes it; it does not retry rate_limit 429s by itself.
	_, err := e.sc.Products.Get("prod_x", nil)
	wantStripeErr(t, err, 429, "invalid_request_error", "rate_limit", "", "")
	s := e.Stats()
	if s.RateLimited != 2 || s.RateLimitedBy["GET /v1/products"] != 1 || s.RateLimitedBy["GET /v1/products/{id}"] != 1 {
		t.Fatalf("stats: %+v", s)
	}
	// Limits change at runtime; 0 lifts them.
	e.SetRateLimits(RateLimit{}, nil)
	if r := e.do(t, "GET", "/v1/products", ""); r.status != 200 {
		t.Fatalf("after lifting: %d", r.status)
	}
}

// Rule 7: an endpoint limit holds only the requests it matches.
func TestEndpointRateLimit(t *testing.T) {
	e := newEnv(t, Options{EndpointLimits: []EndpointLimit{{Method: "GET", Pattern: "/v1/*/search", RateLimit: RateLimit{Rate: 1.0 / 60, Burst: 1}}}})
	q := "query=active:'true'"
	if r := e.do(t, "GET", "/v1/products/search", q); r.status != 200 {
		t.Fatalf("first search: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/v1/prices/search", q); r.status != 429 {
		t.Fatalf("second search (shared search bucket): %d", r.status)
	}
	for i := 0; i < 5; i++ {
		if r := e.do(t, "GET", "/v1/products", ""); r.status != 200 {
			t.Fatalf("list is not a search: %d", r.status)
		}
	}
}

// Rule 7: the bucket refills at the configured rate and caps at the burst.
func TestTokenBucketRefill(t *testing.T) {
	now := testEpoch
	rl := newRateLimiter(RateLimit{Rate: 10, Burst: 2}, nil)
	rl.now = func() time.Time { return now }
	allowed := 0
	for i := 0; i < 5; i++ {
		if rl.allow("GET", "/v1/products") {
			allowed++
		}
	}
	if allowed != 2 {
		t.Fatalf("burst: %d", allowed)
	}
	now = now.Add(100 * time.Millisecond) // one token at 10/s
	if !rl.allow("GET", "/v1/products") || rl.allow("GET", "/v1/products") {
		t.Fatal("refill after 100ms should allow exactly one")
	}
	now = now.Add(time.Hour) // capped at the burst
	allowed = 0
	for i := 0; i < 5; i++ {
		if rl.allow("GET", "/v1/products") {
			allowed++
		}
	}
	if allowed != 2 {
		t.Fatalf("after a long pause: %d", allowed)
	}
}
