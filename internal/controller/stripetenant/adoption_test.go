package stripetenant_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Pins adoption: a connected account made outside the operator is adopted through the external-name
// annotation with no Stripe write while it matches the spec, and managementPolicy Observe reads it
// without writing, matching (Synced=True Observing) or not (Synced=False Observing, Ready not True,
// the difference named). And the reconnect path: the tenant YAML applied again, on a fresh cluster,
// with the external-name annotations of its account, customer and subscription (and its plan's
// product), adopts all of them with zero Stripe writes and no duplicate, no migration.
func TestAdoptionAndReconnect(t *testing.T) {
	ctx := context.Background()

	t.Run("adoption by external-name", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		for _, tc := range []struct {
			name, tenant string
			policy       v1alpha1.ManagementPolicy
			email        string // the spec's email when it differs from the account's
			synced       metav1.ConditionStatus
			reason       string // of Synced
			message      string // in Synced's message
		}{
			{name: "a matching account is adopted without a write", tenant: "adopted",
				synced: metav1.ConditionTrue, reason: v1alpha1.ReasonAvailable},
			{name: "Observe on a matching account", tenant: "observed", policy: v1alpha1.ManagementPolicyObserve,
				synced: metav1.ConditionTrue, reason: v1alpha1.ReasonObserving, message: "Stripe matches the spec"},
			{name: "Observe on a differing account reads without writing", tenant: "audited", policy: v1alpha1.ManagementPolicyObserve,
				email: "wanted@tenants.example", synced: metav1.ConditionFalse, reason: v1alpha1.ReasonObserving, message: "differs from the spec and is left as it is: account: email"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := r.in(t)
				tenant := r.tenant(tc.tenant)
				spec := tenant.Spec.Account
				capabilities := make([]string, 0, len(spec.Capabilities))
				for _, c := range spec.Capabilities {
					capabilities = append(capabilities, string(c))
				}
				account, err := r.Stripe.CreateAccount(ctx, stripeapi.AccountCreateParams{
					IdempotencyKey: "outside-" + tc.tenant, Tags: stripeapi.Tags{UID: "outside-" + tc.tenant, NamespacedName: "legacy/" + tc.tenant, Kind: "Manual"},
					Type: string(spec.Type), Country: spec.Country, Email: spec.Email, Capabilities: capabilities,
				})
				if err != nil {
					t.Fatal(err)
				}
				writes := r.Writes()

				tenant.Annotations = map[string]string{v1alpha1.AnnotationExternalName: account.ID}
				tenant.Spec.ManagementPolicy = tc.policy
				if tc.email != "" {
					tenant.Spec.Account.Email = tc.email
				}
				r.Create(tenant)
				r.wait(tenant, v1alpha1.ConditionSynced, tc.synced, tc.reason)
				messageHas(t, "Synced message", r.condition(tenant, v1alpha1.ConditionSynced).Message, tc.message)
				if tenant.Status.AccountID != account.ID || v1alpha1.GetExternalName(tenant) != account.ID {
					t.Errorf("status.accountID %q, annotation %q: want the adopted %s", tenant.Status.AccountID, v1alpha1.GetExternalName(tenant), account.ID)
				}
				if len(tenant.Status.Capabilities) != len(capabilities) || tenant.Status.Requirements == nil {
					t.Errorf("capabilities %+v, requirements %+v: want what Stripe says of the adopted account", tenant.Status.Capabilities, tenant.Status.Requirements)
				}
				// Not onboarded: Ready is never True, and for a differing Observe tenant it says why.
				ready := r.condition(tenant, v1alpha1.ConditionReady)
				if ready.Status == metav1.ConditionTrue || (tc.email != "" && ready.Reason != v1alpha1.ReasonObserving) {
					t.Errorf("Ready %s/%s (%s)", ready.Status, ready.Reason, ready.Message)
				}
				if n := r.Writes() - writes; n != 0 {
					t.Errorf("adoption made %d Stripe writes, want 0", n)
				}
				if a, err := r.Stripe.GetAccount(ctx, account.ID); err != nil || a.Email != spec.Email {
					t.Errorf("account %s after adoption: email %q (%v), want it untouched", account.ID, a.Email, err)
				}
				if mine := r.accountsOf(tenant); len(mine) != 0 {
					t.Errorf("%d accounts created for a tenant that adopts one", len(mine))
				}
			})
		}

		t.Run("an adopted tenant is deleted like a created one", func(t *testing.T) {
			r := r.in(t)
			tenant := r.tenant("adopted-then-deleted")
			account, err := r.Stripe.CreateAccount(ctx, stripeapi.AccountCreateParams{
				IdempotencyKey: "outside-deleted", Tags: stripeapi.Tags{UID: "outside-deleted", NamespacedName: "legacy/deleted", Kind: "Manual"},
				Type: "express", Country: "US", Email: tenant.Spec.Account.Email,
				Capabilities: []string{"card_payments", "transfers", "us_bank_account_ach_payments"},
			})
			if err != nil {
				t.Fatal(err)
			}
			tenant.Annotations = map[string]string{v1alpha1.AnnotationExternalName: account.ID}
			tenant.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete
			r.Create(tenant)
			r.synced(tenant)
			if !controllerutil.ContainsFinalizer(tenant, v1alpha1.Finalizer) {
				t.Fatal("an adopted tenant has no finalizer: deleting it with deletionPolicy Delete would leave its " +
					"account in Stripe without a word, and in-use protection (plans on its account) would not run")
			}
			r.remove(tenant)
			r.gone(tenant)
			if _, err := r.Stripe.GetAccount(ctx, account.ID); !stripeapi.IsNotFound(err) && !stripeapi.IsAccountInvalid(err) {
				t.Errorf("adopted account %s after a Delete: %v, want gone", account.ID, err)
			}
		})
		r.NoSpecRefusals()
	})

	t.Run("reconnect on a fresh cluster", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		apply := func(r *rig, annotations map[string]string) {
			t.Helper()
			if out, err := env.KubectlInput(tenantYAML(r.Connection, annotations), "apply", "-n", r.NS, "-f", "-"); err != nil {
				t.Fatalf("kubectl apply: %v\n%s", err, out)
			}
		}
		apply(r, nil)
		plan := &v1alpha1.BillingPlan{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "platform"}}
		tenant := &v1alpha1.StripeTenant{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "acme"}}
		r.eventually(tenant, func() bool { return tenant.Status.SubscriptionID != "" })
		r.synced(tenant)
		r.wait(tenant, v1alpha1.ConditionSubscriptionActive, metav1.ConditionTrue, v1alpha1.ReasonSubscriptionTrialing)
		r.Get(plan)
		first := tenant.Status
		product := plan.Status.ProductID
		counts := func(r *rig) string {
			accounts, err := r.Stripe.ListAccounts(ctx, stripeapi.AccountListParams{})
			if err != nil {
				t.Fatal(err)
			}
			customers, err := r.Stripe.ListCustomers(ctx, stripeapi.CustomerListParams{})
			if err != nil {
				t.Fatal(err)
			}
			subscriptions, err := r.Stripe.ListSubscriptions(ctx, stripeapi.SubscriptionListParams{Status: "all"})
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%d accounts, %d customers, %d subscriptions", len(accounts), len(customers), len(subscriptions))
		}
		before := counts(r)

		// The old cluster lets the tenant go (deletionPolicy unset: Orphan) and Stripe keeps everything.
		r.remove(tenant)
		r.gone(tenant)

		fresh := r.freshCluster()
		writes, tenantWrites := fresh.Writes(), fresh.tenantWrites()
		apply(fresh, map[string]string{
			"plan/" + v1alpha1.AnnotationExternalName:                      product,
			"tenant/" + v1alpha1.AnnotationExternalName:                    first.AccountID,
			"tenant/" + managed.AnnotationSecondaryPrefix + "customer":     first.CustomerID,
			"tenant/" + managed.AnnotationSecondaryPrefix + "subscription": first.SubscriptionID,
		})
		again := &v1alpha1.StripeTenant{ObjectMeta: metav1.ObjectMeta{Namespace: fresh.NS, Name: "acme"}}
		fresh.synced(again)
		fresh.wait(again, v1alpha1.ConditionSubscriptionActive, metav1.ConditionTrue, v1alpha1.ReasonSubscriptionTrialing)
		if s := again.Status; s.AccountID != first.AccountID || s.CustomerID != first.CustomerID || s.SubscriptionID != first.SubscriptionID ||
			s.SubscriptionPriceID != first.SubscriptionPriceID {
			t.Errorf("on the fresh cluster: account %s, customer %s, subscription %s on %s; want %s, %s, %s on %s",
				s.AccountID, s.CustomerID, s.SubscriptionID, s.SubscriptionPriceID, first.AccountID, first.CustomerID, first.SubscriptionID, first.SubscriptionPriceID)
		}
		againPlan := &v1alpha1.BillingPlan{ObjectMeta: metav1.ObjectMeta{Namespace: fresh.NS, Name: "platform"}}
		fresh.wait(againPlan, v1alpha1.ConditionReady, metav1.ConditionTrue, "")
		if againPlan.Status.ProductID != product {
			t.Errorf("the plan on the fresh cluster has product %s, want %s", againPlan.Status.ProductID, product)
		}
		if n := fresh.tenantWrites() - tenantWrites; n != 0 {
			t.Errorf("reconnecting made %d writes on accounts, customers or subscriptions, want 0", n)
		}
		if n := fresh.Writes() - writes; n != 0 {
			t.Errorf("reconnecting made %d Stripe writes (plan included), want 0", n)
		}
		if after := counts(fresh); after != before {
			t.Errorf("Stripe holds %s after reconnecting, %s before: want no duplicate", after, before)
		}
		fresh.NoSpecRefusals()
	})
}

// tenantYAML is what a platform engineer applies: a platform plan and a tenant subscribed to it, on
// the connection. annotations ("plan/<key>" or "tenant/<key>": value) are added to the plan or the
// tenant: on a fresh cluster, the ids of the Stripe objects to adopt.
func tenantYAML(connection string, annotations map[string]string) string {
	metadata := func(kind, name string) string {
		out := "metadata:\n  name: " + name + "\n"
		var lines []string
		for key, value := range annotations {
			if k, ok := strings.CutPrefix(key, kind+"/"); ok {
				lines = append(lines, fmt.Sprintf("    %s: %q\n", k, value))
			}
		}
		if len(lines) > 0 {
			out += "  annotations:\n" + strings.Join(lines, "")
		}
		return out
	}
	return `apiVersion: payments.cloudip.io/v1alpha1
kind: BillingPlan
` + metadata("plan", "platform") + `spec:
  connectionRef: {name: ` + connection + `}
  product: {name: CloudIP Platform}
  prices:
  - {key: monthly, currency: usd, unitAmount: 900, nickname: monthly, recurring: {interval: month}}
---
apiVersion: payments.cloudip.io/v1alpha1
kind: StripeTenant
` + metadata("tenant", "acme") + `spec:
  connectionRef: {name: ` + connection + `}
  dataResidency: us
  account:
    type: express
    country: US
    email: acme@tenants.example
    capabilities: [card_payments, transfers, us_bank_account_ach_payments]
  billingEmail: billing@acme.example
  subscription:
    planRef: {name: platform}
    priceKey: monthly
    trialPeriodDays: 14
`
}
