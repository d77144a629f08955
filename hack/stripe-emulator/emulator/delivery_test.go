package emulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// receiver is a webhook endpoint server that records what it receives and
// answers with status(n) for the n-th request (0-based).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status func(n int) int
	delay  time.Duration
}

type received struct {
	header http.Header
	body   []byte
	event  map[string]any
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	t.Helper()
	r := &receiver{status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var ev map[string]any
		_ = json.Unmarshal(body, &ev)
		r.mu.Lock()
		n := len(r.got)
		r.got = append(r.got, received{header: req.Header.Clone(), body: body, event: ev})
		delay := r.delay
		r.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		code := http.StatusOK
		if r.status != nil {
			code = r.status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) types() []string {
	var out []string
	for _, g := range r.requests() {
		out = append(out, g.event["type"].(string))
	}
	return out
}

func (e *env) waitDeliveries(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.WaitForDeliveries(ctx); err != nil {
		t.Fatalf("deliveries still pending: %v %+v", err, e.Deliveries(DeliveryFilter{}))
	}
}

func fastRetries(n int) WebhookOptions {
	retry := make([]time.Duration, n)
	for i := range retry {
		retry[i] = time.Duration(5*(i+1)) * time.Millisecond
	}
	return WebhookOptions{Retry: retry, Timeout: 2 * time.Second}
}

// Rule: a delivery is a POST of the event JSON signed as Stripe signs
// (Stripe-Signature t=,v1=), which stripe-go's webhook package verifies
// with the endpoint secret.
func TestDeliverySignatureVerifiesWithStripeGo(t *testing.T) {
	e := newEnv(t, Options{Webhooks: fastRetries(0)})
	rcv := newReceiver(t, nil)
	we := e.newEndpoint(t, rcv.URL, false, "product.created")
	prod := e.newProduct(t, "Gold", nil)
	e.waitDeliveries(t)
	got := rcv.requests()
	if len(got) != 1 {
		t.Fatalf("requests: %d", len(got))
	}
	r := got[0]
	if r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("content type %q", r.header.Get("Content-Type"))
	}
	ev, err := webhook.ConstructEventWithOptions(r.body, r.header.Get("Stripe-Signature"), we.Secret, webhook.ConstructEventOptions{})
	if err != nil {
		t.Fatalf("stripe-go rejects the signature: %v", err)
	}
	if ev.Type != "product.created" || ev.Data.Object["id"] != prod.ID || ev.PendingWebhooks != 1 {
		t.Fatalf("event: %+v", ev)
	}
	if _, err := webhook.ConstructEventWithOptions(r.body, r.header.Get("Stripe-Signature"), "whsec_wrong", webhook.ConstructEventOptions{}); err == nil {
		t.Fatal("a wrong secret verifies")
	}
}

// Rule: platform events go to platform endpoints; events of a connected
// account go to that account's own endpoints and to the platform's
// connect endpoints; enabled_events filters by type.
func TestDeliveryRouting(t *testing.T) {
	e := newEnv(t, Options{Webhooks: fastRetries(0)})
	acct := e.newAccount(t, expressAccount())
	platform, connect, own, pricesOnly := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	e.newEndpoint(t, platform.URL, false, "*")
	e.newEndpoint(t, connect.URL, true, "*")
	e.newEndpoint(t, pricesOnly.URL, false, "price.created")
	p := &stripe.WebhookEndpointParams{URL: stripe.String(own.URL), EnabledEvents: stripe.StringSlice([]string{"product.created"})}
	p.SetStripeAccount(acct.ID)
	if _, err := e.sc.WebhookEndpoints.New(p); err != nil {
		t.Fatal(err)
	}
	e.newProduct(t, "platform product", nil)
	pp := &stripe.ProductParams{Name: stripe.String("tenant product")}
	pp.SetStripeAccount(acct.ID)
	if _, err := e.sc.Products.New(pp); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sc.Accounts.Update(acct.ID, &stripe.AccountParams{Metadata: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	e.waitDeliveries(t)
	for _, tc := range []struct {
		name string
		r    *receiver
		want []string
	}{
		{"platform endpoint: platform events only", platform, []string{"product.created"}},
		{"connect endpoint: connected-account events", connect, []string{"product.created", "account.updated"}},
		{"account's own endpoint", own, []string{"product.created"}},
		{"enabled_events filters", pricesOnly, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.types() // deliveries run in parallel: order is not part of the rule
			sort.Strings(got)
			sort.Strings(tc.want)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	for _, r := range connect.requests() {
		if r.event["account"] != acct.ID {
			t.Fatalf("connect event without account: %v", r.event)
		}
	}
	if _, has := platform.requests()[0].event["account"]; has {
		t.Fatal("platform event with account")
	}
}

// Rule: pending_webhooks counts the endpoints an event goes to and drops
// as each one answers 2xx.
func TestPendingWebhooksCountsUndelivered(t *testing.T) {
	e := newEnv(t, Options{Webhooks: fastRetries(1)})
	ok, failing := newReceiver(t, nil), newReceiver(t, func(int) int { return 500 })
	e.newEndpoint(t, ok.URL, false, "*")
	e.newEndpoint(t, failing.URL, false, "*")
	disabled := e.newEndpoint(t, ok.URL, false, "*")
	if _, err := e.sc.WebhookEndpoints.Update(disabled.ID, &stripe.WebhookEndpointParams{Disabled: stripe.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	e.newProduct(t, "Gold", nil)
	e.waitDeliveries(t)
	if first := ok.requests(); len(first) != 1 || first[0].event["pending_webhooks"] != float64(2) {
		t.Fatalf("payload: %d requests, pending_webhooks %v", len(first), first[0].event["pending_webhooks"])
	}
	evs := e.events(t, e.PlatformAccount())
	if len(evs) != 1 || evs[0].Int("pending_webhooks") != 1 {
		t.Fatalf("after one success and one failure: %v", evs)
	}
	if n := len(failing.requests()); n != 2 {
		t.Fatalf("failing endpoint attempts: %d (want 1 + 1 retry)", n)
	}
}

// Rule: non-2xx, redirects and timeouts are failed attempts, retried on
// the schedule until success or until the retries run out.
func TestDeliveryRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   func(n int) int
		delay    time.Duration
		retries  int
		attempts int
		want     string
	}{
		{"succeeds on the third attempt", func(n int) int { return map[bool]int{true: 503, false: 200}[n < 2] }, 0, 3, 3, DeliveryDelivered},
		{"retries run out", func(int) int { return 400 }, 0, 2, 3, DeliveryFailed},
		{"a redirect is a failure", func(int) int { return 302 }, 0, 1, 2, DeliveryFailed},
		{"a timeout is a failure", nil, 300 * time.Millisecond, 1, 2, DeliveryFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := fastRetries(tc.retries)
			opts.Timeout = 50 * time.Millisecond
			e := newEnv(t, Options{Webhooks: opts})
			rcv := newReceiver(t, tc.status)
			rcv.delay = tc.delay
			we := e.newEndpoint(t, rcv.URL, false, "*")
			e.newProduct(t, "Gold", nil)
			e.waitDeliveries(t)
			ds := e.Deliveries(DeliveryFilter{Endpoint: we.ID})
			if len(ds) != 1 || ds[0].Status != tc.want || len(ds[0].Attempts) != tc.attempts {
				t.Fatalf("deliveries: %+v", ds)
			}
			sum := e.DeliverySummary()[we.ID]
			if (tc.want == DeliveryDelivered) != (sum.Delivered == 1) || (tc.want == DeliveryFailed) != (sum.Failed == 1) {
				t.Fatalf("summary: %+v", sum)
			}
		})
	}
}

// Rule: an endpoint deleted or disabled while a delivery waits for its
// retry gets no further attempts.
func TestNoRetryToDisabledEndpoint(t *testing.T) {
	e := newEnv(t, Options{Webhooks: WebhookOptions{Retry: []time.Duration{time.Hour}}})
	rcv := newReceiver(t, func(int) int { return 500 })
	we := e.newEndpoint(t, rcv.URL, false, "*")
	e.newProduct(t, "Gold", nil)
	deadline := time.Now().Add(5 * time.Second)
	for len(rcv.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := e.sc.WebhookEndpoints.Update(we.ID, &stripe.WebhookEndpointParams{Disabled: stripe.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	e.RetryDeliveriesNow()
	e.waitDeliveries(t)
	ds := e.Deliveries(DeliveryFilter{})
	if len(rcv.requests()) != 1 || len(ds) != 1 || ds[0].Status != DeliveryFailed || ds[0].Reason != "endpoint disabled" {
		t.Fatalf("requests %d, deliveries %+v", len(rcv.requests()), ds)
	}
}

// Rule: the duplicate knob sends an event twice (Stripe may), and the
// reorder knob lets later events overtake earlier ones (Stripe does not
// guarantee order); both are seeded.
func TestDeliveryDuplicatesAndReordering(t *testing.T) {
	e := newEnv(t, Options{Webhooks: WebhookOptions{Retry: []time.Duration{}, DuplicateRate: 1, Seed: 7}})
	rcv := newReceiver(t, nil)
	we := e.newEndpoint(t, rcv.URL, false, "product.created")
	e.newProduct(t, "Gold", nil)
	e.waitDeliveries(t)
	got := rcv.requests()
	if len(got) != 2 || got[0].event["id"] != got[1].event["id"] {
		t.Fatalf("want the same event twice, got %d requests", len(got))
	}
	if ev := e.events(t, e.PlatformAccount())[0]; ev.Int("pending_webhooks") != 0 {
		t.Fatalf("duplicates must not count: %v", ev["pending_webhooks"])
	}
	if ds := e.Deliveries(DeliveryFilter{Endpoint: we.ID}); len(ds) != 2 || ds[0].Duplicate == ds[1].Duplicate {
		t.Fatalf("deliveries: %+v", ds)
	}

	e2 := newEnv(t, Options{Webhooks: WebhookOptions{Retry: []time.Duration{}, ReorderRate: 1, ReorderWindow: 300 * time.Millisecond, Seed: 3, Workers: 16}})
	rcv2 := newReceiver(t, nil)
	e2.newEndpoint(t, rcv2.URL, false, "product.created")
	var sent []string
	for i := 0; i < 8; i++ {
		sent = append(sent, e2.newProduct(t, "p", nil).ID)
	}
	e2.waitDeliveries(t)
	var order []string
	for _, r := range rcv2.requests() {
		order = append(order, r.event["data"].(map[string]any)["object"].(map[string]any)["id"].(string))
	}
	same := len(order) == len(sent)
	for i := range order {
		same = same && order[i] == sent[i]
	}
	if len(order) != 8 || same {
		t.Fatalf("want all 8 events, reordered; sent %v got %v", sent, order)
	}
}

// Rule: deliveries run off the request path, and Close stops them
// (pending retries are abandoned, nothing is sent afterwards).
func TestCloseStopsDelivery(t *testing.T) {
	e := newEnv(t, Options{Webhooks: WebhookOptions{Retry: []time.Duration{30 * time.Millisecond}}})
	rcv := newReceiver(t, func(int) int { return 500 })
	e.newEndpoint(t, rcv.URL, false, "*")
	e.newProduct(t, "Gold", nil)
	deadline := time.Now().Add(5 * time.Second)
	for len(rcv.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	e.Close()
	n := len(rcv.requests())
	time.Sleep(100 * time.Millisecond)
	if len(rcv.requests()) != n {
		t.Fatal("delivered after Close")
	}
}

// Rule: a slow endpoint does not slow the API request that emitted the
// event.
func TestDeliveryIsOffTheRequestPath(t *testing.T) {
	e := newEnv(t, Options{Webhooks: WebhookOptions{Retry: []time.Duration{}, Timeout: 5 * time.Second}})
	rcv := newReceiver(t, nil)
	rcv.delay = 500 * time.Millisecond
	e.newEndpoint(t, rcv.URL, false, "*")
	start := time.Now()
	e.newProduct(t, "Gold", nil)
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Fatalf("request took %v", d)
	}
	e.waitDeliveries(t)
}
