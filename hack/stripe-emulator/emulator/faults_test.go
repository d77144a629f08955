package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// rawPost posts without failing the test on a transport error.
func rawPost(e *env, path, form, key string) (*http.Response, error) {
	req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(form))
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	return resp, err
}

// Rule 7: an injected 500 happens before the endpoint: nothing changes, the
// idempotency key stays free, and Stripe-Should-Retry invites the retry.
func TestFaultServerError(t *testing.T) {
	e := newEnv(t, Options{Faults: FaultConfig{Rules: []FaultRule{{Method: "POST", Path: "/v1/products", ErrorRate: 1}}}})
	r := e.do(t, "POST", "/v1/products", "name=x", "Idempotency-Key", "k")
	if r.status != 500 || r.errField("type") != TypeAPI || r.header.Get("Stripe-Should-Retry") != "true" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if countObjects(t, e, e.PlatformAccount(), "product") != 0 {
		t.Fatal("a failed request changed state")
	}
	if r := e.do(t, "GET", "/v1/products", ""); r.status != 200 {
		t.Fatalf("rule targets POST /v1/products only: %d", r.status)
	}
	e.SetFaults(FaultConfig{})
	if r := e.do(t, "POST", "/v1/products", "name=x", "Idempotency-Key", "k"); r.status != 200 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry with the same key: %d %s", r.status, r.body)
	}
	if e.Stats().Faults.ServerErrors != 1 {
		t.Fatalf("stats: %+v", e.Stats().Faults)
	}
}

// Rule 7: 429 lock_timeout, which stripe-go retries by itself.
func TestFaultLockTimeout(t *testing.T) {
	e := newEnv(t, Options{Faults: FaultConfig{Rules: []FaultRule{{Path: "/v1/prices*", LockTimeoutRate: 1}}}})
	_, err := e.sc.Prices.Get("price_x", nil)
	wantStripeErr(t, err, 429, "invalid_request_error", "lock_timeout", "", "")
	if r := e.do(t, "GET", "/v1/products", ""); r.status != 200 {
		t.Fatalf("rule targets /v1/prices* only: %d", r.status)
	}
	if e.Stats().Faults.LockTimeouts != 1 {
		t.Fatalf("stats: %+v", e.Stats().Faults)
	}
}

// Rule 7: dropped connections, before the endpoint runs (nothing happened)
// and after it ran (the change happened but the client never heard): the
// latter is why create calls carry idempotency keys.
func TestFaultDroppedConnections(t *testing.T) {
	e := newEnv(t, Options{Faults: FaultConfig{Rules: []FaultRule{{Method: "POST", DropRate: 1}}}})
	if _, err := rawPost(e, "/v1/products", "name=x", "k1"); err == nil {
		t.Fatal("want a transport error")
	}
	if countObjects(t, e, e.PlatformAccount(), "product") != 0 {
		t.Fatal("dropped-before request changed state")
	}

	e.SetFaults(FaultConfig{Rules: []FaultRule{{Method: "POST", DropAfterRate: 1}}})
	if _, err := rawPost(e, "/v1/products", "name=y", "k2"); err == nil {
		t.Fatal("want a transport error")
	}
	if countObjects(t, e, e.PlatformAccount(), "product") != 1 {
		t.Fatal("dropped-after request should have created the product")
	}
	e.SetFaults(FaultConfig{})
	resp, err := rawPost(e, "/v1/products", "name=y", "k2")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry with the key should replay: %v %v", resp, err)
	}
	if n := countObjects(t, e, e.PlatformAccount(), "product"); n != 1 {
		t.Fatalf("%d products after the retry", n)
	}
	f := e.Stats().Faults
	if f.DropsBefore != 1 || f.DropsAfter != 1 {
		t.Fatalf("stats: %+v", f)
	}
}

// Rule 7: injected latency.
func TestFaultLatency(t *testing.T) {
	e := newEnv(t, Options{Faults: FaultConfig{Rules: []FaultRule{{Path: "/v1/products/{id}", Latency: 150 * time.Millisecond}}}})
	start := time.Now()
	e.do(t, "GET", "/v1/products/prod_x", "")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("took %v", d)
	}
}

// Rule 7: faults are drawn from a seeded source, so the same seed and the
// same requests fail the same way, and another seed differently.
func TestFaultsRepeatWithTheSeed(t *testing.T) {
	run := func(seed uint64) string {
		e := newEnv(t, Options{Faults: FaultConfig{Seed: seed, Rules: []FaultRule{{ErrorRate: 0.5}}}})
		var b strings.Builder
		for i := 0; i < 24; i++ {
			fmt.Fprintf(&b, "%d ", e.do(t, "GET", "/v1/products", "").status)
		}
		return b.String()
	}
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Fatalf("same seed, different outcomes:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatalf("different seeds, same outcomes: %s", a)
	}
	if !strings.Contains(a, "500") || !strings.Contains(a, "200") {
		t.Fatalf("rate 0.5 should give both: %s", a)
	}
}

// Rule 7: stripe-go with retries on recovers from injected 500s on GETs.
func TestStripeGoRetriesInjected500(t *testing.T) {
	e := newEnv(t, Options{Faults: FaultConfig{Seed: 3, Rules: []FaultRule{{Method: "GET", ErrorRate: 0.5}}}})
	prodID := e.newProduct(t, "p", nil).ID
	b := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL: stripe.String(e.URL), MaxNetworkRetries: stripe.Int64(10),
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	got := &stripe.Product{}
	err := b.Call(http.MethodGet, "/v1/products/"+prodID, testKey, nil, got)
	if err != nil || got.ID != prodID {
		t.Fatalf("retries did not get through: %v", err)
	}
}
