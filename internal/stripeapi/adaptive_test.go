package stripeapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Pins the adaptive budget's rules, on a clock the test moves: halve on a rate limit, once per burst,
// never below one request per second; climb back by a twentieth of the ceiling per second of success;
// never above the configured ceiling.
func TestRateAdapter(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type step struct {
		at        time.Duration
		throttled bool // else a success
		want      rate.Limit
	}
	cases := map[string]struct {
		ceiling rate.Limit
		steps   []step
	}{
		"a 429 halves the rate": {ceiling: 20, steps: []step{{at: 0, throttled: true, want: 10}}},
		"the 429s of one burst count once": {ceiling: 20, steps: []step{
			{at: 0, throttled: true, want: 10}, {at: 100 * time.Millisecond, throttled: true, want: 10},
			{at: 1100 * time.Millisecond, throttled: true, want: 5},
		}},
		"never below one request per second": {ceiling: 2, steps: []step{
			{at: 0, throttled: true, want: 1}, {at: 2 * time.Second, throttled: true, want: 1},
		}},
		"success climbs back, spaced and capped": {ceiling: 20, steps: []step{
			{at: 0, throttled: true, want: 10},
			{at: 500 * time.Millisecond, want: 10}, // too soon after the cut
			{at: 1 * time.Second, want: 11},
			{at: 1500 * time.Millisecond, want: 11},
			{at: 2 * time.Second, want: 12},
			{at: 60 * time.Second, want: 13},
		}},
		"at the ceiling, success changes nothing": {ceiling: 20, steps: []step{{at: time.Hour, want: 20}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a := newRateAdapter(tc.ceiling, 1)
			for i, s := range tc.steps {
				if s.throttled {
					a.throttled(t0.Add(s.at))
				} else {
					a.succeeded(t0.Add(s.at))
				}
				if got := a.current(); got != s.want {
					t.Fatalf("step %d at +%s: rate %v, want %v", i, s.at, got, s.want)
				}
			}
		})
	}
}

// Pins: the transport slows the connection's bucket on Stripe's 429 rate_limit, not on 429
// lock_timeout (contention on one object), and stripe-go still decodes the error it read.
func TestTransportAdaptsToRateLimits(t *testing.T) {
	cases := map[string]struct {
		code     string
		wantRate rate.Limit
	}{
		"rate_limit halves the budget":    {code: "rate_limit", wantRate: 50},
		"lock_timeout leaves it as it is": {code: "lock_timeout", wantRate: 100},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeStripe(t)
			f.handle("GET /v1/products/prod_1", func(seen, int) reply {
				return stripeErr(http.StatusTooManyRequests, "invalid_request_error", tc.code, "", "Too many requests")
			})
			c, err := New(Config{APIKey: "sk_test_1", BaseURL: f.URL, Budget: Budget{RequestsPerSecond: 100, Burst: 100}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetProduct(context.Background(), "prod_1")
			if e, ok := AsError(err); !ok || e.Code != tc.code || !IsRetryable(err) {
				t.Fatalf("error %v: want a retryable Stripe error with code %s", err, tc.code)
			}
			if got := c.limiter.Limit(); got != tc.wantRate {
				t.Errorf("budget %v req/s after a %s, want %v", got, tc.code, tc.wantRate)
			}
		})
	}
}

// Pins which failed creates prove that Stripe created nothing (so no lookup by tags is needed).
func TestCreatedNothing(t *testing.T) {
	cases := map[string]struct {
		err  error
		want bool
	}{
		"400 invalid request":        {err: &Error{HTTPStatus: 400}, want: true},
		"429 rate limit":             {err: &Error{HTTPStatus: 429, Code: CodeRateLimit}, want: true},
		"409 same key still running": {err: &Error{HTTPStatus: 409, Code: CodeIdempotencyKeyInUse}, want: false},
		"500 may have run":           {err: &Error{HTTPStatus: 500}, want: false},
		"network error, no response": {err: &Error{}, want: false},
		"not a Stripe error at all":  {err: context.Canceled, want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := CreatedNothing(tc.err); got != tc.want {
				t.Errorf("CreatedNothing = %v, want %v", got, tc.want)
			}
		})
	}
}
