package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// The ledger part of the demo: the sample ledger consumer (hack/ledger-consumer) stands for the
// general ledger. The relay turns the connection's EU payment events into ledger records and posts
// them to it (config/samples/local/06-ledgersink.yaml); a paid automatic payout arrives as one
// deposit record, its balance transactions tied to the invoices they paid. The tenant's business is
// played on the emulator: its customers pay invoices on its connected account, one is partly
// refunded, Stripe takes its fees, and the balance is paid out.
const (
	ledgerConsumerAddr = "127.0.0.1:12115"
	// ledgerConsumerSecret is the secret of 06-ledgersink.yaml's Secret.
	ledgerConsumerSecret = "whsec_Y2xvdWRpcC1kZW1vLWxlZGdlci1zaWduaW5nLWtleS0z"
)

// startLedgerConsumer builds and starts the ledger consumer; its secret goes through a file, not argv.
func startLedgerConsumer(ctx context.Context, env *testenv.Env, logPath string) (*testenv.Process, error) {
	dir := filepath.Join(env.RepoRoot, "bin")
	binary := filepath.Join(dir, "ledger-consumer")
	if err := testenv.BuildBinary(ctx, env.RepoRoot, "./hack/ledger-consumer", binary); err != nil {
		return nil, fmt.Errorf("build the ledger consumer: %w", err)
	}
	secretFile := filepath.Join(dir, "demo-ledger-secret")
	if err := os.WriteFile(secretFile, []byte(ledgerConsumerSecret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write the ledger consumer's secret: %w", err)
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create the ledger consumer's log: %w", err)
	}
	p, err := testenv.StartProcess(binary, []string{"-addr", ledgerConsumerAddr, "-secret-file", secretFile}, log)
	if err != nil {
		return nil, err
	}
	if err := p.WaitHTTP200(ctx, "http://"+ledgerConsumerAddr+"/healthz", 30*time.Second); err != nil {
		p.Kill()
		return nil, fmt.Errorf("ledger consumer: %w", err)
	}
	return p, nil
}

// ledgerDemo names what the ledger step works on.
type ledgerDemo struct {
	// emu is the emulator the demo started; nil with -external-emulator (the step is skipped).
	emu          *emulator.Server
	emulatorBase string
	namespace    string
	tenant       string
	sink         string
	logPath      string
	timeout      time.Duration
}

// A tenant's month: its customers, each on a monthly plan of the tenant's own product.
var ledgerCustomers = []struct {
	name, email string
	cents       int64
}{
	{"Globex", "ap@globex.example", 1500},
	{"Initech", "billing@initech.example", 2900},
	{"Umbrella", "finance@umbrella.example", 4900},
}

// ledgerInvoices is how many of the tenant's invoices the ledger part pays and pays out: one per
// customer, none when it is skipped (-external-emulator: emu is nil).
func ledgerInvoices(emu *emulator.Server) int {
	if emu == nil {
		return 0
	}
	return len(ledgerCustomers)
}

// ledgerRefund is the part of the last customer's invoice refunded (a service credit).
const ledgerRefund = 1000

// demoLedger is "one tenant payout reconciled end to end": charges paying several invoices on the
// tenant's connected account, a refund, Stripe's fees, the automatic payout paid; then the deposit
// as the ledger consumer received and printed it.
func demoLedger(ctx context.Context, env *testenv.Env, d ledgerDemo) error {
	step("one tenant payout reconciled end to end: the tenant's customers pay invoices, one is partly refunded, Stripe takes its fees, the balance is paid out; the relay sends the deposit to StripeEventSink " + d.sink + " (hack/ledger-consumer)")
	if d.emu == nil {
		fmt.Println("  skipped: with -external-emulator the demo cannot run the tenant's payout (the emulator's control API in process); run `make demo` without it to see this step")
		return nil
	}
	account, err := kubectlOutput(ctx, env, "get", "stripetenant", d.tenant, "-n", d.namespace, "-o", "jsonpath={.status.accountID}")
	if err != nil {
		return err
	}
	if account == "" {
		return fmt.Errorf("stripetenant %s/%s has no status.accountID", d.namespace, d.tenant)
	}
	m, err := d.tenantMonth(ctx, account)
	if err != nil {
		return err
	}
	return d.deposit(ctx, env, m)
}

// month is what the tenant's month made: the records the ledger consumer must post for it.
type month struct {
	payout   string
	charges  []string
	invoices []string
	refund   string
}

// tenantMonth plays the tenant's business on its connected account: customers subscribe and pay
// their first invoices with a card, one is partly refunded, and Stripe's automatic payout pays the
// balance out.
func (d ledgerDemo) tenantMonth(ctx context.Context, account string) (month, error) {
	var m month
	acct := stripeOn{base: d.emulatorBase, account: account, prefix: "demo-ledger-" + account}
	product, err := acct.post(ctx, "/v1/products", "product", url.Values{"name": {"ACME Network Automation"}})
	if err != nil {
		return m, err
	}
	fmt.Printf("  on %s (Stripe-Account), through the emulator's API: product %s\n", account, product.id())
	var lastCharge string
	for _, c := range ledgerCustomers {
		invoice, err := d.subscribe(ctx, acct, product.id(), c.name, c.email, c.cents)
		if err != nil {
			return m, err
		}
		lastCharge = invoice.str("charge")
		m.charges, m.invoices = append(m.charges, lastCharge), append(m.invoices, invoice.id())
		fmt.Printf("  %-9s %s subscribes at %s/month: invoice %s paid by charge %s\n", c.name, invoice.str("customer"), dollars(c.cents), invoice.id(), lastCharge)
	}
	refund, err := acct.post(ctx, "/v1/refunds", "refund", url.Values{"charge": {lastCharge}, "amount": {fmt.Sprint(ledgerRefund)}, "reason": {"requested_by_customer"}})
	if err != nil {
		return m, err
	}
	m.refund = refund.id()
	fmt.Printf("  %s of %s refunded to %s: refund %s\n", dollars(ledgerRefund), lastCharge, ledgerCustomers[len(ledgerCustomers)-1].name, refund.id())

	payouts, err := d.emu.SimulatePayout(account, emulator.PayoutOptions{LeavePending: true})
	if err != nil {
		return m, fmt.Errorf("the automatic payout: %w", err)
	}
	if len(payouts) != 1 {
		return m, fmt.Errorf("the automatic payout of %s made %d payouts, want 1", account, len(payouts))
	}
	po := payouts[0]
	fmt.Printf("  Stripe's automatic payout (control API SimulatePayout): %s of %s, pending\n", po.ID(), dollars(po.Int("amount")))
	if _, err := d.emu.PayPayout(account, po.ID()); err != nil {
		return m, fmt.Errorf("pay the payout: %w", err)
	}
	fmt.Println("  the bank received it (PayPayout): payout.paid and payout.reconciliation_completed, both giving the one deposit record")
	m.payout = po.ID()
	return m, nil
}

// subscribe makes a customer with a card subscribed to a monthly price of product, and returns the
// first invoice, paid by a charge.
func (d ledgerDemo) subscribe(ctx context.Context, acct stripeOn, product, name, email string, cents int64) (stripeObject, error) {
	price, err := acct.post(ctx, "/v1/prices", "price-"+name, url.Values{"product": {product}, "currency": {"usd"},
		"unit_amount": {fmt.Sprint(cents)}, "recurring[interval]": {"month"}})
	if err != nil {
		return nil, err
	}
	cus, err := acct.post(ctx, "/v1/customers", "customer-"+name, url.Values{"name": {name}, "email": {email}})
	if err != nil {
		return nil, err
	}
	// The customer enters a card (the emulator's control API); its funds are available at once, so
	// they are paid out today rather than in two days.
	if _, err := d.emu.AttachTestCard(acct.account, cus.id(), emulator.TestCardBypassPending, emulator.AttachCardOptions{Default: true}); err != nil {
		return nil, fmt.Errorf("attach a card for %s: %w", name, err)
	}
	sub, err := acct.post(ctx, "/v1/subscriptions", "subscription-"+name, url.Values{"customer": {cus.id()}, "items[0][price]": {price.id()}})
	if err != nil {
		return nil, err
	}
	invoice, err := acct.get(ctx, "/v1/invoices/"+sub.str("latest_invoice"))
	if err != nil {
		return nil, err
	}
	if invoice.str("status") != "paid" || invoice.str("charge") == "" {
		return nil, fmt.Errorf("invoice %s of %s is %q, charge %q: want paid by a charge", invoice.id(), name, invoice.str("status"), invoice.str("charge"))
	}
	return invoice, nil
}

// deposit waits until the ledger consumer has posted the month's records (each charge, invoice and
// the refund, and the deposit) and the sink's status has caught up, then shows the sinks and what the
// consumer printed.
func (d ledgerDemo) deposit(ctx context.Context, env *testenv.Env, m month) error {
	step(fmt.Sprintf("waiting for the ledger consumer to post the month's records and the deposit of %s, and for StripeEventSink %s's status to owe nothing", m.payout, d.sink))
	started := time.Now()
	var posted time.Time // when the last of the month's records was posted
	for {
		missing, last, err := ledgerMissing(ctx, m)
		if err != nil {
			return err
		}
		status := ""
		if len(missing) == 0 {
			if posted.IsZero() {
				posted = last
				fmt.Printf("  all posted %.1f s after the payout was paid\n", last.Sub(started).Seconds())
			}
			// The relay writes the sink's status every few seconds: wait for one written after.
			if status, err = kubectlOutput(ctx, env, "get", "stripeeventsink", d.sink, "-n", d.namespace, "-o", "jsonpath={.status.pending} {.status.lastDeliveredAt}"); err != nil {
				return err
			}
			if caughtUp(status, posted) {
				break
			}
		}
		if time.Since(started) > d.timeout {
			return fmt.Errorf("after %s the ledger consumer has not posted %s; the sink's status.pending and lastDeliveredAt: %q (logs: %s)",
				d.timeout, strings.Join(missing, ", "), status, d.logPath)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(500 * time.Millisecond):
		}
	}
	if err := kubectl(ctx, env, "get", "stripeeventsinks", "-n", d.namespace, "-o", "wide"); err != nil {
		return err
	}
	out, err := os.ReadFile(d.logPath)
	if err != nil {
		return fmt.Errorf("read the ledger consumer's log: %w", err)
	}
	fmt.Printf("\n  what hack/ledger-consumer printed (%s):\n", d.logPath)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fmt.Println("  " + line)
	}
	return nil
}

// caughtUp says a sink's "pending lastDeliveredAt" shows nothing owed, written after posted.
func caughtUp(status string, posted time.Time) bool {
	var pending int
	var at string
	if _, err := fmt.Sscan(status, &pending, &at); err != nil || pending != 0 {
		return false
	}
	t, err := time.Parse(time.RFC3339, at)
	return err == nil && !t.Before(posted.Truncate(time.Second))
}

// ledgerMissing asks the ledger consumer for what it posted (GET /records) and returns the records
// of m it has not posted yet ("charge ch_…", …) and when it posted the last of the others.
func ledgerMissing(ctx context.Context, m month) ([]string, time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ledgerConsumerAddr+"/records", nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("ask the ledger consumer: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var records []struct {
		ReceivedAt time.Time `json:"receivedAt"`
		Record     struct {
			Kind    string `json:"kind"`
			Charge  string `json:"charge"`
			Invoice string `json:"invoice"`
			Refund  string `json:"refund"`
			Payout  string `json:"payout"`
		} `json:"record"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&records); err != nil {
		return nil, time.Time{}, fmt.Errorf("the ledger consumer's records: %w", err)
	}
	want := map[string]bool{"deposit " + m.payout: true, "refund " + m.refund: true}
	for _, ch := range m.charges {
		want["charge "+ch] = true
	}
	for _, in := range m.invoices {
		want["invoice_paid "+in] = true
	}
	var last time.Time
	for _, r := range records {
		object := map[string]string{"deposit": r.Record.Payout, "refund": r.Record.Refund, "charge": r.Record.Charge,
			"invoice_paid": r.Record.Invoice}[r.Record.Kind]
		if key := r.Record.Kind + " " + object; want[key] {
			delete(want, key)
			if r.ReceivedAt.After(last) {
				last = r.ReceivedAt
			}
		}
	}
	missing := make([]string, 0, len(want))
	for key := range want {
		missing = append(missing, key)
	}
	sort.Strings(missing)
	return missing, last, nil
}

// dollars formats cents: 4900 is "$49.00".
func dollars(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

// stripeOn calls the emulator's Stripe API on a connected account (Stripe-Account), with the demo's
// key, as the tenant's own software would.
type stripeOn struct {
	base, account string
	// prefix makes the idempotency keys of this run's writes.
	prefix string
}

// stripeObject is a Stripe API object as decoded JSON.
type stripeObject map[string]any

func (o stripeObject) id() string { return o.str("id") }

func (o stripeObject) str(key string) string { s, _ := o[key].(string); return s }

func (s stripeOn) post(ctx context.Context, path, key string, form url.Values) (stripeObject, error) {
	return s.do(ctx, http.MethodPost, path, key, form)
}

func (s stripeOn) get(ctx context.Context, path string) (stripeObject, error) {
	return s.do(ctx, http.MethodGet, path, "", nil)
}

// do makes one request, again after a 429 (the emulator's test-mode rate limit is shared with the
// operator); a write carries an idempotency key, so a retry does it once.
func (s stripeOn) do(ctx context.Context, method, path, key string, form url.Values) (stripeObject, error) {
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, s.base+path, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+demoKey)
		req.Header.Set("Stripe-Account", s.account)
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Idempotency-Key", s.prefix+"-"+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests && attempt < 10 {
			select {
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(body)))
		}
		var out stripeObject
		if err := json.Unmarshal(body, &out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		return out, nil
	}
}
