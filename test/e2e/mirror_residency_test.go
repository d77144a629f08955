package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/pgtest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// TestMirrorResidency pins issue 12's isolation end to end: a US and an EU platform account (two
// connections, each its own Stripe), a tenant on each, the one relay keeping a US and an EU
// StripeMirror in one database. The EU tenant's customers (listed by backfill and delivered as
// events) are in the EU mirror and never in the US one, and the reverse; each mirror's platform rows
// are its own connection's.
func TestMirrorResidency(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.CreateDatabase(t, "residency")
	r := startRelayRig(t)
	ctx := context.Background()

	// The EU platform account: its own Stripe, its connection's webhooks at the same relay.
	euEmu := emulator.Start(t, emulator.Options{Webhooks: emulator.WebhookOptions{Retry: []time.Duration{}}})
	euConnection := "eu-" + r.Connection
	controllertest.Connection(t, env.Client, euConnection, euEmu.URL, controllertest.ConnectionOptions{Region: v1alpha1.RegionEU})
	conn := &v1alpha1.StripeConnection{ObjectMeta: metav1.ObjectMeta{Name: euConnection}}
	r.Get(conn)
	r.Update(conn, func() {
		conn.Spec.Webhooks = &v1alpha1.ConnectionWebhooks{RelayURL: r.relay.IntakeURL, Namespace: r.NS}
	})
	for _, suffix := range []string{"-platform", "-connect"} {
		endpoint := &v1alpha1.StripeWebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: euConnection + suffix}}
		controllertest.WaitForCondition(t, env.Client, endpoint, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	}
	euStripe, err := stripeapi.New(stripeapi.Config{APIKey: "sk_test_reader", BaseURL: euEmu.URL, Budget: stripeapi.Budget{RequestsPerSecond: 1000}})
	if err != nil {
		t.Fatal(err)
	}

	usTenant := onboardingTenant(t, r, "us-shop")
	euTenant := r.Tenant("eu-shop")
	euTenant.Spec.ConnectionRef.Name, euTenant.Spec.DataResidency = euConnection, v1alpha1.RegionEU
	r.Create(euTenant)
	controllertest.WaitForCondition(t, env.Client, euTenant, v1alpha1.ConditionChargesEnabled, metav1.ConditionFalse, v1alpha1.ReasonDisabled)
	r.Get(euTenant)

	customers := func(api stripeapi.Interface, prefix string) []string {
		var ids []string
		for i := range 2 {
			name := fmt.Sprintf("%s-%d", prefix, i)
			cus, err := api.CreateCustomer(ctx, stripeapi.CustomerCreateParams{IdempotencyKey: name,
				Tags: stripeapi.Tags{UID: "uid-" + name, NamespacedName: r.NS + "/" + name, Kind: "E2E"}, Email: name + "@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, cus.ID)
		}
		return ids
	}
	// Before the mirrors exist (backfill) and after (events).
	usIDs := customers(r.Stripe.ForAccount(usTenant.Status.AccountID), "us-early")
	euIDs := customers(euStripe.ForAccount(euTenant.Status.AccountID), "eu-early")

	r.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "reporting-db"}, StringData: map[string]string{"url": dsn}})
	for _, m := range []*v1alpha1.StripeMirror{
		mirrorOf(r.NS, "stripe-us", r.Connection, v1alpha1.RegionUS),
		mirrorOf(r.NS, "stripe-eu", euConnection, v1alpha1.RegionEU),
	} {
		r.Create(m)
		controllertest.WaitForConditionWithin(t, env.Client, m, v1alpha1.ConditionBackfillComplete, metav1.ConditionTrue, v1alpha1.ReasonBackfilled, 60*time.Second)
	}
	usIDs = append(usIDs, customers(r.Stripe.ForAccount(usTenant.Status.AccountID), "us-late")...)
	euIDs = append(euIDs, customers(euStripe.ForAccount(euTenant.Status.AccountID), "eu-late")...)

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	in := func(schema, id string) bool {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM `+schema+`.customers WHERE id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	controllertest.Eventually(t, 60*time.Second, func() error {
		for _, id := range usIDs {
			if !in("stripe_us", id) {
				return fmt.Errorf("US tenant's customer %s not in the US mirror yet", id)
			}
		}
		for _, id := range euIDs {
			if !in("stripe_eu", id) {
				return fmt.Errorf("EU tenant's customer %s not in the EU mirror yet", id)
			}
		}
		return nil
	})
	// Residency: every EU customer checked against the US mirror, and the reverse, after both are
	// caught up (the late ones arrived by event, after the early ones by backfill).
	for _, id := range euIDs {
		if in("stripe_us", id) {
			t.Errorf("EU tenant's customer %s is in the US mirror", id)
		}
	}
	for _, id := range usIDs {
		if in("stripe_eu", id) {
			t.Errorf("US tenant's customer %s is in the EU mirror", id)
		}
	}
	for schema, want := range map[string]struct{ region, tenant, platform string }{
		"stripe_us": {"us", r.NS + "/us-shop", r.Emu.PlatformAccount()},
		"stripe_eu": {"eu", r.NS + "/eu-shop", euEmu.PlatformAccount()},
	} {
		var other, platformRows, otherTenants int
		if err := db.QueryRow(`SELECT (SELECT count(*) FROM `+schema+`.customers WHERE region <> $1),
	(SELECT count(*) FROM `+schema+`.accounts WHERE tenant = '' AND id = $2),
	(SELECT count(*) FROM `+schema+`.accounts WHERE tenant NOT IN ('', $3))`, want.region, want.platform, want.tenant).
			Scan(&other, &platformRows, &otherTenants); err != nil {
			t.Fatal(err)
		}
		if other != 0 || platformRows != 1 || otherTenants != 0 {
			t.Errorf("%s: %d rows of another region, %d rows of its platform account (want 1), %d accounts of other tenants",
				schema, other, platformRows, otherTenants)
		}
	}
}

// mirrorOf is a StripeMirror of connection and region in schema stripe_<region>, without revalidation.
func mirrorOf(namespace, name, connection string, region v1alpha1.Region) *v1alpha1.StripeMirror {
	return &v1alpha1.StripeMirror{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.StripeMirrorSpec{ConnectionRef: v1alpha1.ConnectionReference{Name: connection}, Region: region,
			Database: v1alpha1.MirrorDatabase{URLSecretRef: v1alpha1.LocalSecretKeySelector{Name: "reporting-db", Key: "url"},
				Schema: "stripe_" + string(region)},
			Revalidation: &v1alpha1.MirrorRevalidation{SampleSize: ptr.To[int32](0)}}}
}
