package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// generator makes the events the clients send: realistic Stripe event payloads (product.updated and
// invoice.paid, 1–3 KiB) for test mode, in stripeapi.APIVersion, each with an id of its own, signed
// with the endpoint's secret as they are sent.
//
// The payloads are cut from templates marshalled once (a pool of objects with their metadata tags, and
// invoices of 1 to 8 lines), so that the load generator's CPU, which shares the machine's cores with
// the server, goes to HTTP and signing rather than to encoding JSON.
type generator struct {
	secret    string
	tag       string // this run's part of the event ids
	next      atomic.Int64
	templates [][2][]byte // the payload before and after the event id
}

// templateCount is the number of distinct objects (half products, half invoices) events are about.
const templateCount = 256

const idPlaceholder = "evt_PLACEHOLDER"

// The keys every Stripe object has.
const (
	fieldObject   = "object"
	fieldLivemode = "livemode"
)

func newGenerator(secret string) *generator {
	g := &generator{secret: secret, tag: randomTag(8)}
	created := time.Now().Unix()
	for i := range templateCount {
		var ev map[string]any
		if i%2 == 0 {
			ev = productEvent(i, created)
		} else {
			ev = invoiceEvent(i, created)
		}
		ev["id"] = idPlaceholder
		data, err := json.MarshalIndent(ev, "", "  ") // Stripe sends its events indented
		if err != nil {
			panic(err) // maps of strings and numbers always marshal
		}
		before, after, _ := bytes.Cut(data, []byte(idPlaceholder))
		g.templates = append(g.templates, [2][]byte{before, after})
	}
	return g
}

// event returns a new event: its id and its payload.
func (g *generator) event() (string, []byte) {
	n := g.next.Add(1)
	id := fmt.Sprintf("evt_1%s%015d", g.tag, n)
	t := g.templates[n%templateCount]
	payload := make([]byte, 0, len(t[0])+len(id)+len(t[1]))
	payload = append(append(append(payload, t[0]...), id...), t[1]...)
	return id, payload
}

// sign returns the Stripe-Signature header for payload, signed now.
func (g *generator) sign(payload []byte) string {
	return stripeapi.SignTestPayload(payload, g.secret, time.Now())
}

// envelope is the part every event shares.
func envelope(typ string, created int64, object map[string]any, previous map[string]any) map[string]any {
	return map[string]any{
		fieldObject:        "event",
		"api_version":      stripeapi.APIVersion,
		"created":          created,
		"data":             map[string]any{fieldObject: object, "previous_attributes": previous},
		fieldLivemode:      false,
		"pending_webhooks": 2,
		"request": map[string]any{
			"id":              fmt.Sprintf("req_%s", randomTag(14)),
			"idempotency_key": fmt.Sprintf("stripe-operator-%s", randomTag(20)),
		},
		"type": typ,
	}
}

// operatorMetadata is what the operator tags its Stripe objects with (the owning resource).
func operatorMetadata(kind string, i int) map[string]any {
	return map[string]any{
		"stripe-operator.cloudip.io/cluster":   "bench-cluster",
		"stripe-operator.cloudip.io/kind":      kind,
		"stripe-operator.cloudip.io/namespace": "billing",
		"stripe-operator.cloudip.io/name":      fmt.Sprintf("plan-%04d", i),
		"stripe-operator.cloudip.io/uid":       fmt.Sprintf("6f1c%04x-9b0e-4d3a-8c55-%012x", i, i*7919),
	}
}

func productEvent(i int, created int64) map[string]any {
	product := map[string]any{
		"id":                   fmt.Sprintf("prod_Bench%010d", i),
		fieldObject:            "product",
		"active":               true,
		"attributes":           []any{},
		"created":              created - 86400,
		"default_price":        fmt.Sprintf("price_1Bench%012d", i),
		"description":          fmt.Sprintf("Plan %d of the benchmark: monthly and yearly prices, metered add-ons.", i),
		"images":               []any{},
		fieldLivemode:          false,
		"marketing_features":   []any{map[string]any{"name": "Unlimited projects"}, map[string]any{"name": "SSO"}},
		"metadata":             operatorMetadata("BillingPlan", i),
		"name":                 fmt.Sprintf("Bench plan %04d", i),
		"package_dimensions":   nil,
		"shippable":            nil,
		"statement_descriptor": "BENCH PLAN",
		"tax_code":             "txcd_10103001",
		"type":                 "service",
		"unit_label":           "seat",
		"updated":              created,
		"url":                  nil,
	}
	return envelope("product.updated", created, product, map[string]any{"description": "Plan of the benchmark.", "updated": created - 60})
}

func invoiceEvent(i int, created int64) map[string]any {
	lines := make([]any, 0, 8)
	for j := range 1 + i%8 {
		lines = append(lines, map[string]any{
			"id": fmt.Sprintf("il_1Bench%06d%04d", i, j), fieldObject: "line_item", "amount": 1000 + 100*j, "currency": "usd",
			"description": fmt.Sprintf("1 seat × Bench plan %04d (at $%d.00 / month)", i, 10+j), fieldLivemode: false,
			"period":   map[string]any{"start": created - 2592000, "end": created},
			"price":    map[string]any{"id": fmt.Sprintf("price_1Bench%012d", i), fieldObject: "price", "product": fmt.Sprintf("prod_Bench%010d", i)},
			"quantity": 1, "type": "subscription",
		})
	}
	invoice := map[string]any{
		"id":                 fmt.Sprintf("in_1Bench%014d", i),
		fieldObject:          "invoice",
		"account_country":    "US",
		"amount_due":         4200,
		"amount_paid":        4200,
		"amount_remaining":   0,
		"attempt_count":      1,
		"billing_reason":     "subscription_cycle",
		"collection_method":  "charge_automatically",
		"created":            created,
		"currency":           "usd",
		"customer":           fmt.Sprintf("cus_Bench%08d", i),
		"customer_email":     fmt.Sprintf("billing+%d@example.com", i),
		"hosted_invoice_url": fmt.Sprintf("https://invoice.stripe.com/i/acct_1Bench/test_%s", randomTag(24)),
		"lines":              map[string]any{fieldObject: "list", "data": lines, "has_more": false, "total_count": len(lines)},
		fieldLivemode:        false,
		"metadata":           operatorMetadata("StripeTenant", i),
		"number":             fmt.Sprintf("BENCH-%04d-%04d", i, 1),
		"paid":               true,
		"status":             "paid",
		"subscription":       fmt.Sprintf("sub_1Bench%012d", i),
		"total":              4200,
	}
	return envelope("invoice.paid", created, invoice, map[string]any{"status": "open", "paid": false})
}

// randomTag returns n random characters of [0-9A-Za-z], as in Stripe's ids.
func randomTag(n int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
