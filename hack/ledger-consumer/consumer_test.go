package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/cloudip/stripe-operator/webhookrelay/ledger"
)

// Secrets as a ledger sink's Secret holds them.
var (
	oldSecret   = "whsec_" + base64.StdEncoding.EncodeToString([]byte("old-ledger-secret-32-bytes-long!"))
	newSecret   = "whsec_" + base64.StdEncoding.EncodeToString([]byte("new-ledger-secret-32-bytes-long!"))
	otherSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("someone-else-entirely-different"))
)

var at = time.Date(2026, 5, 4, 9, 30, 1, 250e6, time.UTC)

// The records are made with the relay's own type (webhookrelay/ledger), so the consumer's struct is
// pinned to decode what the relay sends.

func charge() ledger.Record {
	return ledger.Record{Schema: ledger.SchemaVersion, ID: ledger.RecordID(ledger.KindCharge, "acct_1", "ch_a", "succeeded"),
		Kind: ledger.KindCharge, Account: "acct_1", Tenant: "cloudip-demo/acme", Region: "eu", OccurredAt: at,
		EventID: "evt_1", EventType: "charge.succeeded", Amount: 2500, Currency: "usd", Fee: ptr(103), Net: ptr(2397),
		Status: "succeeded", Charge: "ch_a", Invoice: "in_a", Customer: "cus_a", BalanceTransaction: "txn_a"}
}

// deposit is a payout of three charges on three invoices, less a refund of one and Stripe's fees
// (2.9% + 30¢ each).
func deposit() ledger.Record {
	lines := []ledger.DepositLine{
		{BalanceTransaction: "txn_a", Type: "charge", ReportingCategory: "charge", Source: "ch_a", Charge: "ch_a", Invoice: "in_a", Customer: "cus_a", Amount: 1000, Fee: 59, Net: 941},
		{BalanceTransaction: "txn_b", Type: "charge", ReportingCategory: "charge", Source: "ch_b", Charge: "ch_b", Invoice: "in_b", Customer: "cus_b", Amount: 2000, Fee: 88, Net: 1912},
		{BalanceTransaction: "txn_c", Type: "charge", ReportingCategory: "charge", Source: "ch_c", Charge: "ch_c", Invoice: "in_c", Customer: "cus_c", Amount: 1500, Fee: 74, Net: 1426},
		{BalanceTransaction: "txn_r", Type: "refund", ReportingCategory: "refund", Source: "re_1", Charge: "ch_b", Invoice: "in_b", Customer: "cus_b", Refund: "re_1", Amount: -500, Fee: 0, Net: -500},
	}
	return ledger.Record{Schema: ledger.SchemaVersion, ID: ledger.RecordID(ledger.KindDeposit, "acct_1", "po_1", "paid"),
		Kind: ledger.KindDeposit, Account: "acct_1", Tenant: "cloudip-demo/acme", Region: "eu", OccurredAt: at,
		EventID: "evt_9", EventType: "payout.paid", Amount: 3779, Currency: "usd", Fee: ptr(221), Net: ptr(3779),
		Status: "paid", Payout: "po_1", BalanceTransaction: "txn_po",
		Deposit: &ledger.Deposit{ArrivalDate: time.Date(2026, 5, 6, 0, 0, 0, 0, time.UTC), Lines: lines,
			Categories: []ledger.CategoryTotal{{ReportingCategory: "charge", Count: 3, Amount: 4500, Fee: 221, Net: 4279}, {ReportingCategory: "refund", Count: 1, Amount: -500, Net: -500}},
			Totals:     ledger.DepositTotals{Gross: 4500, Refunds: -500, Fees: 221, Net: 3779}}}
}

func ptr(v int64) *int64 { return &v }

const depositText = `09:30:01.250  cloudip-demo/acme (acct_1)  deposit po_1: 37.79 USD, arriving 2026-05-06
  charges (3)
    ch_a   10.00 USD  invoice in_a, customer cus_a
    ch_b   20.00 USD  invoice in_b, customer cus_b
    ch_c   15.00 USD  invoice in_c, customer cus_c
  refunds (1)
    re_1   -5.00 USD  of ch_b, invoice in_b, customer cus_b
  fees (3)
    ch_a   -0.59 USD  Stripe's fee on the charge
    ch_b   -0.88 USD  Stripe's fee on the charge
    ch_c   -0.74 USD  Stripe's fee on the charge
  gross    45.00 USD
  refunds  -5.00 USD
  fees     -2.21 USD
  net      37.79 USD
  balances: yes (the 4 lines net 37.79 USD, the deposit's amount)
`

// platformDeposit is the platform's payout of a one-off charge on no invoice, a charge lost to a
// dispute, and a Stripe fee billed on its own: other categories, in their order.
func platformDeposit() ledger.Record {
	lines := []ledger.DepositLine{
		{BalanceTransaction: "txn_d", Type: "adjustment", ReportingCategory: "dispute", Source: "du_1", Charge: "ch_y", Invoice: "in_y", Customer: "cus_y", Dispute: "du_1", Amount: -2000, Fee: 1500, Net: -3500},
		{BalanceTransaction: "txn_x", Type: "charge", ReportingCategory: "charge", Source: "ch_x", Charge: "ch_x", Customer: "cus_x", Amount: 10000, Fee: 320, Net: 9680},
		{BalanceTransaction: "txn_y", Type: "charge", ReportingCategory: "charge", Source: "ch_y", Charge: "ch_y", Invoice: "in_y", Customer: "cus_y", Amount: 2000, Fee: 88, Net: 1912},
		{BalanceTransaction: "txn_f", Type: "stripe_fee", ReportingCategory: "fee", Source: "fee_1", Amount: -200, Net: -200},
	}
	return ledger.Record{Schema: ledger.SchemaVersion, ID: ledger.RecordID(ledger.KindDeposit, "", "po_p", "paid"),
		Kind: ledger.KindDeposit, Tenant: "platform", Region: "eu", OccurredAt: at, EventID: "evt_p", EventType: "payout.reconciliation_completed",
		Amount: 7892, Currency: "eur", Fee: ptr(2108), Net: ptr(7892), Status: "paid", Payout: "po_p", BalanceTransaction: "txn_pp",
		Deposit: &ledger.Deposit{ArrivalDate: time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC), Lines: lines,
			Totals: ledger.DepositTotals{Gross: 12000, Disputes: -2000, Fees: 2108, Net: 7892}}}
}

const platformDepositText = `09:30:01.250  platform  deposit po_p: 78.92 EUR, arriving 2026-05-05
  charges (2)
    ch_x    100.00 EUR  no invoice, customer cus_x
    ch_y     20.00 EUR  invoice in_y, customer cus_y
  disputes (1)
    du_1    -20.00 EUR  on ch_y, invoice in_y, customer cus_y
  fees (4)
    ch_x     -3.20 EUR  Stripe's fee on the charge
    ch_y     -0.88 EUR  Stripe's fee on the charge
    du_1    -15.00 EUR  Stripe's dispute fee
    txn_f    -2.00 EUR  stripe_fee
  gross     120.00 EUR
  refunds     0.00 EUR
  disputes  -20.00 EUR
  fees      -21.08 EUR
  net        78.92 EUR
  balances: yes (the 4 lines net 78.92 EUR, the deposit's amount)
`

// send is one delivery as the relay makes it (one signature per secret, space separated), or a
// variation of one.
type send struct {
	record   ledger.Record
	edit     func(map[string]any) // changes the record's JSON before it is signed
	id       string               // webhook-id; "" = the record's id
	signWith []string             // nil: no webhook-signature header
	tamper   bool                 // the body is changed after it was signed
	fail     bool                 // Post fails for this delivery

	want     int    // status answered
	posted   int    // times the record has been posted after this delivery
	printed  string // substring of what this delivery printed
	absent   string // a substring it must not print
	exactOut string // what it printed, exactly ("" = not checked)
}

func TestHandler(t *testing.T) {
	old := []string{oldSecret}
	unbalanced := deposit()
	unbalanced.Amount = 3800
	rows := []struct {
		name  string
		pins  string
		sink  string // the consumer's secret value
		sends []send
	}{
		{
			name:  "signed record verifies",
			pins:  "a record signed with the sink's secret is 200, posted once, and printed on one line as an accountant reads it",
			sink:  oldSecret,
			sends: []send{{record: charge(), signWith: old, want: 200, posted: 1, exactOut: "09:30:01.250  cloudip-demo/acme (acct_1)  charge ch_a 25.00 USD for invoice in_a of cus_a, fee 1.03, net 23.97\n"}},
		},
		{
			name: "several secrets: a rotation",
			pins: "a consumer given the old and the new secret takes a record signed with either",
			sink: oldSecret + "\n " + newSecret + "\n",
			sends: []send{
				{record: charge(), signWith: []string{newSecret}, want: 200, posted: 1},
				{record: deposit(), signWith: []string{oldSecret, newSecret}, want: 200, posted: 1},
			},
		},
		{
			name: "a duplicate is not posted twice",
			pins: "the same record id again (a retry, a replay, payout.paid then payout.reconciliation_completed) is 200, says so, and posts nothing",
			sink: oldSecret,
			sends: []send{
				{record: deposit(), signWith: old, want: 200, posted: 1, printed: "deposit po_1: 37.79 USD"},
				{record: deposit(), edit: func(m map[string]any) { m["eventID"], m["eventType"] = "evt_10", "payout.reconciliation_completed" }, signWith: old, want: 200, posted: 1,
					exactOut: "09:30:01.250  cloudip-demo/acme (acct_1)  duplicate of record " + deposit().ID[:12] + " (deposit po_1, from payout.reconciliation_completed evt_10): already posted, not posted again\n"},
			},
		},
		{
			name:  "tampered body",
			pins:  "the signature covers the raw bytes: an amount changed after signing is 400 and nothing is posted",
			sink:  oldSecret,
			sends: []send{{record: charge(), signWith: old, tamper: true, want: 400, printed: "REFUSED 400", absent: "charge ch_a"}},
		},
		{
			name: "a refused copy does not claim the id",
			pins: "after a tampered copy, the genuine one is posted, not taken for a duplicate",
			sink: oldSecret,
			sends: []send{
				{record: charge(), signWith: old, tamper: true, want: 400},
				{record: charge(), signWith: old, want: 200, posted: 1, printed: "charge ch_a"},
			},
		},
		{
			name:  "someone else's signature",
			pins:  "a signature by an unknown secret is 400",
			sink:  oldSecret,
			sends: []send{{record: charge(), signWith: []string{otherSecret}, want: 400, printed: "no matching signature"}},
		},
		{
			name:  "unsigned",
			pins:  "no webhook-signature is 400",
			sink:  oldSecret,
			sends: []send{{record: charge(), want: 400, printed: "missing required headers"}},
		},
		{
			name:  "unknown schema",
			pins:  "a correctly signed record of another schema (cloudip.ledger/v2) is refused, 400, so the relay keeps it for a replay once the consumer reads v2",
			sink:  oldSecret,
			sends: []send{{record: charge(), edit: func(m map[string]any) { m["schema"] = "cloudip.ledger/v2" }, signWith: old, want: 400, printed: `unknown schema "cloudip.ledger/v2"`}},
		},
		{
			name:  "webhook-id is not the record id",
			pins:  "the consumer dedupes by the record id, which the relay sends as webhook-id: a mismatch is refused",
			sink:  oldSecret,
			sends: []send{{record: charge(), id: "msg_other", signWith: old, want: 400, printed: "is not the webhook-id"}},
		},
		{
			name:  "a deposit that does not balance",
			pins:  "the consumer sums the lines itself: a deposit whose lines do not net to its amount is 422 and not posted",
			sink:  oldSecret,
			sends: []send{{record: unbalanced, signWith: old, want: 422, printed: "the 4 lines net 37.79 USD, the deposit is 38.00 USD (off by -0.21 USD)", absent: "balances: yes"}},
		},
		{
			name: "failed posting is retried",
			pins: "Post failing answers 500 and leaves the id unclaimed, so the relay's retry is posted",
			sink: oldSecret,
			sends: []send{
				{record: charge(), signWith: old, fail: true, want: 500, posted: 1, printed: "REFUSED 500"},
				{record: charge(), signWith: old, want: 200, posted: 2, printed: "charge ch_a"},
			},
		},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Log(row.pins)
			var mu sync.Mutex
			posted := map[string]int{}
			failNext := false
			var out bytes.Buffer
			h := &Handler{Out: &out, Now: func() time.Time { return at }, Post: func(_ context.Context, r Record, _ []byte) error {
				mu.Lock()
				defer mu.Unlock()
				posted[r.ID]++
				if failNext {
					return errors.New("ledger database unavailable")
				}
				return nil
			}}
			if err := h.SetSecrets(row.sink); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			for i, s := range row.sends {
				mu.Lock()
				failNext = s.fail
				mu.Unlock()
				before := out.Len()
				status := deliver(t, srv.URL, s)
				printed := out.String()[before:]
				if status != s.want {
					t.Fatalf("send %d: status %d, want %d; printed:\n%s", i, status, s.want, printed)
				}
				mu.Lock()
				n := posted[s.record.ID]
				mu.Unlock()
				if n != s.posted {
					t.Errorf("send %d: posted %d times, want %d", i, n, s.posted)
				}
				if strings.Count(printed, "\n") == 0 {
					t.Errorf("send %d printed nothing", i)
				}
				if s.printed != "" && !strings.Contains(printed, s.printed) {
					t.Errorf("send %d printed:\n%s\nwant it to contain %q", i, printed, s.printed)
				}
				if s.absent != "" && strings.Contains(printed, s.absent) {
					t.Errorf("send %d printed:\n%s\nwant no %q", i, printed, s.absent)
				}
				if s.exactOut != "" && printed != s.exactOut {
					t.Errorf("send %d printed:\n%q\nwant\n%q", i, printed, s.exactOut)
				}
			}
		})
	}
}

// deliver sends s as the relay would and returns the status.
func deliver(t *testing.T, url string, s send) int {
	t.Helper()
	body, err := json.Marshal(s.record)
	if err != nil {
		t.Fatal(err)
	}
	if s.edit != nil {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		s.edit(m)
		if body, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	id := s.id
	if id == "" {
		id = s.record.ID
	}
	now := time.Now()
	sigs := make([]string, 0, len(s.signWith))
	for _, secret := range s.signWith {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := wh.Sign(id, now, body)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
	}
	if s.tamper {
		tampered := bytes.Replace(body, []byte(`"amount":2500`), []byte(`"amount":25000`), 1)
		if bytes.Equal(tampered, body) {
			t.Fatal("nothing to tamper with")
		}
		body = tampered
	}
	req, err := http.NewRequest(http.MethodPost, url+"/ledger", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	if len(sigs) > 0 {
		req.Header.Set("webhook-signature", strings.Join(sigs, " "))
	}
	req.Header.Set("X-CloudIP-Sequence", "1")
	req.Header.Set("X-CloudIP-Event-Type", s.record.EventType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestDepositText pins the deposit as printed (golden text) and the sums behind it.
func TestDepositText(t *testing.T) {
	var out bytes.Buffer
	h := &Handler{Out: &out, Now: func() time.Time { return at }}
	if err := h.SetSecrets(oldSecret); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	if status := deliver(t, srv.URL, send{record: deposit(), signWith: []string{oldSecret}}); status != http.StatusOK {
		t.Fatalf("status %d:\n%s", status, out.String())
	}
	if got := out.String(); got != depositText {
		t.Errorf("printed:\n%s\nwant:\n%s", got, depositText)
	}
	t.Run("platform, other categories", func(t *testing.T) {
		t.Log("a charge on no invoice, a dispute with its fee, a fee line: grouped, ordered and summed")
		before := out.Len()
		if status := deliver(t, srv.URL, send{record: platformDeposit(), signWith: []string{oldSecret}}); status != http.StatusOK {
			t.Fatalf("status %d:\n%s", status, out.String()[before:])
		}
		if got := out.String()[before:]; got != platformDepositText {
			t.Errorf("printed:\n%s\nwant:\n%s", got, platformDepositText)
		}
	})

	rows := []struct {
		name, pins string
		edit       func(*ledger.Record)
		want       Totals
	}{
		{"as sent", "gross, refunds, fees and net from the lines; it balances", func(*ledger.Record) {},
			Totals{Gross: 4500, Refunds: -500, Fees: 221, Net: 3779, Lines: 4, Balanced: true}},
		{"a fee line", "a line in category fee (a Stripe fee billed on its own) counts as a fee paid, not gross",
			func(r *ledger.Record) {
				r.Deposit.Lines = append(r.Deposit.Lines, ledger.DepositLine{BalanceTransaction: "txn_f", Type: "stripe_fee", ReportingCategory: "fee", Amount: -100, Net: -100})
				r.Amount -= 100
			},
			Totals{Gross: 4500, Refunds: -500, Fees: 321, Net: 3679, Lines: 5, Balanced: true}},
		{"a line that does not add up", "a line whose net is not its amount less its fee does not balance, even when the nets sum to the deposit",
			func(r *ledger.Record) { r.Deposit.Lines[0].Fee = 60 },
			Totals{Gross: 4500, Refunds: -500, Fees: 222, Net: 3779, Lines: 4, Problem: "line txn_a nets 9.41 USD, not its amount 10.00 USD less its fee 0.60 USD"}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Log(row.pins)
			r := deposit()
			row.edit(&r)
			raw, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var mine Record
			if err := json.Unmarshal(raw, &mine); err != nil {
				t.Fatal(err)
			}
			if got := Sum(mine); got != row.want {
				t.Errorf("Sum = %+v, want %+v", got, row.want)
			}
		})
	}

	t.Run("GET /records", func(t *testing.T) {
		t.Log("the posted records as JSON, the duplicate counted on the record")
		if status := deliver(t, srv.URL, send{record: deposit(), signWith: []string{oldSecret}}); status != http.StatusOK {
			t.Fatalf("duplicate: status %d", status)
		}
		rec := httptest.NewRecorder()
		h.ServeRecords(rec, httptest.NewRequest(http.MethodGet, "/records", nil))
		var list []Posted
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 2 {
			t.Fatalf("GET /records = %s (%v), want two records", rec.Body.String(), err)
		}
		p := list[0]
		if p.Record.Kind != "deposit" || p.Record.Payout != "po_1" || p.Duplicates != 1 || !p.ReceivedAt.Equal(at) || len(p.Record.Deposit.Lines) != 4 {
			t.Errorf("GET /records: %+v", p)
		}
	})
}

// TestDescribe pins the one-line forms of the other kinds.
func TestDescribe(t *testing.T) {
	base := Record{Schema: schemaV1, Currency: "usd"}
	with := func(edit func(*Record)) Record { r := base; edit(&r); return r }
	rows := []struct {
		name string
		r    Record
		want string
	}{
		{"charge without invoice", with(func(r *Record) { r.Kind, r.Charge, r.Customer, r.Amount = "charge", "ch_1", "cus_1", 500 }),
			"charge ch_1 5.00 USD of cus_1, no invoice"},
		{"refund", with(func(r *Record) {
			r.Kind, r.Refund, r.Charge, r.Invoice, r.Customer, r.Amount, r.Status = "refund", "re_1", "ch_1", "in_1", "cus_1", 300, "succeeded"
		}), "refund re_1 3.00 USD of charge ch_1 for invoice in_1 of cus_1, succeeded"},
		{"invoice paid", with(func(r *Record) {
			r.Kind, r.Invoice, r.Charge, r.Customer, r.Amount = "invoice_paid", "in_1", "ch_1", "cus_1", 2500
		}),
			"invoice paid in_1 25.00 USD by charge ch_1 (cus_1)"},
		{"charge failed", with(func(r *Record) {
			r.Kind, r.Charge, r.Invoice, r.Customer, r.Amount, r.Reason = "charge_failed", "ch_2", "in_2", "cus_2", 1000, "card_declined"
		}), "charge FAILED ch_2 10.00 USD for invoice in_2 of cus_2 (card_declined), no money moved"},
		{"manual payout", with(func(r *Record) {
			r.Kind, r.Payout, r.Amount, r.Reason, r.Message = "payout_unreconcilable", "po_2", 1200, "manual_payout", "Stripe does not list a manual payout's transactions."
		}), "payout po_2 12.00 USD paid, NOT reconcilable (manual_payout: Stripe does not list a manual payout's transactions.)"},
		{"zero-decimal currency", with(func(r *Record) { r.Kind, r.Invoice, r.Currency, r.Amount = "invoice_voided", "in_3", "jpy", 500 }),
			"invoice voided in_3: 500 JPY outstanding written off"},
		{"a cent", with(func(r *Record) { r.Kind, r.Charge, r.Amount = "charge", "ch_4", 1 }),
			"charge ch_4 0.01 USD, no invoice"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if got := Describe(row.r); got != row.want {
				t.Errorf("Describe:\n got %q\nwant %q", got, row.want)
			}
		})
	}
}
