package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// What a client that copies Stripe's objects relies on: list endpoints of a
// connected account (Stripe-Account), retrieving single objects, the Date
// header as Stripe's clock, lists newest first by `created`, and the events
// of the connected account.

// ids returns the ids of a list response's data, in order.
func ids(t *testing.T, r rawResp) []string {
	t.Helper()
	if r.status != http.StatusOK || r.obj["object"] != "list" {
		t.Fatalf("not a list: %d %s", r.status, r.body)
	}
	var out []string
	for _, d := range r.obj["data"].([]any) {
		out = append(out, d.(map[string]any)["id"].(string))
	}
	return out
}

// Every response — success, Stripe error, refusal before the endpoint,
// idempotent replay, control API — carries a Date header (RFC 1123, GMT)
// with the emulator clock's time, which moves with SetClock/AdvanceClock,
// and every Stripe API response a Request-Id.
func TestDateHeaderIsTheEmulatorClock(t *testing.T) {
	e := newEnv(t, Options{})
	wantDate := func(r rawResp, at time.Time, what string) {
		t.Helper()
		if got := r.header.Get("Date"); got != at.UTC().Format(http.TimeFormat) {
			t.Fatalf("%s: Date %q, want %q", what, got, at.UTC().Format(http.TimeFormat))
		}
		if got, err := http.ParseTime(r.header.Get("Date")); err != nil || !got.Equal(at.Truncate(time.Second)) {
			t.Fatalf("%s: Date does not parse back: %v %v", what, got, err)
		}
	}
	r := e.do(t, "GET", "/v1/products", "")
	wantDate(r, testEpoch, "list")
	if !strings.HasPrefix(r.header.Get("Request-Id"), "req_") {
		t.Fatalf("Request-Id %q", r.header.Get("Request-Id"))
	}
	e.AdvanceClock(36*time.Hour + 1500*time.Millisecond)
	now := e.Now()
	wantDate(e.do(t, "GET", "/v1/products/prod_nope", ""), now, "404")
	wantDate(e.do(t, "GET", "/v1/products", "", "Authorization", ""), now, "401")
	wantDate(e.do(t, "GET", "/v1/products", "limit=0"), now, "spec/limit refusal")
	r = e.do(t, "GET", "/v1/products", "", "Stripe-Account", "acct_nope")
	if r.status != http.StatusForbidden || r.header.Get("Request-Id") == "" {
		t.Fatalf("unknown account: %d %v", r.status, r.header)
	}
	wantDate(r, now, "403")

	created := e.do(t, "POST", "/v1/products", "name=Gold", "Idempotency-Key", "k1")
	wantDate(created, now, "create")
	if created.obj["created"] != float64(now.Unix()) {
		t.Fatalf("created %v, want %d", created.obj["created"], now.Unix())
	}
	// Going back in time moves the Date back too; a replay is answered now.
	back := testEpoch.Add(-24 * time.Hour)
	e.SetClock(back)
	replay := e.do(t, "POST", "/v1/products", "name=Gold", "Idempotency-Key", "k1")
	if replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("not replayed: %v", replay.header)
	}
	wantDate(replay, back, "replay")

	req, _ := http.NewRequest("GET", e.URL+"/_emulator/clock", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.Header.Get("Date") != back.UTC().Format(http.TimeFormat) {
		t.Fatalf("control API Date %q", resp.Header.Get("Date"))
	}
}

// Lists are newest first by `created` even when objects were not stored in
// that order (the clock set back); objects of the same second are listed
// latest first, and pagination (starting_after, ending_before) walks that
// order. Objects and events take `created` from the emulator clock.
func TestListsAreNewestFirstByCreated(t *testing.T) {
	e := newEnv(t, Options{})
	p1 := e.newProduct(t, "p1", nil) // T
	p2 := e.newProduct(t, "p2", nil) // T, stored after p1
	e.SetClock(testEpoch.Add(-time.Hour))
	p3 := e.newProduct(t, "p3", nil) // T-1h, stored last but oldest
	e.SetClock(testEpoch.Add(time.Hour))
	p4 := e.newProduct(t, "p4", nil) // T+1h
	if p3.Created != testEpoch.Add(-time.Hour).Unix() || p4.Created != testEpoch.Add(time.Hour).Unix() || p1.Created != testEpoch.Unix() {
		t.Fatalf("created from the clock: %d %d %d", p1.Created, p3.Created, p4.Created)
	}
	want := []string{p4.ID, p2.ID, p1.ID, p3.ID}
	if got := ids(t, e.do(t, "GET", "/v1/products", "")); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	// One by one with starting_after.
	var walked []string
	after := ""
	for {
		q := "limit=1"
		if after != "" {
			q += "&starting_after=" + after
		}
		r := e.do(t, "GET", "/v1/products", q)
		page := ids(t, r)
		walked = append(walked, page...)
		if r.obj["has_more"] != true {
			break
		}
		after = page[len(page)-1]
	}
	if fmt.Sprint(walked) != fmt.Sprint(want) {
		t.Fatalf("walked %v, want %v", walked, want)
	}
	r := e.do(t, "GET", "/v1/products", "limit=1&ending_before="+p3.ID)
	if got := ids(t, r); len(got) != 1 || got[0] != p1.ID || r.obj["has_more"] != true {
		t.Fatalf("ending_before: %v %s", got, r.body)
	}
	// created filters see the clock's timestamps.
	if got := ids(t, e.do(t, "GET", "/v1/products", fmt.Sprintf("created[lt]=%d", testEpoch.Unix()))); len(got) != 1 || got[0] != p3.ID {
		t.Fatalf("created[lt]: %v", got)
	}
	// Events: same order, same clock.
	r = e.do(t, "GET", "/v1/events", "type=product.created")
	var objs []string
	for _, d := range r.obj["data"].([]any) {
		ev := d.(map[string]any)
		obj := ev["data"].(map[string]any)["object"].(map[string]any)
		if ev["created"] != obj["created"] {
			t.Fatalf("event created %v, object created %v", ev["created"], obj["created"])
		}
		objs = append(objs, obj["id"].(string))
	}
	if fmt.Sprint(objs) != fmt.Sprint(want) {
		t.Fatalf("events order %v, want %v", objs, want)
	}
}

// A backfill of a connected account: each list endpoint with Stripe-Account
// lists that account's objects only (limit, starting_after, has_more),
// single GETs answer them with the header and 404 without it, GET
// /v1/subscriptions leaves canceled ones out unless status=all or canceled,
// balance transactions filter on an automatic payout, and the account's
// events carry `account`.
func TestConnectedAccountBackfill(t *testing.T) {
	e := newEnv(t, Options{})
	acctObj, err := e.sc.Accounts.New(&stripe.AccountParams{Email: stripe.String("tenant@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	acct := acctObj.ID
	as := func(p *stripe.Params) *stripe.Params { p.StripeAccount = stripe.String(acct); return p }
	hdr := []string{"Stripe-Account", acct}

	// Platform objects that must not show up.
	platformProd := e.newProduct(t, "Platform", nil)
	platformCus := e.customer(t, "platform@example.com", "")

	pp := &stripe.ProductParams{Name: stripe.String("Seat")}
	as(&pp.Params)
	prod, err := e.sc.Products.New(pp)
	if err != nil {
		t.Fatal(err)
	}
	prp := monthly(prod.ID, 1500)
	as(&prp.Params)
	price := e.newPrice(t, prp)
	newCus := func(email string) *stripe.Customer {
		cp := &stripe.CustomerParams{Email: stripe.String(email), PaymentMethod: stripe.String(TestCardBypassPending),
			InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(TestCardBypassPending)}}
		as(&cp.Params)
		cus, err := e.sc.Customers.New(cp)
		if err != nil {
			t.Fatal(err)
		}
		return cus
	}
	subscribe := func(cus string) *stripe.Subscription {
		sp := &stripe.SubscriptionParams{Customer: stripe.String(cus), Items: []*stripe.SubscriptionItemsParams{{Price: stripe.String(price.ID)}}}
		sp.AddExpand("latest_invoice")
		as(&sp.Params)
		sub, err := e.sc.Subscriptions.New(sp)
		if err != nil || sub.Status != "active" {
			t.Fatalf("subscription %+v %v", sub, err)
		}
		return sub
	}
	e.AdvanceClock(time.Second)
	a := newCus("a@example.com")
	subA := subscribe(a.ID)
	e.AdvanceClock(time.Second)
	b := newCus("b@example.com")
	subB := subscribe(b.ID)
	e.AdvanceClock(time.Second)
	gone := newCus("gone@example.com")

	// Changes that emit the *.updated events.
	if r := e.do(t, "POST", "/v1/customers/"+a.ID, "name=Alice", hdr...); r.status != 200 {
		t.Fatalf("customer update: %s", r.body)
	}
	if r := e.do(t, "POST", "/v1/subscriptions/"+subA.ID, "metadata[seat]=1", hdr...); r.status != 200 {
		t.Fatalf("subscription update: %s", r.body)
	}
	if r := e.do(t, "POST", "/v1/invoices/"+subA.LatestInvoice.ID, "metadata[k]=v", hdr...); r.status != 200 {
		t.Fatalf("invoice update: %s", r.body)
	}
	if r := e.do(t, "POST", "/v1/accounts/"+acct, "metadata[tier]=gold"); r.status != 200 {
		t.Fatalf("account update: %s", r.body)
	}
	rp := &stripe.RefundParams{Charge: stripe.String(subA.LatestInvoice.Charge.ID), Amount: stripe.Int64(500)}
	as(&rp.Params)
	refund, err := e.sc.Refunds.New(rp)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "POST", "/v1/refunds/"+refund.ID, "metadata[why]=seat", hdr...); r.status != 200 {
		t.Fatalf("refund update: %s", r.body)
	}
	if r := e.do(t, "DELETE", "/v1/subscriptions/"+subB.ID, "", hdr...); r.status != 200 || r.obj["status"] != "canceled" {
		t.Fatalf("cancel: %s", r.body)
	}
	if r := e.do(t, "DELETE", "/v1/customers/"+gone.ID, "", hdr...); r.status != 200 {
		t.Fatalf("delete customer: %s", r.body)
	}
	e.AdvanceClock(3 * 24 * time.Hour)
	pos, err := e.SimulatePayout(acct, PayoutOptions{})
	if err != nil || len(pos) != 1 {
		t.Fatalf("payout %v %v", pos, err)
	}
	po := pos[0]

	// Each list with Stripe-Account: exactly the account's objects.
	chA, chB := subA.LatestInvoice.Charge.ID, subB.LatestInvoice.Charge.ID
	var txns []string
	for _, id := range []string{chA, chB} {
		r := e.do(t, "GET", "/v1/charges/"+id, "", hdr...)
		txns = append(txns, r.obj["balance_transaction"].(string))
	}
	txns = append(txns, refund.BalanceTransaction.ID, po.Str("balance_transaction"))
	lists := []struct {
		path, query string
		want        []string // newest first
	}{
		{"/v1/customers", "", []string{b.ID, a.ID}},
		{"/v1/subscriptions", "", []string{subA.ID}},
		{"/v1/subscriptions", "status=all", []string{subB.ID, subA.ID}},
		{"/v1/subscriptions", "status=canceled", []string{subB.ID}},
		{"/v1/invoices", "", []string{subB.LatestInvoice.ID, subA.LatestInvoice.ID}},
		{"/v1/charges", "", []string{chB, chA}},
		{"/v1/refunds", "", []string{refund.ID}},
		{"/v1/payouts", "", []string{po.ID()}},
		{"/v1/products", "", []string{prod.ID}},
		{"/v1/prices", "", []string{price.ID}},
		{"/v1/balance_transactions", "", []string{txns[3], txns[2], txns[1], txns[0]}},
		{"/v1/balance_transactions", "payout=" + po.ID(), []string{txns[3], txns[2], txns[1], txns[0]}},
	}
	for _, l := range lists {
		t.Run(strings.TrimPrefix(l.path, "/v1/")+"?"+l.query, func(t *testing.T) {
			q := "limit=100"
			if l.query != "" {
				q += "&" + l.query
			}
			if got := ids(t, e.do(t, "GET", l.path, q, hdr...)); fmt.Sprint(got) != fmt.Sprint(l.want) {
				t.Fatalf("got %v, want %v", got, l.want)
			}
			// Page by page (limit=1, starting_after): the same, has_more
			// false on the last page only.
			var walked []string
			after := ""
			for i := 0; i <= len(l.want); i++ {
				pq := "limit=1"
				if l.query != "" {
					pq += "&" + l.query
				}
				if after != "" {
					pq += "&starting_after=" + after
				}
				r := e.do(t, "GET", l.path, pq, hdr...)
				page := ids(t, r)
				walked = append(walked, page...)
				if r.obj["has_more"] != true {
					break
				}
				after = page[len(page)-1]
			}
			if fmt.Sprint(walked) != fmt.Sprint(l.want) {
				t.Fatalf("paged %v, want %v", walked, l.want)
			}
			// Without the header: the platform's, none of these.
			for _, id := range ids(t, e.do(t, "GET", l.path, "limit=100")) {
				for _, w := range l.want {
					if id == w {
						t.Fatalf("the platform's list has %s", id)
					}
				}
			}
		})
	}
	if got := ids(t, e.do(t, "GET", "/v1/customers", "")); len(got) != 1 || got[0] != platformCus.ID {
		t.Fatalf("platform customers %v", got)
	}
	if got := ids(t, e.do(t, "GET", "/v1/products", "")); len(got) != 1 || got[0] != platformProd.ID {
		t.Fatalf("platform products %v", got)
	}

	// Single objects: with the header, themselves; without, 404.
	singles := map[string]string{
		"/v1/customers/" + a.ID: "customer", "/v1/subscriptions/" + subB.ID: "subscription",
		"/v1/invoices/" + subA.LatestInvoice.ID: "invoice", "/v1/charges/" + chA: "charge",
		"/v1/refunds/" + refund.ID: "refund", "/v1/payouts/" + po.ID(): "payout", "/v1/products/" + prod.ID: "product",
		"/v1/prices/" + price.ID: "price", "/v1/balance_transactions/" + txns[0]: "balance_transaction",
	}
	for path, kind := range singles {
		id := path[strings.LastIndex(path, "/")+1:]
		if r := e.do(t, "GET", path, "", hdr...); r.status != 200 || r.obj["id"] != id || r.obj["object"] != kind {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		if r := e.do(t, "GET", path, ""); r.status != 404 || r.errField("code") != "resource_missing" {
			t.Fatalf("GET %s from the platform: %d %s", path, r.status, r.body)
		}
	}
	if r := e.do(t, "GET", "/v1/customers/"+gone.ID, "", hdr...); r.status != 200 || string(r.body) != `{"deleted":true,"id":"`+gone.ID+`","object":"customer"}` {
		t.Fatalf("deleted customer: %d %s", r.status, r.body)
	}
	for _, h := range [][]string{nil, hdr} {
		if r := e.do(t, "GET", "/v1/accounts/"+acct, "", h...); r.status != 200 || r.obj["id"] != acct || r.obj["object"] != "account" ||
			r.obj["metadata"].(map[string]any)["tier"] != "gold" {
			t.Fatalf("GET account (%v): %d %s", h, r.status, r.body)
		}
	}

	// The account's events, with `account`, data.object the object.
	seen := map[string]string{}
	it := e.do(t, "GET", "/v1/events", "limit=100", hdr...)
	if it.obj["has_more"] != false {
		t.Fatalf("more than 100 events")
	}
	for _, d := range it.obj["data"].([]any) {
		ev := d.(map[string]any)
		if ev["account"] != acct {
			t.Fatalf("%s without account: %v", ev["type"], ev["account"])
		}
		obj := ev["data"].(map[string]any)["object"].(map[string]any)
		seen[ev["type"].(string)] = obj["object"].(string)
	}
	for typ, kind := range map[string]string{
		"customer.created": "customer", "customer.updated": "customer", "customer.deleted": "customer",
		"customer.subscription.created": "subscription", "customer.subscription.updated": "subscription",
		"customer.subscription.deleted": "subscription", "invoice.created": "invoice", "invoice.finalized": "invoice",
		"invoice.paid": "invoice", "invoice.updated": "invoice", "charge.succeeded": "charge", "charge.refunded": "charge",
		"charge.refund.updated": "refund", "payout.created": "payout", "payout.paid": "payout", "account.updated": "account",
		"product.created": "product", "price.created": "price",
	} {
		if seen[typ] != kind {
			t.Errorf("event %s: data.object %q, want %q", typ, seen[typ], kind)
		}
	}
	for _, typ := range []string{"refund.created", "refund.updated"} {
		if _, ok := seen[typ]; ok {
			t.Errorf("%s emitted for a refund of a charge (2023-10-16 sends it only for refunds without a charge)", typ)
		}
	}
	for _, ev := range e.events(t, e.PlatformAccount()) {
		if ev.Str("type") == "account.updated" || ev.Str("type") == "charge.refunded" {
			t.Errorf("the platform has %s", ev.Str("type"))
		}
	}
}
