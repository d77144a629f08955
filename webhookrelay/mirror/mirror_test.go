package mirror_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/pgtest"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
)

// TestMirror runs the mirror's behaviours on one private PostgreSQL (a database per subtest) and
// the Stripe emulator.
func TestMirror(t *testing.T) {
	pg := pgtest.Start(t)
	t.Run("EventsOutOfOrderAndDuplicates", func(t *testing.T) { testEventsOutOfOrder(t, pg) })
	t.Run("SameSecondIsRefetched", func(t *testing.T) { testSameSecond(t, pg) })
	t.Run("RebuildFromTheStore", func(t *testing.T) { testRebuild(t, pg) })
	t.Run("BackfillResumes", func(t *testing.T) { testBackfillResumes(t, pg) })
	t.Run("RevalidationRepairsDrift", func(t *testing.T) { testRevalidation(t, pg) })
	t.Run("Residency", func(t *testing.T) { testResidency(t, pg) })
	t.Run("InvoicesAndTheirPayout", func(t *testing.T) { testInvoicePayout(t, pg) })
	t.Run("OneMirrorPerSchema", func(t *testing.T) { testOneMirrorPerSchema(t, pg) })
	t.Run("NewTenantIsBackfilled", func(t *testing.T) { testNewTenant(t, pg) })
	t.Run("BackfillAndEventsAtOnce", func(t *testing.T) { testConcurrentWriters(t, pg) })
}

// testConcurrentWriters pins that a backfill and the events' transactions writing the same rows at
// once both commit (found by the demo: a page written in Stripe's order and a batch of events in
// arrival order locked rows in opposite orders, and PostgreSQL aborted one as a deadlock).
func testConcurrentWriters(t *testing.T, pg *pgtest.Server) {
	r := newRig(t, pg)
	acct := r.tenant("acme", "eu")
	r.takeEvents()
	for i := range 300 {
		r.do("POST", "/v1/customers", acct, url.Values{"name": {fmt.Sprint("c", i)}})
	}
	r.store(r.takeEvents()...)
	ctx := context.Background()
	for round := range 3 {
		m := r.mirror("eu", fmt.Sprint("round", round))
		m2, err := mirror.New(mirror.Config{Name: fmt.Sprint("payments/round", round), DB: r.db, Schema: fmt.Sprint("round", round),
			Connection: connection, Region: "eu", Events: r.events, Sources: &sources{rig: r, region: "eu"}, BatchSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		go func() { _, err := m.Backfill(ctx); errs <- err }()
		go func() {
			for {
				n, err := m2.Follow(ctx)
				if err != nil || n == 0 {
					errs <- err
					return
				}
			}
		}()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: a writer failed: %v", round, err)
			}
		}
		if n := len(r.ids(fmt.Sprint("round", round), "customers")); n != 300 {
			t.Fatalf("round %d: %d customers, want 300", round, n)
		}
	}
}

// testNewTenant pins that an account appearing after the backfill (a new tenant, or one whose
// status names its account only now) is listed by the next pass, and only it: the accounts already
// listed are not read again.
func testNewTenant(t *testing.T, pg *pgtest.Server) {
	r := newRig(t, pg)
	first := r.tenant("first", "eu")
	r.do("POST", "/v1/customers", first, url.Values{"name": {"of the first tenant"}})
	m := r.mirror("eu", "stripe_eu")
	ctx := context.Background()
	if _, err := m.Backfill(ctx); err != nil {
		t.Fatal(err)
	}
	second := r.tenant("second", "eu")
	cus := r.do("POST", "/v1/customers", second, url.Values{"name": {"of the second tenant"}}).ID()
	before := r.lists.Load()
	if _, err := m.Backfill(ctx); err != nil {
		t.Fatal(err)
	}
	if row, ok := r.row("stripe_eu", "customers", cus); !ok || row.tenant != "shop/second" {
		t.Fatalf("the new tenant's customer: %+v (found %v), want listed under shop/second", row, ok)
	}
	// One list call per listed type of the new account (8 list endpoints; account is a GET and
	// balance transactions come per payout): none for the first.
	if calls := r.lists.Load() - before; calls != 8 {
		t.Errorf("the second pass made %d list calls, want 8 (the new account's only)", calls)
	}
}

// testOneMirrorPerSchema pins that a schema is kept by one StripeMirror: another one naming it is
// refused (they would share a cursor), and the same mirror (recreated under its name) resumes it.
func testOneMirrorPerSchema(t *testing.T, pg *pgtest.Server) {
	r := newRig(t, pg)
	r.mirror("eu", "shared") // payments/shared
	for _, tc := range []struct {
		name    string
		wantErr bool
	}{{"payments/shared", false}, {"payments/other", true}} {
		m, err := mirror.New(mirror.Config{Name: tc.name, DB: r.db, Schema: "shared", Connection: connection, Region: "eu",
			Events: r.events, Sources: &sources{rig: r, region: "eu"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Migrate(context.Background()); (err != nil) != tc.wantErr {
			t.Errorf("StripeMirror %s on schema shared: Migrate error %v, want error %v", tc.name, err, tc.wantErr)
		}
	}
}

// testEventsOutOfOrder pins the ordering rule: whatever order Stripe delivers events in, and however
// often, the row ends at the latest state; a deletion is recorded and an older update after it does
// not bring the object back.
func testEventsOutOfOrder(t *testing.T, pg *pgtest.Server) {
	r := newRig(t, pg)
	acct := r.tenant("acme", "eu")
	m := r.mirror("eu", "stripe_eu")
	r.takeEvents()

	cus := r.do("POST", "/v1/customers", acct, url.Values{"name": {"v1"}})
	r.emu.AdvanceClock(time.Second)
	r.do("POST", "/v1/customers/"+cus.ID(), acct, url.Values{"name": {"v2"}})
	r.emu.AdvanceClock(time.Second)
	r.do("POST", "/v1/customers/"+cus.ID(), acct, url.Values{"name": {"v3"}})
	gone := r.do("POST", "/v1/customers", acct, url.Values{"name": {"leaves"}})
	r.emu.AdvanceClock(time.Second)
	r.do("POST", "/v1/customers/"+gone.ID(), acct, url.Values{"name": {"leaving"}})
	r.emu.AdvanceClock(time.Second)
	r.do("DELETE", "/v1/customers/"+gone.ID(), acct, nil)
	ev := r.takeEvents()
	if len(ev) != 6 {
		t.Fatalf("emulator emitted %d events, want 6", len(ev))
	}
	created, v2, v3, goneCreated, goneUpdated, goneDeleted := ev[0], ev[1], ev[2], ev[3], ev[4], ev[5]

	// Stripe's order is not delivery order: the newest first, the deletion before the update it
	// follows, and each event once more (a retry the store did not see as one: a mirror rebuilt).
	r.store(v3, goneDeleted, v2, created, goneCreated, goneUpdated)
	follow(t, m)
	row, ok := r.row("stripe_eu", "customers", cus.ID())
	if !ok || row.data["name"] != "v3" || row.deleted {
		t.Fatalf("customer row %+v (found %v), want the latest state, name v3", row, ok)
	}
	if row.tenant != "shop/acme" || row.region != "eu" || row.account != acct {
		t.Errorf("customer row belongs to tenant %q region %q account %q, want shop/acme, eu, %s", row.tenant, row.region, row.account, acct)
	}
	g, ok := r.row("stripe_eu", "customers", gone.ID())
	if !ok || !g.deleted || g.data["name"] != "leaving" {
		t.Fatalf("deleted customer row %+v (found %v), want kept, deleted, with its last content", g, ok)
	}
}

// testSameSecond pins the tie rule: two states of one second (Stripe's precision) in the wrong order
// flag the row, and the refetch writes what Stripe has now.
func testSameSecond(t *testing.T, pg *pgtest.Server) {
	r := newRig(t, pg)
	acct := r.tenant("acme", "eu")
	m := r.mirror("eu", "stripe_eu")
	r.takeEvents()
	cus := r.do("POST", "/v1/customers", acct, url.Values{"name": {"first"}})
	r.do("POST", "/v1/customers/"+cus.ID(), acct, url.Values{"name": {"second"}})
	ev := r.takeEvents()
	r.store(ev[1], ev[0]) // same second, the later one first
	follow(t, m)
	if row, _ := r.row("stripe_eu", "customers", cus.ID()); row.data["name"] != "second" {
		t.Fatalf("before the refetch the row holds %v, want the state delivered first (second) kept", row.data["name"])
	}
	var flagged bool
	if err := r.db.QueryRow(`SELECT refetch FROM stripe_eu.customers WHERE id = $1`, cus.ID()).Scan(&flagged); err != nil || !flagged {
		t.Fatalf("row flagged for a refetch: %v (%v), want true", flagged, err)
	}
	// Stripe moves on meanwhile: the refetch reads the newest state.
	r.do("POST", "/v1/customers/"+cus.ID(), acct, url.Values{"name": {"third"}})
	if n, err := m.RefetchFlagged(context.Background()); err != nil || n != 1 {
		t.Fatalf("RefetchFlagged = %d, %v; want 1", n, err)
	}
	if row, _ := r.row("stripe_eu", "customers", cus.ID()); row.data["name"] != "third" {
		t.Fatalf("after the refetch the row holds %v, want Stripe's (third)", row.data["name"])
	}
}

// testRebuild pins that a mirror is rebuilt from the relay's store: a new schema following the store
// from 0 ends with the same rows, and following it again changes nothing.
func testRebuild(t *testing.T, pg *pgtest.Server) {
	r := newRig(t, pg)
	acct := r.tenant("acme", "eu")
	for i := range 5 {
		cus := r.do("POST", "/v1/customers", acct, url.Values{"name": {fmt.Sprint("c", i)}})
		r.emu.AdvanceClock(time.Second)
		r.do("POST", "/v1/customers/"+cus.ID(), acct, url.Values{"email": {fmt.Sprintf("c%d@example.com", i)}})
	}
	r.store(r.takeEvents()...)
	first := r.mirror("eu", "first")
	follow(t, first)
	if _, err := r.db.Exec(`UPDATE first.mirror_state SET seq = 0`); err != nil {
		t.Fatal(err)
	}
	follow(t, first) // every event again: duplicates
	rebuilt := r.mirror("eu", "rebuilt")
	follow(t, rebuilt)
	var differ int
	if err := r.db.QueryRow(`SELECT count(*) FROM first.customers a FULL JOIN rebuilt.customers b USING (id)
WHERE a.data IS DISTINCT FROM b.data OR a.state_at IS DISTINCT FROM b.state_at`).Scan(&differ); err != nil {
		t.Fatal(err)
	}
	if n := len(r.ids("rebuilt", "customers")); n != 5 || differ != 0 {
		t.Fatalf("rebuilt mirror has %d customers, %d differ from the first mirror's; want 5, 0", n, differ)
	}
	var revisions int
	if err := r.db.QueryRow(`SELECT max(revision) FROM first.customers`).Scan(&revisions); err != nil || revisions != 2 {
		t.Fatalf("max revision after following twice = %d (%v), want 2: duplicates must not rewrite rows", revisions, err)
	}
}

// testBackfillResumes pins resumable backfill: a listing interrupted after its first page (the relay
// stopped) resumes at the second page, not from the start, and ends with every object.
func testBackfillResumes(t *testing.T, pg *pgtest.Server) {
	r := newRig(t, pg)
	acct := r.tenant("acme", "eu")
	const customers = 230
	for i := range customers {
		r.do("POST", "/v1/customers", acct, url.Values{"name": {fmt.Sprint("c", i)}})
	}
	m := r.mirror("eu", "stripe_eu")
	ctx := context.Background()
	// Listing order: the platform is not of this region; the account's listings are account (a GET),
	// then customers (page 1 = list call 1, page 2 = call 2, during which the relay stops).
	stopping, stop := context.WithCancel(ctx)
	r.stopBackfill = stop
	r.interrupt.Store(2)
	if _, err := m.Backfill(stopping); err == nil {
		t.Fatal("Backfill succeeded through an interruption")
	}
	var after string
	var pages int
	if err := r.db.QueryRow(`SELECT starting_after, pages FROM stripe_eu.mirror_backfill WHERE account = $1 AND object_type = 'customer'`, acct).
		Scan(&after, &pages); err != nil {
		t.Fatal(err)
	}
	if after == "" || pages != 1 || len(r.ids("stripe_eu", "customers")) != 100 {
		t.Fatalf("after the failure: cursor %q, %d pages, %d rows; want a cursor after page 1 and its 100 rows", after, pages, len(r.ids("stripe_eu", "customers")))
	}
	r.interrupt.Store(0)
	before := r.lists.Load()
	if _, err := m.Backfill(ctx); err != nil {
		t.Fatal(err)
	}
	// Resumed: customers pages 2 and 3, then one call for each other listed type (all empty but
	// invoices… none here) — count only what the customers listing took.
	var customerPages int
	if err := r.db.QueryRow(`SELECT pages FROM stripe_eu.mirror_backfill WHERE account = $1 AND object_type = 'customer'`, acct).Scan(&customerPages); err != nil {
		t.Fatal(err)
	}
	if customerPages != 3 {
		t.Errorf("customer listing read %d pages in all, want 3 (100+100+30): the second run started over", customerPages)
	}
	if got := len(r.ids("stripe_eu", "customers")); got != customers {
		t.Fatalf("mirror has %d customers after the resumed backfill, want %d", got, customers)
	}
	snap, err := m.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Listings != snap.ListingsTotal || snap.AccountsComplete != 1 || snap.BackfillCompletedAt.IsZero() {
		t.Errorf("snapshot after backfill: %d/%d listings, %d accounts complete; want all complete", snap.Listings, snap.ListingsTotal, snap.AccountsComplete)
	}
	// The second run's list calls: 2 customer pages + one page per other listed type (7 types: product,
	// price, subscription, invoice, charge, refund, payout).
	if calls := r.lists.Load() - before; calls != 2+7 {
		t.Errorf("resumed backfill made %d list calls, want 9", calls)
	}
}

// testRevalidation pins revalidation: a row edited behind the mirror's back is found by the sample
// and rewritten from Stripe; rows that match are left alone.
func testRevalidation(t *testing.T, pg *pgtest.Server) {
	r := newRig(t, pg)
	acct := r.tenant("acme", "eu")
	var ids []string
	for i := range 20 {
		ids = append(ids, r.do("POST", "/v1/customers", acct, url.Values{"name": {fmt.Sprint("c", i)}}).ID())
	}
	m := r.mirror("eu", "stripe_eu")
	ctx := context.Background()
	if _, err := m.Backfill(ctx); err != nil {
		t.Fatal(err)
	}
	r.emu.AdvanceClock(time.Second)
	if _, err := r.db.Exec(`UPDATE stripe_eu.customers SET data = jsonb_set(data, '{name}', '"tampered"') WHERE id = $1`, ids[7]); err != nil {
		t.Fatal(err)
	}
	checked, repaired, err := m.Revalidate(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if checked != 21 || repaired != 1 { // 20 customers and the account
		t.Fatalf("revalidation checked %d rows and repaired %d, want 21 and 1", checked, repaired)
	}
	if row, _ := r.row("stripe_eu", "customers", ids[7]); row.data["name"] != "c7" {
		t.Fatalf("repaired row holds name %v, want Stripe's c7", row.data["name"])
	}
	var name string
	if err := r.db.QueryRow(`SELECT name FROM stripe_eu.customers WHERE id = $1`, ids[7]).Scan(&name); err != nil || name != "c7" {
		t.Fatalf("generated column name = %q (%v), want c7", name, err)
	}
	snap, err := m.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Checked != 21 || snap.Repaired != 1 || snap.RepairedTotal != 1 || snap.LastRevalidation.IsZero() {
		t.Errorf("snapshot's revalidation: checked %d, repaired %d, total %d, at %v; want 21, 1, 1, set", snap.Checked, snap.Repaired, snap.RepairedTotal, snap.LastRevalidation)
	}
}

// testResidency pins isolation: an EU tenant's objects never reach the US mirror, by events or by
// backfill, and the reverse; the platform's own objects are of the connection's region (us).
func testResidency(t *testing.T, pg *pgtest.Server) {
	r := newRig(t, pg)
	eu, us := r.tenant("eu-shop", "eu"), r.tenant("us-shop", "us")
	euMirror, usMirror := r.mirror("eu", "stripe_eu"), r.mirror("us", "stripe_us")
	euOld := r.do("POST", "/v1/customers", eu, url.Values{"name": {"before the mirror (backfill)"}}).ID()
	usOld := r.do("POST", "/v1/customers", us, url.Values{"name": {"before the mirror (backfill)"}}).ID()
	platformOld := r.do("POST", "/v1/customers", "", url.Values{"name": {"the platform's tenant"}}).ID()
	r.takeEvents()
	ctx := context.Background()
	for _, m := range []interface {
		Backfill(context.Context) (int64, error)
	}{euMirror, usMirror} {
		if _, err := m.Backfill(ctx); err != nil {
			t.Fatal(err)
		}
	}
	euNew := r.do("POST", "/v1/customers", eu, url.Values{"name": {"after (event)"}}).ID()
	usNew := r.do("POST", "/v1/customers", us, url.Values{"name": {"after (event)"}}).ID()
	platformNew := r.do("POST", "/v1/customers", "", url.Values{"name": {"after (event)"}}).ID()
	stranger := r.tenantAccountUnknownToTheRelay()
	strangerCus := r.do("POST", "/v1/customers", stranger, url.Values{"name": {"no tenant claims this account"}}).ID()
	r.store(r.takeEvents()...)
	follow(t, euMirror)
	follow(t, usMirror)

	euRows, usRows := r.ids("stripe_eu", "customers"), r.ids("stripe_us", "customers")
	for _, tc := range []struct {
		id, wantIn, what string
	}{
		{euOld, "eu", "EU tenant's customer (backfill)"}, {euNew, "eu", "EU tenant's customer (event)"},
		{usOld, "us", "US tenant's customer (backfill)"}, {usNew, "us", "US tenant's customer (event)"},
		{platformOld, "us", "platform's customer (backfill)"}, {platformNew, "us", "platform's customer (event)"},
		{strangerCus, "", "customer of an account no tenant claims"},
	} {
		if euRows[tc.id] != (tc.wantIn == "eu") || usRows[tc.id] != (tc.wantIn == "us") {
			t.Errorf("%s %s: in EU mirror %v, in US mirror %v; want only in %q", tc.what, tc.id, euRows[tc.id], usRows[tc.id], tc.wantIn)
		}
	}
	var wrongRegion int
	if err := r.db.QueryRow(`SELECT (SELECT count(*) FROM stripe_eu.customers WHERE region <> 'eu') +
	(SELECT count(*) FROM stripe_us.customers WHERE region <> 'us')`).Scan(&wrongRegion); err != nil || wrongRegion != 0 {
		t.Errorf("%d rows of another region (%v)", wrongRegion, err)
	}
}

// tenantAccountUnknownToTheRelay creates a connected account the rig's sources do not know (a tenant
// whose status does not name it yet).
func (r *rig) tenantAccountUnknownToTheRelay() string {
	id := r.tenant("stranger", "eu")
	r.mu.Lock()
	delete(r.accounts, id)
	delete(r.regionOf, id)
	r.mu.Unlock()
	return id
}

// testInvoicePayout pins what a reporting module needs: a tenant's paid invoices joined, through
// their charges' balance transactions, to the automatic payout that paid them out.
func testInvoicePayout(t *testing.T, pg *pgtest.Server) {
	r := newRig(t, pg)
	acct := r.tenant("acme", "eu")
	m := r.mirror("eu", "stripe_eu")
	ctx := context.Background()
	if _, err := m.Backfill(ctx); err != nil { // an empty account: the mirror then follows events
		t.Fatal(err)
	}
	prod := r.do("POST", "/v1/products", acct, url.Values{"name": {"Gold"}})
	price := r.do("POST", "/v1/prices", acct, url.Values{"product": {prod.ID()}, "currency": {"usd"}, "unit_amount": {"1500"},
		"recurring[interval]": {"month"}})
	var invoices []string
	for i := range 2 {
		cus := r.do("POST", "/v1/customers", acct, url.Values{"email": {fmt.Sprintf("buyer%d@example.com", i)}})
		if _, err := r.emu.AttachTestCard(acct, cus.ID(), emulator.TestCardVisa, emulator.AttachCardOptions{Default: true}); err != nil {
			t.Fatal(err)
		}
		sub := r.do("POST", "/v1/subscriptions", acct, url.Values{"customer": {cus.ID()}, "items[0][price]": {price.ID()}})
		invoices = append(invoices, sub.Str("latest_invoice"))
	}
	r.emu.AdvanceClock(3 * 24 * time.Hour)
	payouts, err := r.emu.SimulatePayout(acct, emulator.PayoutOptions{})
	if err != nil || len(payouts) != 1 {
		t.Fatalf("payouts %v, %v: want one", payouts, err)
	}
	r.store(r.takeEvents()...)
	// Stripe sends an invoice's created, finalized and paid in one second: CatchUp refetches those
	// rows, and lists the new payout's balance transactions.
	if err := m.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := r.db.Query(`SELECT i.id, i.amount_paid, p.id, p.status
FROM stripe_eu.invoices i
JOIN stripe_eu.charges c ON c.id = i.charge
JOIN stripe_eu.balance_transactions bt ON bt.id = c.balance_transaction
JOIN stripe_eu.payouts p ON p.id = bt.payout
WHERE i.tenant = 'shop/acme' AND i.status = 'paid' ORDER BY i.created, i.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	got := map[string]string{}
	for rows.Next() {
		var invoice, payout, status string
		var paid int64
		if err := rows.Scan(&invoice, &paid, &payout, &status); err != nil {
			t.Fatal(err)
		}
		if paid != 1500 || status != "paid" {
			t.Errorf("invoice %s: paid %d by payout %s (%s), want 1500 by a paid payout", invoice, paid, payout, status)
		}
		got[invoice] = payout
	}
	for _, in := range invoices {
		if got[in] != payouts[0].ID() {
			t.Errorf("invoice %s joined to payout %q, want %s", in, got[in], payouts[0].ID())
		}
	}
}
