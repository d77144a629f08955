package stripeapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

var productJSON = map[string]any{
	"id": "prod_1", "object": "product", "name": "Gold", "active": true, "created": 1700000000,
	"metadata": map[string]string{"cloudip_uid": "9b2f-uid"},
}

func TestStripeAccountHeader(t *testing.T) {
	f := newFakeStripe(t)
	f.on("GET /v1/products/prod_1", productJSON)
	f.on("POST /v1/products", productJSON)
	f.on("DELETE /v1/products/prod_1", map[string]any{"id": "prod_1", "object": "product", "deleted": true})
	f.on("GET /v1/products", list("/v1/products", false, productJSON))
	platform := newTestClient(t, f, nil)
	ctx := context.Background()

	calls := map[string]func(api Interface) error{
		"get": func(api Interface) error { _, err := api.GetProduct(ctx, "prod_1"); return err },
		"create": func(api Interface) error {
			_, err := api.CreateProduct(ctx, ProductCreateParams{IdempotencyKey: "k", Tags: testTags(), Name: "Gold"})
			return err
		},
		"delete": func(api Interface) error { return api.DeleteProduct(ctx, "prod_1") },
		"list":   func(api Interface) error { _, err := api.ListProducts(ctx, ProductListParams{}); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				api  Interface
				want string
			}{
				{platform, ""},
				{platform.ForAccount("acct_tenant1"), "acct_tenant1"},
				{platform.ForAccount("acct_tenant1").ForAccount(""), ""},
			} {
				if err := call(tc.api); err != nil {
					t.Fatal(err)
				}
				if got := f.last(t).Header.Get("Stripe-Account"); got != tc.want {
					t.Errorf("Stripe-Account = %q, want %q", got, tc.want)
				}
				if tc.api.AccountID() != tc.want {
					t.Errorf("AccountID() = %q, want %q", tc.api.AccountID(), tc.want)
				}
			}
		})
	}
}

func TestIdempotencyKeyHeaders(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/products", productJSON)
	f.on("POST /v1/products/prod_1", productJSON)
	f.on("GET /v1/products/prod_1", productJSON)
	f.on("DELETE /v1/products/prod_1", map[string]any{"id": "prod_1", "object": "product", "deleted": true})
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	key := IdempotencyKey("9b2f-uid", 3, "create-product")

	for i := 0; i < 2; i++ {
		if _, err := c.CreateProduct(ctx, ProductCreateParams{IdempotencyKey: key, Tags: testTags(), Name: "Gold"}); err != nil {
			t.Fatal(err)
		}
		if got := f.last(t).Header.Get("Idempotency-Key"); got != key {
			t.Fatalf("create #%d sent Idempotency-Key %q, want our %q", i, got, key)
		}
	}
	upd := IdempotencyKey("9b2f-uid", 4, "update-product/"+Digest("Gold", "Platinum"))
	if _, err := c.UpdateProduct(ctx, "prod_1", ProductUpdateParams{IdempotencyKey: upd, Name: strPtr("Platinum")}); err != nil {
		t.Fatal(err)
	}
	if got := f.last(t).Header.Get("Idempotency-Key"); got != upd {
		t.Fatalf("update sent Idempotency-Key %q, want %q", got, upd)
	}

	// Reads and deletes carry no key: not even the random one stripe-go adds to a DELETE.
	if _, err := c.GetProduct(ctx, "prod_1"); err != nil {
		t.Fatal(err)
	}
	if got := f.last(t).Header.Values("Idempotency-Key"); len(got) != 0 {
		t.Errorf("GET sent Idempotency-Key %q", got)
	}
	if err := c.DeleteProduct(ctx, "prod_1"); err != nil {
		t.Fatal(err)
	}
	if got := f.last(t).Header.Values("Idempotency-Key"); len(got) != 0 {
		t.Errorf("DELETE sent Idempotency-Key %q", got)
	}

	// A write without a key is refused before anything is sent.
	before := len(f.seen())
	_, err := c.CreateProduct(ctx, ProductCreateParams{Tags: testTags(), Name: "Gold"})
	if !IsTerminal(err) || !strings.Contains(err.Error(), "idempotency key is required") {
		t.Errorf("create without key: err = %v, want a Terminal refusal", err)
	}
	_, err = c.UpdatePrice(ctx, "price_1", PriceUpdateParams{Active: new(bool)})
	if !IsTerminal(err) {
		t.Errorf("update without key: err = %v, want Terminal", err)
	}
	if n := len(f.seen()); n != before {
		t.Errorf("%d requests sent for refused writes", n-before)
	}
}

func TestNoRetriesByStripeGo(t *testing.T) {
	cases := map[string]struct {
		method string
		rep    reply
		want   Class
	}{
		"GET 500":                   {http.MethodGet, stripeErr(500, "api_error", "", "", "boom"), ClassRetryable},
		"GET 503":                   {http.MethodGet, stripeErr(503, "api_error", "", "", "unavailable"), ClassRetryable},
		"POST 409":                  {http.MethodPost, stripeErr(409, "invalid_request_error", "", "", "conflict"), ClassRetryable},
		"GET 429 lock_timeout":      {http.MethodGet, stripeErr(429, "invalid_request_error", "lock_timeout", "", "lock"), ClassRetryable},
		"POST Stripe-Should-Retry":  {http.MethodPost, withHeader(stripeErr(500, "api_error", "", "", "x"), "Stripe-Should-Retry", "true"), ClassRetryable},
		"GET non-JSON 502 by proxy": {http.MethodGet, reply{Status: 502, Body: "<html>bad gateway</html>"}, ClassRetryable},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeStripe(t)
			f.handle(tc.method+" /v1/products/prod_1", func(seen, int) reply { return tc.rep })
			c := newTestClient(t, f, nil)
			var err error
			if tc.method == http.MethodGet {
				_, err = c.GetProduct(context.Background(), "prod_1")
			} else {
				_, err = c.UpdateProduct(context.Background(), "prod_1", ProductUpdateParams{IdempotencyKey: "k", Name: strPtr("x")})
			}
			if got := Classify(err); got != tc.want {
				t.Errorf("Classify = %q, want %q (err %v)", got, tc.want, err)
			}
			if n := len(f.seen()); n != 1 {
				t.Errorf("server saw %d requests, want exactly 1 (stripe-go must not retry)", n)
			}
		})
	}
}

func withHeader(r reply, k, v string) reply {
	r.Header = map[string]string{k: v}
	return r
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no key":          {},
		"relative URL":    {APIKey: "sk_test_1", BaseURL: "localhost:12111"},
		"ftp URL":         {APIKey: "sk_test_1", BaseURL: "ftp://x"},
		"negative budget": {APIKey: "sk_test_1", Budget: Budget{RequestsPerSecond: -1}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestDefaultBudget(t *testing.T) {
	for _, tc := range []struct {
		key       string
		budget    Budget
		wantRate  float64
		wantBurst int
	}{
		// The default burst is four fifths of a second's worth (see budgetFor).
		{"sk_test_1", Budget{}, 25, 20},
		{"sk_live_1", Budget{}, 90, 72},
		{"rk_live_1", Budget{}, 90, 72},
		{"sk_live_1", Budget{RequestsPerSecond: 10}, 10, 8},
		{"sk_test_1", Budget{RequestsPerSecond: 2.5}, 2.5, 2},
		{"sk_test_1", Budget{RequestsPerSecond: 5, Burst: 1}, 5, 1},
	} {
		c, err := New(Config{APIKey: tc.key, Budget: tc.budget})
		if err != nil {
			t.Fatal(err)
		}
		if got := float64(c.limiter.Limit()); got != tc.wantRate {
			t.Errorf("%s %+v: rate %v, want %v", tc.key, tc.budget, got, tc.wantRate)
		}
		if got := c.limiter.Burst(); got != tc.wantBurst {
			t.Errorf("%s %+v: burst %d, want %d", tc.key, tc.budget, got, tc.wantBurst)
		}
		if c.Livemode() != strings.Contains(tc.key, "_live_") {
			t.Errorf("%s: Livemode() = %v", tc.key, c.Livemode())
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	f := newFakeStripe(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	f.handle("GET /v1/products/prod_1", func(seen, int) reply { <-release; return reply{Body: productJSON} })
	c, err := New(Config{APIKey: "sk_test_1", BaseURL: f.URL, Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetProduct(context.Background(), "prod_1")
	if !IsRetryable(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung request: err = %v, want Retryable wrapping DeadlineExceeded", err)
	}
}
