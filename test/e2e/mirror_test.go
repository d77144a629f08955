package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/pgtest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// TestMirrorThroughTheRelay pins issue 12 end to end, with the relay as a real process keeping two
// StripeMirrors of the US connection in a private PostgreSQL: a US one and an EU one.
//   - backfill: a tenant's objects made before the mirror exists are listed into it (BackfillComplete);
//   - events: what happens after (subscriptions paying invoices, a refund, an automatic payout) reaches
//     the mirror through the relay's store, and the invoices join to the payout that paid them;
//   - residency: the US tenant's and the platform's rows are in the US mirror only; the EU mirror,
//     Ready and backfilled, holds no row;
//   - status: rows per table, cursor and conditions, written by the relay.
func TestMirrorThroughTheRelay(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.CreateDatabase(t, "platform")
	r := startRelayRig(t)
	ctx := context.Background()
	tenant := onboardingTenant(t, r, "acme")
	account := tenant.Status.AccountID
	if _, err := r.Emu.CompleteOnboarding(account); err != nil {
		t.Fatal(err)
	}
	api := r.Stripe.ForAccount(account)
	tags := func(name string) stripeapi.Tags {
		return stripeapi.Tags{UID: "uid-" + name, NamespacedName: r.NS + "/" + name, Kind: "E2E"}
	}
	var before []string
	for i := range 3 {
		cus, err := api.CreateCustomer(ctx, stripeapi.CustomerCreateParams{IdempotencyKey: fmt.Sprint("early-", i), Tags: tags(fmt.Sprint("early-", i)),
			Email: fmt.Sprintf("early%d@example.com", i)})
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, cus.ID)
	}

	r.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "reporting-db"}, StringData: map[string]string{"url": dsn}})
	mirrors := map[v1alpha1.Region]*v1alpha1.StripeMirror{}
	for _, region := range []v1alpha1.Region{v1alpha1.RegionUS, v1alpha1.RegionEU} {
		m := &v1alpha1.StripeMirror{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "stripe-" + string(region)},
			Spec: v1alpha1.StripeMirrorSpec{ConnectionRef: v1alpha1.ConnectionReference{Name: r.Connection}, Region: region,
				Database:     v1alpha1.MirrorDatabase{URLSecretRef: v1alpha1.LocalSecretKeySelector{Name: "reporting-db", Key: "url"}, Schema: "stripe_" + string(region)},
				Revalidation: &v1alpha1.MirrorRevalidation{SampleSize: ptr.To[int32](0)}}}
		r.Create(m)
		mirrors[region] = m
	}
	for _, m := range mirrors {
		controllertest.WaitForConditionWithin(t, env.Client, m, v1alpha1.ConditionBackfillComplete, metav1.ConditionTrue, v1alpha1.ReasonBackfilled, 60*time.Second)
		controllertest.WaitForCondition(t, env.Client, m, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonMirroring)
	}

	// After the backfill: a month of the tenant's business, through events only.
	prod, err := api.CreateProduct(ctx, stripeapi.ProductCreateParams{IdempotencyKey: "prod", Tags: tags("prod"), Name: "Pro"})
	if err != nil {
		t.Fatal(err)
	}
	cents := int64(2500)
	price, err := api.CreatePrice(ctx, stripeapi.PriceCreateParams{IdempotencyKey: "price", Tags: tags("price"), ProductID: prod.ID,
		Currency: "usd", UnitAmount: &cents, Recurring: &stripeapi.Recurring{Interval: "month"}})
	if err != nil {
		t.Fatal(err)
	}
	var invoices []string
	var charge string
	for i := range 2 {
		cus, err := api.CreateCustomer(ctx, stripeapi.CustomerCreateParams{IdempotencyKey: fmt.Sprint("buyer-", i), Tags: tags(fmt.Sprint("buyer-", i)),
			Email: fmt.Sprintf("buyer%d@example.com", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Emu.AttachTestCard(account, cus.ID, emulator.TestCardVisa, emulator.AttachCardOptions{Default: true}); err != nil {
			t.Fatal(err)
		}
		sub, err := api.CreateSubscription(ctx, stripeapi.SubscriptionCreateParams{IdempotencyKey: fmt.Sprint("sub-", i), Tags: tags(fmt.Sprint("sub-", i)),
			CustomerID: cus.ID, Items: []stripeapi.SubscriptionItemParams{{PriceID: price.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		invoices = append(invoices, sub.LatestInvoiceID)
		charge, _ = stripeCall(t, r, account, http.MethodGet, "/v1/invoices/"+sub.LatestInvoiceID, nil)["charge"].(string)
	}
	refund := stripeCall(t, r, account, http.MethodPost, "/v1/refunds", url.Values{"charge": {charge}, "amount": {"500"}})
	r.Emu.AdvanceClock(3 * 24 * time.Hour)
	payouts, err := r.Emu.SimulatePayout(account, emulator.PayoutOptions{})
	if err != nil || len(payouts) != 1 {
		t.Fatalf("payouts %v, %v", payouts, err)
	}

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	tenantKey := r.NS + "/acme"
	controllertest.Eventually(t, 60*time.Second, func() error {
		rows, err := db.Query(`SELECT i.id, p.id, p.status FROM stripe_us.invoices i
JOIN stripe_us.charges c ON c.id = i.charge
JOIN stripe_us.balance_transactions bt ON bt.id = c.balance_transaction
JOIN stripe_us.payouts p ON p.id = bt.payout
WHERE i.tenant = $1 AND i.status = 'paid'`, tenantKey)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		paidBy := map[string]string{}
		for rows.Next() {
			var invoice, payout, status string
			if err := rows.Scan(&invoice, &payout, &status); err != nil {
				return err
			}
			if status == "paid" {
				paidBy[invoice] = payout
			}
		}
		for _, in := range invoices {
			if paidBy[in] != payouts[0].ID() {
				return fmt.Errorf("invoice %s is paid by payout %q in the mirror, want %s (all: %v)", in, paidBy[in], payouts[0].ID(), paidBy)
			}
		}
		var refunds int
		if err := db.QueryRow(`SELECT count(*) FROM stripe_us.refunds WHERE id = $1 AND charge = $2 AND amount = 500`, refund["id"], charge).Scan(&refunds); err != nil || refunds != 1 {
			return fmt.Errorf("refund %v in the mirror: %d rows (%w)", refund["id"], refunds, err)
		}
		return nil
	})

	// Residency: the US tenant's rows and the platform's are in the US mirror, none in the EU one.
	for _, id := range before {
		var owner, region string
		if err := db.QueryRow(`SELECT tenant, region FROM stripe_us.customers WHERE id = $1`, id).Scan(&owner, &region); err != nil || owner != tenantKey || region != "us" {
			t.Errorf("backfilled customer %s in the US mirror: tenant %q region %q (%v), want %s, us", id, owner, region, err, tenantKey)
		}
	}
	var platformRows, euRows int
	if err := db.QueryRow(`SELECT count(*) FROM stripe_us.accounts WHERE tenant = ''`).Scan(&platformRows); err != nil || platformRows != 1 {
		t.Errorf("platform account rows in the US mirror: %d (%v), want 1", platformRows, err)
	}
	for _, table := range []string{"accounts", "customers", "products", "prices", "subscriptions", "invoices", "charges", "refunds", "payouts", "balance_transactions"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM stripe_eu.` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		euRows += n
	}
	if euRows != 0 {
		t.Errorf("the EU mirror holds %d rows of a US connection's tenant or platform, want 0", euRows)
	}

	// Status, as the relay writes it.
	us := mirrors[v1alpha1.RegionUS]
	controllertest.Eventually(t, 30*time.Second, func() error {
		r.Get(us)
		st := us.Status
		tables := map[v1alpha1.MirrorObjectType]int64{}
		for _, tb := range st.Tables {
			tables[tb.ObjectType] = tb.Rows
		}
		if st.AppliedSeq == 0 || st.Rows == 0 || tables[v1alpha1.MirrorInvoice] < 2 || tables[v1alpha1.MirrorPayout] != 1 ||
			st.Backfill.Accounts != 2 || st.Backfill.AccountsComplete != 2 {
			return fmt.Errorf("US mirror status: seq %d, %d rows, tables %v, backfill %+v", st.AppliedSeq, st.Rows, tables, st.Backfill)
		}
		return nil
	})
}
