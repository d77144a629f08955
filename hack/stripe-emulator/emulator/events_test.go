package emulator

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// Rule 9: every state change emits an event shaped as stripe-go decodes it,
// tied to the request (id and idempotency key) that caused it.
func TestEventsForEveryChange(t *testing.T) {
	e := newEnv(t, Options{})
	create := e.do(t, "POST", "/v1/products", "name=Gold&metadata[a]=1", "Idempotency-Key", "create-gold")
	id := create.obj["id"].(string)
	e.clock.Advance(time.Second)
	upd := e.do(t, "POST", "/v1/products/"+id, "name=GoldPlus&metadata[b]=2")
	e.do(t, "DELETE", "/v1/products/"+id, "")

	it := e.sc.Events.List(&stripe.EventListParams{})
	var evs []*stripe.Event
	for it.Next() {
		evs = append(evs, it.Event())
	}
	if len(evs) != 3 || evs[0].Type != "product.deleted" || evs[1].Type != "product.updated" || evs[2].Type != "product.created" {
		t.Fatalf("events: %v", evs)
	}
	created := evs[2]
	if created.APIVersion != stripe.APIVersion || created.Livemode || created.PendingWebhooks != 0 || created.Account != "" ||
		created.Request.ID != create.header.Get("Request-Id") || created.Request.IdempotencyKey != "create-gold" ||
		created.Data.Object["id"] != id || created.Created != testEpoch.Unix() {
		t.Fatalf("product.created: %+v %+v", created, created.Request)
	}
	updated := evs[1]
	if updated.Request.ID != upd.header.Get("Request-Id") || updated.Request.IdempotencyKey != "" {
		t.Fatalf("product.updated request: %+v", updated.Request)
	}
	prev := updated.Data.PreviousAttributes
	md, _ := prev["metadata"].(map[string]interface{})
	if prev["name"] != "Gold" || prev["updated"] != float64(testEpoch.Unix()) || len(md) != 1 || md["b"] != nil {
		t.Fatalf("previous_attributes: %v", prev)
	}
	if _, has := md["b"]; !has {
		t.Fatalf("an added metadata key is reported with its old value, null: %v", prev)
	}
	if evs[0].Data.Object["name"] != "GoldPlus" {
		t.Fatalf("product.deleted carries the object as it was: %v", evs[0].Data.Object)
	}
	// Retrieve by id.
	got, err := e.sc.Events.Get(created.ID, nil)
	if err != nil || got.Type != "product.created" {
		t.Fatalf("retrieve: %v %v", got, err)
	}
}

// Rule 9: events can be listed and retrieved for 30 days, as on Stripe.
func TestEventRetention(t *testing.T) {
	e := newEnv(t, Options{})
	e.newProduct(t, "p", nil)
	ev := e.events(t, e.PlatformAccount())[0]
	e.clock.Advance(30*24*time.Hour - time.Second)
	if _, err := e.sc.Events.Get(ev.ID(), nil); err != nil {
		t.Fatalf("within 30 days: %v", err)
	}
	e.clock.Advance(2 * time.Second)
	_, err := e.sc.Events.Get(ev.ID(), nil)
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "id", "")
	if r := e.do(t, "GET", "/v1/events", ""); len(r.obj["data"].([]any)) != 0 {
		t.Fatalf("old events listed: %s", r.body)
	}
}

// Rule 9: a request that fails emits nothing, even for objects it created
// before failing (the transaction is undone).
func TestFailedRequestEmitsNothing(t *testing.T) {
	e := newEnv(t, Options{})
	// product_data creates a product, then the price fails validation.
	r := e.do(t, "POST", "/v1/prices", "currency=usd&product_data[name]=x&recurring[interval]=month&recurring[interval_count]=99&unit_amount=1")
	if r.status != 400 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if n := countObjects(t, e, e.PlatformAccount(), "product"); n != 0 {
		t.Fatalf("%d products left by a failed request", n)
	}
	if n := len(e.events(t, e.PlatformAccount())); n != 0 {
		t.Fatalf("%d events from a failed request", n)
	}
}

// Rule 9: the event bus — listeners see each event inside the transaction
// (and may set pending_webhooks) and again after commit, in order.
func TestEventListeners(t *testing.T) {
	e := newEnv(t, Options{})
	var mu sync.Mutex
	var committed []string
	e.AddEventListener(EventListener{
		InTx: func(tx *Tx, ev Object) { ev["pending_webhooks"] = int64(2) },
		Committed: func(ev Object) {
			mu.Lock()
			committed = append(committed, ev.Str("type"))
			mu.Unlock()
		},
	})
	prod := e.newProduct(t, "p", nil)
	e.newPrice(t, monthly(prod.ID, 1))
	e.do(t, "POST", "/v1/products/"+prod.ID, "nme=invalid") // refused: no event
	mu.Lock()
	defer mu.Unlock()
	if len(committed) != 2 || committed[0] != "product.created" || committed[1] != "price.created" {
		t.Fatalf("committed: %v", committed)
	}
	r := e.do(t, "GET", "/v1/events", "limit=1")
	var list struct {
		Data []stripe.Event `json:"data"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || list.Data[0].PendingWebhooks != 2 {
		t.Fatalf("pending_webhooks set in the transaction: %s", r.body)
	}
}
