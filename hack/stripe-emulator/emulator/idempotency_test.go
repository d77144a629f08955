package emulator

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

func countObjects(t *testing.T, e *env, account, kind string) int {
	t.Helper()
	n := 0
	_ = e.Store().Read(account, e.Now(), func(tx *Tx) error {
		tx.Scan(kind, func(Object) bool { n++; return true })
		return nil
	})
	return n
}

// Rule 4: a reused key replays the first response byte for byte, marked
// Idempotent-Replayed, and the endpoint does not run again.
func TestIdempotentReplay(t *testing.T) {
	e := newEnv(t, Options{})
	first := e.do(t, "POST", "/v1/products", "name=Gold&metadata[a]=1", "Idempotency-Key", "k1")
	second := e.do(t, "POST", "/v1/products", "metadata[a]=1&name=Gold", "Idempotency-Key", "k1")
	if first.status != 200 || second.status != 200 || !bytes.Equal(first.body, second.body) {
		t.Fatalf("replay differs:\n%s\n%s", first.body, second.body)
	}
	if first.header.Get("Idempotent-Replayed") != "" || second.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("Idempotent-Replayed: %q then %q", first.header.Get("Idempotent-Replayed"), second.header.Get("Idempotent-Replayed"))
	}
	if second.header.Get("Original-Request") != first.header.Get("Request-Id") {
		t.Fatalf("Original-Request %q, want %q", second.header.Get("Original-Request"), first.header.Get("Request-Id"))
	}
	if n := countObjects(t, e, e.PlatformAccount(), "product"); n != 1 {
		t.Fatalf("%d products, want 1", n)
	}
	if s := e.Stats(); s.IdempotentReplays != 1 {
		t.Fatalf("stats: %+v", s)
	}
	// Through stripe-go: the same key gives the same product.
	p := &stripe.ProductParams{Name: stripe.String("Silver")}
	p.SetIdempotencyKey("k2")
	a, err := e.sc.Products.New(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.sc.Products.New(p)
	if err != nil || a.ID != b.ID {
		t.Fatalf("second create with the same key: %v %v", b, err)
	}
}

// Rule 4: a key reused for other parameters or another endpoint is an
// idempotency_error.
func TestIdempotencyKeyMismatch(t *testing.T) {
	e := newEnv(t, Options{})
	e.do(t, "POST", "/v1/products", "name=Gold", "Idempotency-Key", "k")
	r := e.do(t, "POST", "/v1/products", "name=Silver", "Idempotency-Key", "k")
	if r.status != 400 || r.errField("type") != TypeIdempotency || r.errField("message") !=
		"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'k' if you meant to execute a different request." {
		t.Fatalf("params mismatch: %d %s", r.status, r.body)
	}
	prod := e.newProduct(t, "x", nil)
	r = e.do(t, "POST", "/v1/products/"+prod.ID, "name=Gold", "Idempotency-Key", "k")
	if r.status != 400 || r.errField("type") != TypeIdempotency ||
		!containsAll(r.errField("message").(string), "same endpoint", "'POST /v1/products'", "'POST /v1/products/"+prod.ID+"'") {
		t.Fatalf("endpoint mismatch: %d %s", r.status, r.body)
	}
	// stripe-go surfaces it as an idempotency error.
	p := &stripe.ProductParams{Name: stripe.String("Bronze")}
	p.SetIdempotencyKey("k")
	_, err := e.sc.Products.New(p)
	wantStripeErr(t, err, 400, "idempotency_error", "", "", "")
}

// Rule 4: keys belong to an account; the same key in two accounts is two
// requests.
func TestIdempotencyKeysArePerAccount(t *testing.T) {
	e := newEnv(t, Options{})
	acct := seedConnectedAccount(t, e.Emulator)
	a := e.do(t, "POST", "/v1/products", "name=Gold", "Idempotency-Key", "shared")
	b := e.do(t, "POST", "/v1/products", "name=Gold", "Idempotency-Key", "shared", "Stripe-Account", acct)
	if a.status != 200 || b.status != 200 || b.header.Get("Idempotent-Replayed") != "" || a.obj["id"] == b.obj["id"] {
		t.Fatalf("per-account keys: %s / %s", a.body, b.body)
	}
}

// Rule 4: keys expire after 24 hours of the emulator clock.
func TestIdempotencyKeysExpire(t *testing.T) {
	e := newEnv(t, Options{})
	e.do(t, "POST", "/v1/products", "name=Gold", "Idempotency-Key", "k")
	e.clock.Advance(23 * time.Hour)
	if r := e.do(t, "POST", "/v1/products", "name=Silver", "Idempotency-Key", "k"); r.status != 400 {
		t.Fatalf("key forgotten before 24h: %d %s", r.status, r.body)
	}
	e.clock.Advance(time.Hour)
	r := e.do(t, "POST", "/v1/products", "name=Silver", "Idempotency-Key", "k")
	if r.status != 200 || r.obj["name"] != "Silver" {
		t.Fatalf("key still held after 24h: %d %s", r.status, r.body)
	}
}

// Rule 4: only POST takes keys. Stripe documents that keys on GET and DELETE
// have no effect, so a DELETE retried with its key runs again (and finds
// nothing to delete) rather than replaying.
func TestIdempotencyOnlyForPOST(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "x", nil)
	if r := e.do(t, "GET", "/v1/products/"+prod.ID, "", "Idempotency-Key", "g"); r.status != 200 || r.header.Get("Idempotency-Key") != "" {
		t.Fatalf("GET with key: %d %v", r.status, r.header)
	}
	first := e.do(t, "DELETE", "/v1/products/"+prod.ID, "", "Idempotency-Key", "d")
	again := e.do(t, "DELETE", "/v1/products/"+prod.ID, "", "Idempotency-Key", "d")
	if first.status != 200 || again.status != 404 || again.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("DELETE: %d then %d %s", first.status, again.status, again.body)
	}
}

// Rule 4: a response is kept once the endpoint ran, errors included; a
// request refused before that (spec check) leaves the key unused.
func TestIdempotencyStoresOutcomesNotRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	// Refused by the spec check: the key stays free.
	if r := e.do(t, "POST", "/v1/products", "nme=Gold", "Idempotency-Key", "k"); r.status != 400 {
		t.Fatalf("got %d", r.status)
	}
	if r := e.do(t, "POST", "/v1/products", "name=Gold", "Idempotency-Key", "k"); r.status != 200 {
		t.Fatalf("key was consumed by a refused request: %d %s", r.status, r.body)
	}
	// Refused by the endpoint (no such product): the error is the outcome
	// and is replayed, even after the product appears.
	first := e.do(t, "POST", "/v1/prices", "currency=usd&unit_amount=1&product=prod_later", "Idempotency-Key", "p")
	second := e.do(t, "POST", "/v1/prices", "currency=usd&unit_amount=1&product=prod_later", "Idempotency-Key", "p")
	if first.status != 404 || second.status != 404 || second.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(first.body, second.body) {
		t.Fatalf("endpoint error not replayed: %d %s / %d %s", first.status, first.body, second.status, second.body)
	}
}

// Rule 4: while a request holds a key, another request with it is told to
// retry later (409, which stripe-go retries).
func TestIdempotencyKeyInUse(t *testing.T) {
	s := newIdempotencyStore()
	now := testEpoch
	if rec, err := s.begin(now, "acct_1", "k", "POST /v1/products", "{}"); rec != nil || err != nil {
		t.Fatalf("first claim: %v %v", rec, err)
	}
	_, err := s.begin(now, "acct_1", "k", "POST /v1/products", "{}")
	if err == nil || err.Status != http.StatusConflict || err.Code != "idempotency_key_in_use" {
		t.Fatalf("concurrent claim: %+v", err)
	}
	s.release("acct_1", "k")
	if rec, err := s.begin(now, "acct_1", "k", "POST /v1/products", "{}"); rec != nil || err != nil {
		t.Fatalf("claim after release: %v %v", rec, err)
	}
}

// Rule 4 under concurrency: many clients racing with one key create one
// object; the others get the replay or are told the key is in use.
func TestIdempotencyUnderConcurrency(t *testing.T) {
	e := newEnv(t, Options{})
	const n = 16
	statuses := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			resp, err := rawPost(e, "/v1/products", "name=race", "race-key")
			if err != nil {
				statuses <- 0
				return
			}
			statuses <- resp.StatusCode
		}()
	}
	for i := 0; i < n; i++ {
		if s := <-statuses; s != 200 && s != http.StatusConflict {
			t.Fatalf("status %d", s)
		}
	}
	if got := countObjects(t, e, e.PlatformAccount(), "product"); got != 1 {
		t.Fatalf("%d products from one key", got)
	}
}
