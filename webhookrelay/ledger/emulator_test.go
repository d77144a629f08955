package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/ledger"
)

const testKey = "sk_test_ledger"

// scenario is one account's month on the emulator: three customers on subscriptions (one card
// fails, its invoice is voided), a renewal, a one-off charge, two refunds of one charge, and the
// automatic payout of it all, paid. Events are what the emulator emitted, in order, as raw JSON.
type scenario struct {
	emu     *emulator.Server
	client  *stripeapi.Client
	account string // "" for the platform
	owner   ledger.Owner

	mu     sync.Mutex
	events [][]byte

	// What Stripe (the emulator) says, to check the records against.
	invoiceOfCharge map[string]string // charge -> invoice ("" for the one-off)
	customerOf      map[string]string // charge -> customer
	chargeB         string            // the refunded charge
	voided          string            // the voided invoice
	payout          emulator.Object
}

func (s *scenario) do(t *testing.T, method, path string, form url.Values) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, s.emu.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.account != "" {
		req.Header.Set("Stripe-Account", s.account)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *scenario) eventsCopy() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.events...)
}

// builder returns a Builder on the scenario's emulator whose reads are counted.
func (s *scenario) builder() (*ledger.Builder, *counting) {
	c := &counting{LedgerAPI: s.client.Ledger(s.account)}
	return &ledger.Builder{Stripe: func(account string) stripeapi.LedgerAPI {
		if account != s.account {
			panic("records of " + s.account + " asked for the reads of " + account)
		}
		return c
	}}, c
}

func newScenario(t *testing.T, connected bool) *scenario {
	t.Helper()
	ctx := context.Background()
	emu := emulator.Start(t, emulator.Options{})
	client, err := stripeapi.New(stripeapi.Config{Name: "ledger", APIKey: testKey, BaseURL: emu.URL,
		Budget: stripeapi.Budget{RequestsPerSecond: 1e6, Burst: 1e6}, Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{emu: emu, client: client, owner: ledger.Owner{Region: "us"},
		invoiceOfCharge: map[string]string{}, customerOf: map[string]string{}}
	emu.AddEventListener(emulator.EventListener{Committed: func(ev emulator.Object) {
		raw, err := json.Marshal(ev)
		if err != nil {
			panic(err)
		}
		s.mu.Lock()
		s.events = append(s.events, raw)
		s.mu.Unlock()
	}})
	tags := func(name string) stripeapi.Tags {
		return stripeapi.Tags{UID: "uid-" + name, NamespacedName: "shop/" + name, Kind: "LedgerTest"}
	}
	var api stripeapi.Interface = client
	if connected {
		acct, err := client.CreateAccount(ctx, stripeapi.AccountCreateParams{IdempotencyKey: "acct", Tags: tags("acme"),
			Type: "express", Country: "US", Email: "billing@acme.example", Capabilities: []string{"card_payments", "transfers"}})
		if err != nil {
			t.Fatal(err)
		}
		s.account, s.owner = acct.ID, ledger.Owner{Tenant: "shop/acme", Region: "eu"}
		api = client.ForAccount(acct.ID)
	}
	prod, err := api.CreateProduct(ctx, stripeapi.ProductCreateParams{IdempotencyKey: "prod", Tags: tags("gold"), Name: "Gold"})
	if err != nil {
		t.Fatal(err)
	}
	price := func(key string, cents int64) string {
		p, err := api.CreatePrice(ctx, stripeapi.PriceCreateParams{IdempotencyKey: key, Tags: tags(key), ProductID: prod.ID,
			Currency: "usd", UnitAmount: &cents, Recurring: &stripeapi.Recurring{Interval: "month"}})
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	small, big := price("small", 1000), price("big", 2000)
	customer := func(name, card string) string {
		cus, err := api.CreateCustomer(ctx, stripeapi.CustomerCreateParams{IdempotencyKey: "cus-" + name, Tags: tags(name), Email: name + "@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := emu.AttachTestCard(s.account, cus.ID, card, emulator.AttachCardOptions{Default: true}); err != nil {
			t.Fatal(err)
		}
		return cus.ID
	}
	subscribe := func(name, cus, priceID string) *stripeapi.Subscription {
		sub, err := api.CreateSubscription(ctx, stripeapi.SubscriptionCreateParams{IdempotencyKey: "sub-" + name, Tags: tags(name),
			CustomerID: cus, Items: []stripeapi.SubscriptionItemParams{{PriceID: priceID}}})
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	// paid records what Stripe says of a paid invoice: its charge.
	paid := func(invoice, cus string) string {
		inv := s.do(t, http.MethodGet, "/v1/invoices/"+invoice, nil)
		ch, _ := inv["charge"].(string)
		if inv["status"] != "paid" || ch == "" {
			t.Fatalf("invoice %s: status %v charge %v, want paid by a charge", invoice, inv["status"], inv["charge"])
		}
		s.invoiceOfCharge[ch], s.customerOf[ch] = invoice, cus
		return ch
	}

	a, b := customer("a", emulator.TestCardVisa), customer("b", emulator.TestCardVisa)
	subA := subscribe("a", a, small)
	paid(subA.LatestInvoiceID, a)
	subB := subscribe("b", b, big)
	s.chargeB = paid(subB.LatestInvoiceID, b)

	// A card that fails: charge.failed, invoice.payment_failed; the open invoice is then voided.
	c := customer("c", emulator.TestCardFailing)
	subC := subscribe("c", c, small)
	s.voided = subC.LatestInvoiceID
	if inv := s.do(t, http.MethodPost, "/v1/invoices/"+s.voided+"/void", nil); inv["status"] != "void" {
		t.Fatalf("void: %v", inv["status"])
	}

	// A one-off charge on no invoice.
	oneOff, err := emu.SimulateCharge(s.account, emulator.SimulatedCharge{Amount: 500, Customer: a, Description: "setup fee"})
	if err != nil {
		t.Fatal(err)
	}
	s.invoiceOfCharge[oneOff.ID()], s.customerOf[oneOff.ID()] = "", a

	// Two refunds of B's charge: two charge.refunded events.
	for _, amount := range []string{"300", "200"} {
		s.do(t, http.MethodPost, "/v1/refunds", url.Values{"charge": {s.chargeB}, "amount": {amount}})
	}

	// A's renewal (the clock moves to the period's end), then the funds settle and are paid out.
	renewed, err := emu.AdvanceSubscription(s.account, subA.ID)
	if err != nil {
		t.Fatal(err)
	}
	paid(renewed.Str("latest_invoice"), a)
	emu.AdvanceClock(3 * 24 * time.Hour)
	pos, err := emu.SimulatePayout(s.account, emulator.PayoutOptions{LeavePending: true})
	if err != nil || len(pos) != 1 {
		t.Fatalf("payouts %v, %v: want one", pos, err)
	}
	if s.payout, err = emu.PayPayout(s.account, pos[0].ID()); err != nil {
		t.Fatal(err)
	}
	return s
}

// buildAll turns events into records, failing on any error.
func buildAll(t *testing.T, b *ledger.Builder, owner ledger.Owner, events [][]byte) []ledger.Record {
	t.Helper()
	var out []ledger.Record
	for _, raw := range events {
		recs, err := build(t, b, raw, owner)
		if err != nil {
			t.Fatalf("event %.200s: %v", raw, err)
		}
		out = append(out, recs...)
	}
	return out
}

func byKind(recs []ledger.Record) map[ledger.Kind][]ledger.Record {
	out := map[ledger.Kind][]ledger.Record{}
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.ID] {
			seen[r.ID] = true
			out[r.Kind] = append(out[r.Kind], r)
		}
	}
	return out
}

// Pins: a month of an account (the platform, or a tenant's connected account through Stripe-Account)
// gives one record per fact, and the paid automatic payout's deposit balances to the cent (lines net
// = the payout's amount; gross, refunds and fees as Stripe charged them), ties every charge to the
// invoice it paid and every refund to its charge and invoice, with no read per charge (the listing's
// expanded sources carry the ties). Every record validates against the schema file.
func TestDepositBalancesAndTiesInvoices(t *testing.T) {
	for _, tc := range []struct {
		name      string
		connected bool
	}{
		{"platform account", false},
		{"tenant's connected account", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, tc.connected)
			b, reads := s.builder()
			recs := buildAll(t, b, s.owner, s.eventsCopy())
			kinds := byKind(recs)

			for _, r := range recs {
				if r.Account != s.account || r.Region != s.owner.Region || (s.account == "" && r.Tenant != "platform") || (s.account != "" && r.Tenant != "shop/acme") {
					t.Errorf("record %s (%s): account %q tenant %q region %q", r.ID, r.Kind, r.Account, r.Tenant, r.Region)
				}
			}
			counts := map[ledger.Kind]int{}
			for k, rs := range kinds {
				counts[k] = len(rs)
			}
			want := map[ledger.Kind]int{ledger.KindCharge: 4, ledger.KindChargeFailed: 1, ledger.KindInvoicePaid: 3,
				ledger.KindInvoicePaymentFailed: 1, ledger.KindInvoiceVoided: 1, ledger.KindRefund: 2, ledger.KindDeposit: 1}
			if !reflect.DeepEqual(counts, want) {
				t.Errorf("distinct records by kind %v, want %v", counts, want)
			}
			for _, r := range kinds[ledger.KindCharge] {
				if r.Invoice != s.invoiceOfCharge[r.Charge] || r.Customer != s.customerOf[r.Charge] || r.Fee == nil || r.Net == nil || *r.Net != r.Amount-*r.Fee {
					t.Errorf("charge record %+v: want invoice %q customer %q, fee and net", r, s.invoiceOfCharge[r.Charge], s.customerOf[r.Charge])
				}
			}
			for _, r := range kinds[ledger.KindInvoicePaid] {
				if s.invoiceOfCharge[r.Charge] != r.Invoice {
					t.Errorf("invoice_paid %s: charge %s, which Stripe says paid %q", r.Invoice, r.Charge, s.invoiceOfCharge[r.Charge])
				}
			}
			if v := kinds[ledger.KindInvoiceVoided]; len(v) == 1 && (v[0].Invoice != s.voided || v[0].Amount != 1000) {
				t.Errorf("invoice_voided %+v: want %s, 1000 outstanding", v[0], s.voided)
			}
			var refunded []int64
			for _, r := range kinds[ledger.KindRefund] {
				refunded = append(refunded, r.Amount)
				if r.Charge != s.chargeB || r.Invoice != s.invoiceOfCharge[s.chargeB] || r.Refund == "" || r.BalanceTransaction == "" {
					t.Errorf("refund record %+v: want charge %s and its invoice", r, s.chargeB)
				}
			}
			sort.Slice(refunded, func(i, j int) bool { return refunded[i] < refunded[j] })
			if !reflect.DeepEqual(refunded, []int64{200, 300}) {
				t.Errorf("refunds %v, want 200 and 300", refunded)
			}

			deposits := kinds[ledger.KindDeposit]
			if len(deposits) != 1 {
				t.Fatalf("%d deposits", len(deposits))
			}
			d := deposits[0]
			// 1000 + 2000 + 1000 (A's renewal) + 500, less 300 + 200 refunded, less Stripe's fees
			// (2.9% + 30¢ each: 59 + 88 + 59 + 45).
			wantTotals := ledger.DepositTotals{Gross: 4500, Refunds: -500, Fees: 251, Net: 3749}
			if d.Payout != s.payout.ID() || d.Amount != s.payout.Int("amount") || d.Amount != 3749 || d.Deposit.Totals != wantTotals {
				t.Fatalf("deposit of %s: amount %d totals %+v; want the payout's %d, totals %+v", d.Payout, d.Amount, d.Deposit.Totals, s.payout.Int("amount"), wantTotals)
			}
			if d.BalanceTransaction != s.payout.Str("balance_transaction") || *d.Net != d.Amount || *d.Fee != 251 {
				t.Errorf("deposit %+v: want the payout's own transaction %s and fee/net", d, s.payout.Str("balance_transaction"))
			}
			var net int64
			tied := map[string]string{}
			for _, l := range d.Deposit.Lines {
				net += l.Net
				if l.BalanceTransaction == d.BalanceTransaction {
					t.Errorf("the payout's own transaction is a line")
				}
				switch l.ReportingCategory {
				case "charge":
					tied[l.Charge] = l.Invoice
					if l.Customer != s.customerOf[l.Charge] || l.Source != l.Charge {
						t.Errorf("charge line %+v: want customer %s", l, s.customerOf[l.Charge])
					}
				case "refund":
					if l.Charge != s.chargeB || l.Invoice != s.invoiceOfCharge[s.chargeB] || l.Customer != s.customerOf[s.chargeB] || l.Refund != l.Source {
						t.Errorf("refund line %+v: want charge %s, its invoice and customer", l, s.chargeB)
					}
				default:
					t.Errorf("line of category %s", l.ReportingCategory)
				}
			}
			if net != d.Amount {
				t.Errorf("lines net %d, payout %d", net, d.Amount)
			}
			if !reflect.DeepEqual(tied, s.invoiceOfCharge) {
				t.Errorf("charges tied to invoices %v, Stripe says %v", tied, s.invoiceOfCharge)
			}
			cats := map[string]ledger.CategoryTotal{}
			for _, c := range d.Deposit.Categories {
				cats[c.ReportingCategory] = c
			}
			if cats["charge"].Count != 4 || cats["charge"].Net != 4500-251 || cats["refund"].Count != 2 || cats["refund"].Amount != -500 || len(cats) != 2 {
				t.Errorf("categories %+v", d.Deposit.Categories)
			}
			if n := reads.n("GetCharge"); n != 0 {
				t.Errorf("%d GetCharge reads: the listing's expanded sources tie every line", n)
			}
			if n := reads.n("ListBalanceTransactionsForPayout"); n != 2 {
				t.Errorf("%d payout listings, want 2 (payout.paid and payout.reconciliation_completed)", n)
			}
		})
	}
}

// Pins: nothing posts twice. The same events delivered twice, in reverse order, or both, give the
// same set of record ids as one pass in order, and records with the same id are the same but for
// eventID and eventType: the two charge.refunded events both give both refunds (read from Stripe),
// payout.paid and payout.reconciliation_completed give one deposit.
func TestReplaysDuplicatesAndReorderPostNothingTwice(t *testing.T) {
	s := newScenario(t, true)
	b, _ := s.builder()
	events := s.eventsCopy()
	reversed := make([][]byte, len(events))
	for i, ev := range events {
		reversed[len(events)-1-i] = ev
	}
	var twice [][]byte
	for _, ev := range events {
		twice = append(twice, ev, ev)
	}
	norm := func(r ledger.Record) ledger.Record { r.EventID, r.EventType = "", ""; return r }
	posted := func(recs []ledger.Record) map[string]ledger.Record {
		out := map[string]ledger.Record{}
		for _, r := range recs {
			if prev, ok := out[r.ID]; ok && !reflect.DeepEqual(prev, norm(r)) {
				t.Errorf("two records with id %s differ:\n%+v\n%+v", r.ID, prev, norm(r))
			}
			out[r.ID] = norm(r)
		}
		return out
	}
	inOrder := buildAll(t, b, s.owner, events)
	want := posted(inOrder)
	var refundEvents, refundRecords int
	for _, r := range inOrder {
		if r.EventType == "charge.refunded" {
			refundRecords++
		}
	}
	for _, raw := range events {
		if strings.Contains(string(raw), `"type":"charge.refunded"`) {
			refundEvents++
		}
	}
	if refundEvents != 2 || refundRecords != 4 {
		t.Errorf("%d charge.refunded events gave %d records; want 2 events each giving both refunds", refundEvents, refundRecords)
	}
	for _, tc := range []struct {
		name   string
		events [][]byte
	}{
		{"every event twice", twice},
		{"in reverse order", reversed},
		{"in reverse order, then again in order", append(append([][]byte(nil), reversed...), events...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := posted(buildAll(t, b, s.owner, tc.events))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%d distinct records, want the %d of one pass in order", len(got), len(want))
			}
		})
	}
}

// Pins: a manual payout is reported as payout_unreconcilable without asking Stripe for its
// transactions, which Stripe refuses for a manual payout ("for automatic Stripe payouts only").
func TestManualPayoutIsUnreconcilable(t *testing.T) {
	emu := emulator.Start(t, emulator.Options{})
	client, err := stripeapi.New(stripeapi.Config{APIKey: testKey, BaseURL: emu.URL, Budget: stripeapi.Budget{RequestsPerSecond: 1e6, Burst: 1e6}})
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{emu: emu, client: client, owner: ledger.Owner{Region: "us"}}
	var paidEvent []byte
	emu.AddEventListener(emulator.EventListener{Committed: func(ev emulator.Object) {
		if ev.Str("type") == "payout.paid" {
			paidEvent, _ = json.Marshal(ev)
		}
	}})
	if _, err := emu.SimulateCharge("", emulator.SimulatedCharge{Amount: 5000, Card: emulator.TestCardBypassPending}); err != nil {
		t.Fatal(err)
	}
	po := s.do(t, http.MethodPost, "/v1/payouts", url.Values{"amount": {"1200"}, "currency": {"usd"}})
	if _, err := emu.PayPayout("", po["id"].(string)); err != nil {
		t.Fatal(err)
	}
	if paidEvent == nil {
		t.Fatal("no payout.paid event")
	}
	b, reads := s.builder()
	recs, err := build(t, b, paidEvent, s.owner)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %+v, %v", recs, err)
	}
	r := recs[0]
	if r.Kind != ledger.KindPayoutUnreconcilable || r.Payout != po["id"] || r.Amount != 1200 || r.Reason != "manual_payout" ||
		r.ID != ledger.RecordID(ledger.KindPayoutUnreconcilable, "", r.Payout, "paid") {
		t.Errorf("record %+v", r)
	}
	if n := reads.n("ListBalanceTransactionsForPayout"); n != 0 {
		t.Errorf("%d listings of a manual payout's transactions", n)
	}
	_, err = client.Ledger("").ListBalanceTransactionsForPayout(context.Background(), r.Payout)
	var apiErr *stripeapi.Error
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != http.StatusBadRequest {
		t.Errorf("listing a manual payout's transactions: %v, want Stripe's 400", err)
	}
}
