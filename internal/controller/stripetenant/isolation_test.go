package stripetenant_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
)

// Pins the tenant's isolation rules, each refusal a clear condition with an event, and nothing of the
// refused kind in Stripe: a dataResidency other than the connection's region makes no Stripe request
// at all (beyond the connection's own GET /v1/account) and records no create; so does a namespace the
// connection's allowedNamespaces does not select; a subscription to a plan that lives on a tenant's
// connected account (spec.tenantRef), or to a plan on another StripeConnection, is refused
// (PlanNotAllowed) and a missing plan is waited for (WaitingForDependency): the account is created
// all the same, the customer and subscription are not.
func TestIsolation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		options rigOptions
		// setup makes what the tenant refers to, and returns the tenant.
		setup     func(r *rig) *v1alpha1.StripeTenant
		reason    string   // of Synced=False (and of SubscriptionActive=False for subscription refusals)
		eventType string   // of the event naming the refusal
		message   []string // what Synced's message says
		// account: the refusal is of the subscription only, so the account is created.
		account bool
	}{
		{
			name: "dataResidency eu on a us connection", options: rigOptions{connection: controllertest.ConnectionOptions{Region: v1alpha1.RegionUS}},
			setup: func(r *rig) *v1alpha1.StripeTenant {
				tenant := r.tenant("eu-tenant")
				tenant.Spec.DataResidency = v1alpha1.RegionEU
				return tenant
			},
			reason: v1alpha1.ReasonResidencyMismatch, eventType: corev1.EventTypeWarning,
			message: []string{"spec.dataResidency is eu", "is in region us", "nothing was sent to Stripe"},
		},
		{
			name: "a namespace the connection does not allow",
			options: rigOptions{connection: controllertest.ConnectionOptions{AllowedNamespaces: &metav1.LabelSelector{
				MatchLabels: map[string]string{"payments.cloudip.io/stripe": "allowed"}}}},
			setup:  func(r *rig) *v1alpha1.StripeTenant { return r.tenant("outsider") },
			reason: v1alpha1.ReasonNamespaceNotAllowed, eventType: corev1.EventTypeWarning,
			message: []string{"does not allow namespace", "spec.allowedNamespaces"},
		},
		{
			name: "a plan on a tenant's connected account",
			setup: func(r *rig) *v1alpha1.StripeTenant {
				r.Create(r.tenant("seller"))
				plan := r.Plan("seller-plan", controllertest.Monthly("monthly", 900))
				plan.Spec.ConnectionRef = nil // inherited from the tenant
				plan.Spec.TenantRef = &v1alpha1.LocalObjectReference{Name: "seller"}
				r.Create(plan)
				return subscribed(r.tenant("buyer"), "seller-plan", "monthly")
			},
			reason: v1alpha1.ReasonPlanNotAllowed, eventType: corev1.EventTypeWarning, account: true,
			message: []string{`BillingPlan "seller-plan" lives on StripeTenant "seller"'s connected account`, "only to a platform plan"},
		},
		{
			name: "a plan on another StripeConnection",
			setup: func(r *rig) *v1alpha1.StripeTenant {
				other := "other-" + r.NS
				controllertest.Connection(r.T, env.Client, other, r.Emu.URL, controllertest.ConnectionOptions{})
				plan := r.Plan("other-plan", controllertest.Monthly("monthly", 900))
				plan.Spec.ConnectionRef = &v1alpha1.ConnectionReference{Name: other}
				r.Create(plan)
				r.wait(plan, v1alpha1.ConditionReady, metav1.ConditionTrue, "") // a usable plan, only not the tenant's
				return subscribed(r.tenant("crosser"), "other-plan", "monthly")
			},
			reason: v1alpha1.ReasonPlanNotAllowed, eventType: corev1.EventTypeWarning, account: true,
			message: []string{`BillingPlan "other-plan" is on StripeConnection "other-`, "the subscription lives in the tenant's platform account"},
		},
		{
			name:   "a plan that does not exist",
			setup:  func(r *rig) *v1alpha1.StripeTenant { return subscribed(r.tenant("early"), "not-yet", "monthly") },
			reason: v1alpha1.ReasonWaitingForDependency, eventType: corev1.EventTypeNormal, account: true,
			message: []string{`BillingPlan "not-yet" does not exist`, "spec.subscription.planRef"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.options)
			tenant := tc.setup(r)
			r.Create(tenant)
			r.wait(tenant, v1alpha1.ConditionSynced, metav1.ConditionFalse, tc.reason)
			messageHas(t, "Synced message", r.condition(tenant, v1alpha1.ConditionSynced).Message, tc.message...)
			if ready := r.condition(tenant, v1alpha1.ConditionReady); ready.Status == metav1.ConditionTrue {
				t.Errorf("Ready is True (%s) on a refused tenant", ready.Message)
			}
			r.eventNotes(tenant, tc.eventType, tc.reason)

			if !tc.account {
				// Refused before any Stripe call: not even a create was attempted.
				if other := r.requestsOtherThan("GET /v1/account"); len(other) != 0 {
					t.Errorf("Stripe requests besides the connection's GET /v1/account: %v", other)
				}
				if name := v1alpha1.GetExternalName(tenant); name != "" {
					t.Errorf("external-name %q on a refused tenant, want none (no create attempted)", name)
				}
				if accounts := r.accountsOf(tenant); len(accounts) != 0 {
					t.Errorf("%d accounts made for a refused tenant", len(accounts))
				}
				r.NoSpecRefusals()
				return
			}
			r.wait(tenant, v1alpha1.ConditionSubscriptionActive, metav1.ConditionFalse, tc.reason)
			messageHas(t, "SubscriptionActive message", r.condition(tenant, v1alpha1.ConditionSubscriptionActive).Message, tc.message...)
			if accounts := r.accountsOf(tenant); len(accounts) != 1 || accounts[0].ID != tenant.Status.AccountID {
				t.Errorf("accounts %v, want the tenant's one account %q", ids(accounts, func(a accountT) string { return a.ID }), tenant.Status.AccountID)
			}
			if n := r.Requests("POST /v1/customers") + r.Requests("POST /v1/subscriptions"); n != 0 {
				t.Errorf("%d customer or subscription writes for a refused subscription", n)
			}
			if tenant.Status.CustomerID != "" || tenant.Status.SubscriptionID != "" {
				t.Errorf("customer %q, subscription %q recorded for a refused subscription", tenant.Status.CustomerID, tenant.Status.SubscriptionID)
			}
			r.NoSpecRefusals()
		})
	}
}
