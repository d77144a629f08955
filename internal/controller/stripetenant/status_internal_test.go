package stripetenant

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

var now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func testTenant() *v1alpha1.StripeTenant {
	return &v1alpha1.StripeTenant{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "acme"},
		Spec: v1alpha1.StripeTenantSpec{
			Account:    v1alpha1.TenantAccount{Type: v1alpha1.AccountTypeExpress, Country: "US"},
			Onboarding: &v1alpha1.Onboarding{ReturnURL: "https://x.example/done", RefreshURL: "https://x.example/refresh"},
		},
	}
}

// Pins what OnboardingComplete says for each stage of an account: the reason, and that the message
// names what is missing, by when, and how to get a link.
func TestOnboardingCondition(t *testing.T) {
	deadline := now.Add(72 * time.Hour)
	cases := map[string]struct {
		account     stripeapi.Account
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage []string
	}{
		"a new account: onboarding not finished (Stripe's past_due of a new account is not a restriction to report)": {
			account:    stripeapi.Account{Requirements: stripeapi.AccountRequirements{CurrentlyDue: []string{"external_account"}, PastDue: []string{"external_account", "tos_acceptance.date"}}},
			wantStatus: metav1.ConditionFalse, wantReason: v1alpha1.ReasonRequirementsDue,
			wantMessage: []string{"onboarding not finished", "2 fields due", "kubectl annotate -n team stripetenant/acme", "acme-onboarding-link"},
		},
		"submitted, with a field due by a deadline": {
			account:    stripeapi.Account{DetailsSubmitted: true, Requirements: stripeapi.AccountRequirements{CurrentlyDue: []string{"individual.verification.document"}, CurrentDeadline: deadline}},
			wantStatus: metav1.ConditionFalse, wantReason: v1alpha1.ReasonRequirementsDue,
			wantMessage: []string{"1 field due: individual.verification.document by " + deadline.Format(time.RFC3339)},
		},
		"past due after onboarding: restricted": {
			account:    stripeapi.Account{DetailsSubmitted: true, Requirements: stripeapi.AccountRequirements{PastDue: []string{"a", "b", "c", "d", "e"}}},
			wantStatus: metav1.ConditionFalse, wantReason: v1alpha1.ReasonRequirementsPastDue,
			wantMessage: []string{"5 fields past due", "a, b, c, d and 1 more"},
		},
		"verifying": {
			account:    stripeapi.Account{DetailsSubmitted: true, Requirements: stripeapi.AccountRequirements{PendingVerification: []string{"individual.id_number"}}},
			wantStatus: metav1.ConditionFalse, wantReason: v1alpha1.ReasonPendingVerification, wantMessage: []string{"nothing to do but wait"},
		},
		"complete, with fields due later": {
			account:    stripeapi.Account{DetailsSubmitted: true, Requirements: stripeapi.AccountRequirements{EventuallyDue: []string{"company.tax_id"}}},
			wantStatus: metav1.ConditionTrue, wantReason: v1alpha1.ReasonOnboardingComplete, wantMessage: []string{"will be due later", "company.tax_id"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := onboardingCondition(testTenant(), &tc.account)
			if got.status != tc.wantStatus || got.reason != tc.wantReason {
				t.Errorf("%s/%s, want %s/%s (%s)", got.status, got.reason, tc.wantStatus, tc.wantReason, got.message)
			}
			for _, want := range tc.wantMessage {
				if !strings.Contains(got.message, want) {
					t.Errorf("message %q lacks %q", got.message, want)
				}
			}
		})
	}
}

// Pins when an onboarding link is made and of which type, and when it is refused.
func TestPendingLinkRequest(t *testing.T) {
	valid := &metav1.Time{Time: now.Add(time.Minute)}
	expired := &metav1.Time{Time: now.Add(-time.Minute)}
	submitted := stripeapi.Account{DetailsSubmitted: true, Requirements: stripeapi.AccountRequirements{CurrentlyDue: []string{"external_account"}}}
	cases := map[string]struct {
		annotation string
		link       *v1alpha1.OnboardingLinkStatus
		account    stripeapi.Account
		custom     bool
		noURLs     bool
		want       string // link type; "-" none asked; "refused"
	}{
		"no request":                                    {want: "-"},
		"a new account: account_onboarding":             {annotation: "1", want: linkOnboarding},
		"the request already answered":                  {annotation: "1", link: &v1alpha1.OnboardingLinkStatus{RequestedAt: "1", ExpiresAt: expired}, want: "-"},
		"a new request while the link is valid":         {annotation: "2", link: &v1alpha1.OnboardingLinkStatus{RequestedAt: "1", ExpiresAt: valid}, want: "-"},
		"a new request after it expired: a fresh link":  {annotation: "2", link: &v1alpha1.OnboardingLinkStatus{RequestedAt: "1", ExpiresAt: expired}, want: linkOnboarding},
		"requirements due where the platform collects":  {annotation: "1", account: submitted, custom: true, want: linkUpdate},
		"requirements due where Stripe collects":        {annotation: "1", account: submitted, want: "refused"},
		"nothing to collect":                            {annotation: "1", account: stripeapi.Account{DetailsSubmitted: true}, want: "refused"},
		"no onboarding URLs in the spec":                {annotation: "1", noURLs: true, want: "refused"},
		"a refused request is not refused again":        {annotation: "1", link: &v1alpha1.OnboardingLinkStatus{RequestedAt: "1", Refused: "no"}, want: "-"},
		"a new request after a refusal is considered":   {annotation: "2", link: &v1alpha1.OnboardingLinkStatus{RequestedAt: "1", Refused: "no"}, want: linkOnboarding},
		"an expired link and the same request answered": {annotation: "1", link: &v1alpha1.OnboardingLinkStatus{RequestedAt: "1", ExpiresAt: expired}, want: "-"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tenant := testTenant()
			if tc.annotation != "" {
				tenant.Annotations = map[string]string{v1alpha1.AnnotationOnboardingLinkRequested: tc.annotation}
			}
			if tc.noURLs {
				tenant.Spec.Onboarding = nil
			}
			tenant.Status.OnboardingLink = tc.link
			account := tc.account
			if tc.custom {
				account.Type = string(v1alpha1.AccountTypeCustom)
			}
			got := pendingLinkRequest(tenant, &account, now)
			switch {
			case got == nil:
				if tc.want != "-" {
					t.Errorf("no request, want %s", tc.want)
				}
			case got.linkType == "":
				if tc.want != "refused" {
					t.Errorf("refused (%s), want %s", got.refusal, tc.want)
				}
			case got.linkType != tc.want:
				t.Errorf("link %s, want %s", got.linkType, tc.want)
			}
		})
	}
}

// Pins what a subscription update sends: only what differs, the item replaced in place with the
// tenant's proration, and a cancellation set elsewhere undone while the spec wants the subscription.
func TestDiffSubscription(t *testing.T) {
	want := &subscriptionWant{priceID: "price_b", quantity: ptr.To(int64(3)), proration: "always_invoice", collection: "charge_automatically"}
	have := func(mutate func(*stripeapi.Subscription)) *stripeapi.Subscription {
		s := &stripeapi.Subscription{CollectionMethod: "charge_automatically", Items: []stripeapi.SubscriptionItem{{ID: "si_1", PriceID: "price_b", Quantity: 3}}}
		if mutate != nil {
			mutate(s)
		}
		return s
	}
	cases := map[string]struct {
		have       *stripeapi.Subscription
		wantFields []string
		wantItem   *stripeapi.SubscriptionItemUpdate
	}{
		"in sync":                             {have: have(nil)},
		"a quantity":                          {have: have(func(s *stripeapi.Subscription) { s.Items[0].Quantity = 2 }), wantFields: []string{"price or quantity"}, wantItem: &stripeapi.SubscriptionItemUpdate{ID: "si_1", PriceID: "price_b", Quantity: ptr.To(int64(3))}},
		"a price":                             {have: have(func(s *stripeapi.Subscription) { s.Items[0].PriceID = "price_a" }), wantFields: []string{"price or quantity"}, wantItem: &stripeapi.SubscriptionItemUpdate{ID: "si_1", PriceID: "price_b", Quantity: ptr.To(int64(3))}},
		"a collection method":                 {have: have(func(s *stripeapi.Subscription) { s.CollectionMethod = "send_invoice" }), wantFields: []string{"collection method"}},
		"a cancellation set in the Dashboard": {have: have(func(s *stripeapi.Subscription) { s.CancelAtPeriodEnd = true }), wantFields: []string{"cancelAtPeriodEnd"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			params, fields := diffSubscription(want, tc.have)
			if strings.Join(fields, ",") != strings.Join(tc.wantFields, ",") {
				t.Errorf("fields %v, want %v", fields, tc.wantFields)
			}
			if tc.wantItem == nil {
				if len(params.Items) != 0 {
					t.Errorf("items %+v, want none", params.Items)
				}
				return
			}
			if len(params.Items) != 1 || params.Items[0].ID != tc.wantItem.ID || params.Items[0].PriceID != tc.wantItem.PriceID || *params.Items[0].Quantity != *tc.wantItem.Quantity {
				t.Errorf("items %+v, want %+v", params.Items, tc.wantItem)
			}
			if params.ProrationBehavior != "always_invoice" {
				t.Errorf("proration %q, want the tenant's always_invoice", params.ProrationBehavior)
			}
		})
	}
}

// Pins the onboarding recheck: asked for while the account cannot transact or has fields due, not
// once it is done; a deadline shortens it.
func TestRecheck(t *testing.T) {
	deadline := now.Add(time.Hour)
	cases := map[string]struct {
		account      stripeapi.Account
		want         bool
		wantNotAfter time.Time
	}{
		"enabled, nothing due: none":   {account: stripeapi.Account{ChargesEnabled: true, PayoutsEnabled: true}},
		"charges disabled":             {account: stripeapi.Account{PayoutsEnabled: true}, want: true},
		"enabled, a field due by then": {account: stripeapi.Account{ChargesEnabled: true, PayoutsEnabled: true, Requirements: stripeapi.AccountRequirements{CurrentlyDue: []string{"x"}, CurrentDeadline: deadline}}, want: true, wantNotAfter: deadline},
		"a past deadline is no bound":  {account: stripeapi.Account{Requirements: stripeapi.AccountRequirements{CurrentDeadline: now.Add(-time.Hour)}}, want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := recheck(testTenant(), &tc.account, now)
			if (got != nil) != tc.want {
				t.Fatalf("recheck %+v, want one: %v", got, tc.want)
			}
			if got != nil && !got.NotAfter.Equal(tc.wantNotAfter) {
				t.Errorf("not after %s, want %s", got.NotAfter, tc.wantNotAfter)
			}
		})
	}
}

// Pins that only what the spec sets is compared: what onboarding fills in is the tenant's.
func TestDiffAccount(t *testing.T) {
	account := &stripeapi.Account{Email: "a@x.example", Capabilities: map[string]string{"card_payments": "active"},
		BusinessProfile: stripeapi.BusinessProfile{Name: "ACME", URL: "https://acme.example", SupportPhone: "+1"},
		PayoutSchedule:  &stripeapi.PayoutSchedule{Interval: "weekly", WeeklyAnchor: "friday", DelayDays: 2}, Metadata: map[string]string{"cloudip_uid": "u", "team": "x"}}
	cases := map[string]struct {
		spec v1alpha1.TenantAccount
		want string
	}{
		"unset fields are the tenant's": {spec: v1alpha1.TenantAccount{}},
		"an email":                      {spec: v1alpha1.TenantAccount{Email: "b@x.example"}, want: "email"},
		"a profile field":               {spec: v1alpha1.TenantAccount{BusinessProfile: &v1alpha1.BusinessProfile{Name: "ACME Inc."}}, want: "businessProfile"},
		"a profile that matches":        {spec: v1alpha1.TenantAccount{BusinessProfile: &v1alpha1.BusinessProfile{Name: "ACME"}}},
		"a new capability":              {spec: v1alpha1.TenantAccount{Capabilities: []v1alpha1.Capability{"card_payments", "transfers"}}, want: "capabilities"},
		"the minimum delay matches any": {spec: v1alpha1.TenantAccount{PayoutSchedule: &v1alpha1.PayoutSchedule{Interval: "weekly", WeeklyAnchor: "friday"}}},
		"another anchor":                {spec: v1alpha1.TenantAccount{PayoutSchedule: &v1alpha1.PayoutSchedule{Interval: "weekly", WeeklyAnchor: "monday"}}, want: "payoutSchedule"},
		"a metadata value":              {spec: v1alpha1.TenantAccount{Metadata: v1alpha1.Metadata{"team": "y"}}, want: "metadata"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := strings.Join(diffAccount(tc.spec, account).fields, ","); got != tc.want {
				t.Errorf("fields %q, want %q", got, tc.want)
			}
		})
	}
}
