package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// stripeCall is one request to the emulator as the connected account (Stripe-Account), for what the
// operator's client does not do (refunds).
func stripeCall(t *testing.T, r *relayRig, account, method, path string, form url.Values) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, r.Emu.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk_test_e2e")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Stripe-Account", account)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %v %v", method, path, resp.Status, err, out)
	}
	return out
}

// TestLedgerFeed pins issue 9's delivery end to end, with the relay as a real process: a US tenant's
// month (subscriptions paying two invoices, a refund, Stripe's fees, an automatic payout) reaches the
// US ledger sink as records under stable ids (payout.paid and payout.reconciliation_completed give
// the same deposit, under the same id: a consumer deduping by id posts it once), with exactly one
// deposit whose lines sum to the payout to the cent and tie each charge to its invoice; the EU ledger
// sink gets nothing.
func TestLedgerFeed(t *testing.T) {
	r := startRelayRig(t)
	ctx := context.Background()
	_, us := createSinkOfFormat(t, r, "gl-us", v1alpha1.RegionUS, v1alpha1.SinkFormatLedger)
	_, eu := createSinkOfFormat(t, r, "gl-eu", v1alpha1.RegionEU, v1alpha1.SinkFormatLedger)
	tenant := onboardingTenant(t, r, "acme")
	account := tenant.Status.AccountID
	if _, err := r.Emu.CompleteOnboarding(account); err != nil {
		t.Fatal(err)
	}
	api := r.Stripe.ForAccount(account)
	tags := func(name string) stripeapi.Tags {
		return stripeapi.Tags{UID: "uid-" + name, NamespacedName: r.NS + "/" + name, Kind: "E2E"}
	}
	prod, err := api.CreateProduct(ctx, stripeapi.ProductCreateParams{IdempotencyKey: "prod", Tags: tags("prod"), Name: "Pro"})
	if err != nil {
		t.Fatal(err)
	}
	invoiceOfCharge := map[string]string{}
	for i, cents := range []int64{1000, 2500} {
		name := fmt.Sprintf("c%d", i)
		price, err := api.CreatePrice(ctx, stripeapi.PriceCreateParams{IdempotencyKey: "price-" + name, Tags: tags(name), ProductID: prod.ID,
			Currency: "usd", UnitAmount: &cents, Recurring: &stripeapi.Recurring{Interval: "month"}})
		if err != nil {
			t.Fatal(err)
		}
		cus, err := api.CreateCustomer(ctx, stripeapi.CustomerCreateParams{IdempotencyKey: "cus-" + name, Tags: tags(name), Email: name + "@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Emu.AttachTestCard(account, cus.ID, emulator.TestCardVisa, emulator.AttachCardOptions{Default: true}); err != nil {
			t.Fatal(err)
		}
		sub, err := api.CreateSubscription(ctx, stripeapi.SubscriptionCreateParams{IdempotencyKey: "sub-" + name, Tags: tags(name),
			CustomerID: cus.ID, Items: []stripeapi.SubscriptionItemParams{{PriceID: price.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		inv := stripeCall(t, r, account, http.MethodGet, "/v1/invoices/"+sub.LatestInvoiceID, nil)
		charge, _ := inv["charge"].(string)
		invoiceOfCharge[charge] = sub.LatestInvoiceID
	}
	var refunded string
	for charge := range invoiceOfCharge {
		refunded = charge
		break
	}
	stripeCall(t, r, account, http.MethodPost, "/v1/refunds", url.Values{"charge": {refunded}, "amount": {"400"}})
	r.Emu.AdvanceClock(3 * 24 * time.Hour)
	payouts, err := r.Emu.SimulatePayout(account, emulator.PayoutOptions{LeavePending: true})
	if err != nil || len(payouts) != 1 {
		t.Fatalf("payouts %v, %v", payouts, err)
	}
	payout, err := r.Emu.PayPayout(account, payouts[0].ID())
	if err != nil {
		t.Fatal(err)
	}

	var deposit struct {
		Account string `json:"account"`
		Tenant  string `json:"tenant"`
		Region  string `json:"region"`
		Amount  int64  `json:"amount"`
		Payout  string `json:"payout"`
		Deposit struct {
			Lines []struct {
				Charge  string `json:"charge"`
				Invoice string `json:"invoice"`
				Net     int64  `json:"net"`
			} `json:"lines"`
		} `json:"deposit"`
	}
	controllertest.Eventually(t, 60*time.Second, func() error {
		_, _, bad := us.snapshot()
		if bad != 0 {
			return fmt.Errorf("%d unverifiable deliveries", bad)
		}
		us.mu.Lock()
		defer us.mu.Unlock()
		var deposits []string
		for id, body := range us.bodies {
			var kind struct {
				Kind string `json:"kind"`
			}
			_ = json.Unmarshal(body, &kind)
			if kind.Kind == "deposit" {
				deposits = append(deposits, id)
				if err := json.Unmarshal(body, &deposit); err != nil {
					return err
				}
			}
		}
		if len(deposits) != 1 {
			return fmt.Errorf("%d deposit record ids among %d records, want exactly 1", len(deposits), len(us.bodies))
		}
		return nil
	})
	if deposit.Payout != payout.ID() || deposit.Account != account || deposit.Tenant != r.NS+"/acme" || deposit.Region != "us" {
		t.Fatalf("deposit of %q for %q/%q in %q, want payout %s of %s", deposit.Payout, deposit.Account, deposit.Tenant, deposit.Region, payout.ID(), account)
	}
	var net int64
	tied := 0
	for _, line := range deposit.Deposit.Lines {
		net += line.Net
		if want, ok := invoiceOfCharge[line.Charge]; ok && line.Invoice == want {
			tied++
		}
	}
	if net != deposit.Amount || deposit.Amount != payout.Int("amount") {
		t.Fatalf("deposit lines net %d, deposit %d, payout %d: must be equal to the cent", net, deposit.Amount, payout.Int("amount"))
	}
	if tied < len(invoiceOfCharge) {
		t.Fatalf("%d of %d charges tied to their invoices in the deposit", tied, len(invoiceOfCharge))
	}
	if acked, _, bad := eu.snapshot(); len(acked)+bad != 0 {
		t.Fatalf("the EU ledger sink got %d records of a US tenant", len(acked)+bad)
	}
}
