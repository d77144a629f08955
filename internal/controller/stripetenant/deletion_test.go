package stripetenant_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Pins deletion by Stripe's rules. In test mode: a tenant without spec.deletionPolicy is Orphan (the
// tenant's money and history live in Stripe), so deleting it writes nothing to Stripe and leaves
// account, customer and subscription as they were; with Delete the subscription is cancelled, the
// customer and the account deleted, and the DeletedExternal event says which. Under the emulator's
// live-mode rules: a Standard account, and an Express or Custom account holding a balance, are not
// deleted; the tenant keeps its finalizer and reports Synced=False DeletionBlocked with the balance
// in the message, until deletionPolicy Orphan lets it go (the account stays); at a zero balance an
// Express account is deleted.
func TestDeletionRules(t *testing.T) {
	ctx := context.Background()

	t.Run("test mode", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		plan := r.Plan("platform", controllertest.Monthly("monthly", 900))
		r.Create(plan)
		for _, tc := range []struct {
			name, tenant string
			policy       v1alpha1.DeletionPolicy
			deletes      bool
		}{
			{name: "deletionPolicy unset is Orphan: Stripe is left untouched", tenant: "orphaned"},
			{name: "Delete cancels the subscription, deletes customer and account", tenant: "deleted", policy: v1alpha1.DeletionPolicyDelete, deletes: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := r.in(t)
				tenant := subscribed(r.tenant(tc.tenant), plan.Name, "monthly")
				tenant.Spec.Subscription.TrialPeriodDays = ptrTo(int32(14))
				tenant.Spec.DeletionPolicy = tc.policy
				r.Create(tenant)
				r.eventually(tenant, func() bool { return tenant.Status.SubscriptionID != "" })
				r.synced(tenant)
				account, customer, subscription := tenant.Status.AccountID, tenant.Status.CustomerID, tenant.Status.SubscriptionID

				writes := r.Writes()
				r.remove(tenant)
				r.gone(tenant)

				a, accountErr := r.Stripe.GetAccount(ctx, account)
				_, customerErr := r.Stripe.GetCustomer(ctx, customer)
				s, subscriptionErr := r.Stripe.GetSubscription(ctx, subscription)
				if subscriptionErr != nil {
					t.Fatalf("subscription %s: %v", subscription, subscriptionErr)
				}
				if !tc.deletes {
					if n := r.Writes() - writes; n != 0 {
						t.Errorf("deleting an Orphan tenant made %d Stripe writes, want 0", n)
					}
					if accountErr != nil || a.ID != account || customerErr != nil || s.Status != "trialing" {
						t.Errorf("after an Orphan delete: account %s (%v), customer %s (%v), subscription %s %s: want all three untouched",
							account, accountErr, customer, customerErr, subscription, s.Status)
					}
					r.eventNotes(tenant, corev1.EventTypeNormal, managed.EventOrphaned)
					return
				}
				if s.Status != "canceled" {
					t.Errorf("subscription %s is %s, want canceled", subscription, s.Status)
				}
				if !stripeapi.IsNotFound(customerErr) {
					t.Errorf("customer %s after Delete: %v, want not found", customer, customerErr)
				}
				if !stripeapi.IsNotFound(accountErr) && !stripeapi.IsAccountInvalid(accountErr) {
					t.Errorf("account %s after Delete: %v, want gone", account, accountErr)
				}
				want := "cancelled subscription " + subscription + "; deleted customer " + customer + "; deleted connected account " + account
				if notes := r.eventNotes(tenant, corev1.EventTypeNormal, managed.EventDeleted); len(notes) != 1 || notes[0] != want {
					t.Errorf("DeletedExternal events %q, want one saying %q", notes, want)
				}
			})
		}
		r.NoSpecRefusals()
	})

	t.Run("live-mode rules", func(t *testing.T) {
		r := newRig(t, rigOptions{emulator: emulator.Options{Connect: emulator.ConnectRules{LiveModeDeletion: true}}})
		deleted := 0
		for _, tc := range []struct {
			name, tenant string
			accountType  v1alpha1.AccountType
			fund         int64    // cents of USD put on the account's balance
			blocked      []string // what the DeletionBlocked message says; nil: the account is deleted
			balance      string   // the balance, as the DeletionBlocked message must name it
		}{
			{name: "a Standard account is never deleted", tenant: "standard", accountType: v1alpha1.AccountTypeStandard,
				blocked: []string{"Stripe refused to delete the account", "Stripe is responsible for negative account balances", "deletionPolicy Orphan"}},
			{name: "an Express account holding a balance is not deleted", tenant: "express-funded", accountType: v1alpha1.AccountTypeExpress, fund: 1200,
				blocked: []string{"balance in any currency is non-zero", "deletionPolicy Orphan"}, balance: "the account holds 12.00 USD available"},
			{name: "a Custom account holding a balance is not deleted", tenant: "custom-funded", accountType: v1alpha1.AccountTypeCustom, fund: 1200,
				blocked: []string{"balance in any currency is non-zero", "deletionPolicy Orphan"}, balance: "the account holds 12.00 USD available"},
			{name: "an Express account at a zero balance is deleted", tenant: "express-empty", accountType: v1alpha1.AccountTypeExpress},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := r.in(t)
				tenant := r.tenant(tc.tenant)
				tenant.Spec.Account.Type = tc.accountType
				tenant.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete
				r.Create(tenant)
				r.synced(tenant)
				account := tenant.Status.AccountID
				if tc.fund != 0 {
					if _, err := r.Emu.FundAccount(account, tc.fund, "usd"); err != nil {
						t.Fatal(err)
					}
				}
				r.remove(tenant)
				if tc.blocked == nil {
					r.gone(tenant)
					deleted++
					if _, err := r.Stripe.GetAccount(ctx, account); !stripeapi.IsNotFound(err) && !stripeapi.IsAccountInvalid(err) {
						t.Errorf("account %s after Delete: %v, want gone", account, err)
					}
					r.eventNotes(tenant, corev1.EventTypeNormal, managed.EventDeleted)
					return
				}
				r.wait(tenant, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonDeletionBlocked)
				blocked := r.condition(tenant, v1alpha1.ConditionSynced).Message
				messageHas(t, "DeletionBlocked message", blocked, tc.blocked...)
				r.heldByFinalizer(tenant)
				r.eventNotes(tenant, corev1.EventTypeWarning, v1alpha1.ReasonDeletionBlocked)

				r.Update(tenant, func() { tenant.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan })
				r.gone(tenant)
				if a, err := r.Stripe.GetAccount(ctx, account); err != nil || a.ID != account {
					t.Errorf("account %s after the blocked tenant was let go: %v, want it kept", account, err)
				}
				r.eventNotes(tenant, corev1.EventTypeNormal, managed.EventOrphaned)
				if tc.balance == "" {
					return
				}
				if b, err := r.Stripe.ForAccount(account).GetBalance(ctx); err != nil || b.Available["usd"] != tc.fund {
					t.Fatalf("GET /v1/balance on the funded account says %+v (%v): the operator could not name the balance", b, err)
				}
				messageHas(t, "DeletionBlocked message", blocked, tc.balance)
			})
		}
		// Every 400 is Stripe's live-mode refusal of DELETE /v1/accounts/{account} (once or more per
		// blocked tenant, as passes come); nothing else was refused.
		refused, deletes := r.Emu.Stats().Responses["400"], r.route("DELETE /v1/accounts/{account}")
		if refused == 0 || refused != deletes-int64(deleted) {
			t.Errorf("%d requests refused with 400, %d account deletions of which %d succeeded: want every refusal to be a refused deletion", refused, deletes, deleted)
		}
	})
}
