package stripetenant

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeapi/fake"
)

// Pins the adapter's live-mode pre-check before it deletes a tenant's Stripe objects: an account
// where Stripe is liable for losses (a Standard account, or controller.losses.payments stripe) is
// refused with DeletionBlocked before any Stripe call, its balance not even read; any other account
// has its balance read on the connected account itself (Stripe-Account), and a non-zero balance
// (available or pending, in any currency, negative too) is refused naming the amounts, with no write
// (the subscription is not cancelled either); a balance that cannot be read is an error, not a
// deletion; at a zero balance the subscription is cancelled and the account deleted.
func TestLiveDeletionPreCheck(t *testing.T) {
	trialing := &stripeapi.Subscription{ID: "sub_1", Status: "trialing"}
	for _, tc := range []struct {
		name         string
		account      stripeapi.Account
		subscription *stripeapi.Subscription
		balance      *stripeapi.Balance // nil: the balance must not be read
		balanceErr   error
		blocked      []string // parts of the DeletionBlocked message; nil: no refusal
		wantErr      bool     // another error, no refusal and no write
		done         string   // what Delete reports it did
		writes       []string // the Stripe writes, in order
	}{
		{
			name:    "a Standard account is never deleted",
			account: stripeapi.Account{ID: "acct_std", Type: "standard"}, subscription: trialing,
			blocked: []string{"Stripe is liable for losses (a Standard account)", "acct_std stays", "spec.deletionPolicy Orphan"},
		},
		{
			name:    "an account whose losses Stripe bears (controller properties) is never deleted",
			account: stripeapi.Account{ID: "acct_ctl", Type: "none", Controller: &stripeapi.AccountController{LossesPayments: "stripe"}},
			blocked: []string{"Stripe is liable for losses", "acct_ctl stays"},
		},
		{
			name:    "a balance blocks, each amount named",
			account: stripeapi.Account{ID: "acct_bal", Type: "express"}, subscription: trialing,
			balance: &stripeapi.Balance{Available: map[string]int64{"usd": 1200, "eur": 0}, Pending: map[string]int64{"eur": 300}},
			blocked: []string{"only at a zero balance", "acct_bal holds 12.00 USD available, 3.00 EUR pending", "spec.deletionPolicy Orphan"},
		},
		{
			name:    "a zero-decimal currency is named in whole units",
			account: stripeapi.Account{ID: "acct_jpy", Type: "custom"},
			balance: &stripeapi.Balance{Available: map[string]int64{"jpy": 500}},
			blocked: []string{"acct_jpy holds 500 JPY available"},
		},
		{
			name:    "a negative balance blocks too",
			account: stripeapi.Account{ID: "acct_neg", Type: "none", Controller: &stripeapi.AccountController{LossesPayments: "application"}},
			balance: &stripeapi.Balance{Available: map[string]int64{"usd": -250}},
			blocked: []string{"acct_neg holds -2.50 USD available"},
		},
		{
			name:    "a balance that cannot be read is an error, not a deletion",
			account: stripeapi.Account{ID: "acct_err", Type: "express"}, subscription: trialing,
			balanceErr: errors.New("connection reset"), wantErr: true,
		},
		{
			name:    "at a zero balance the subscription is cancelled and the account deleted",
			account: stripeapi.Account{ID: "acct_zero", Type: "express"}, subscription: trialing,
			balance: &stripeapi.Balance{Available: map[string]int64{"usd": 0}, Pending: map[string]int64{"usd": 0}},
			done:    "cancelled subscription sub_1; deleted connected account acct_zero",
			writes:  []string{"CancelSubscription sub_1", "DeleteAccount acct_zero"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var writes, balanceReads []string
			platform := &fake.Client{
				Account: "acct_platform",
				FakeForAccount: func(id string) stripeapi.Interface {
					return &fake.Client{Account: id, FakeGetBalance: func(context.Context) (*stripeapi.Balance, error) {
						balanceReads = append(balanceReads, id)
						if tc.balance == nil && tc.balanceErr == nil {
							t.Errorf("the balance of %s was read", id)
							return &stripeapi.Balance{}, nil
						}
						return tc.balance, tc.balanceErr
					}}
				},
				FakeCancelSubscription: func(_ context.Context, id string, _ stripeapi.SubscriptionCancelParams) (*stripeapi.Subscription, error) {
					writes = append(writes, "CancelSubscription "+id)
					return &stripeapi.Subscription{ID: id, Status: "canceled"}, nil
				},
				FakeDeleteAccount: func(_ context.Context, id string) error {
					writes = append(writes, "DeleteAccount "+id)
					return nil
				},
			}
			tags := stripeapi.Tags{UID: "uid-1", NamespacedName: "tenants/acme", Kind: Kind}
			account, subscription := tc.account, tc.subscription
			e := &external{live: true, account: &account, subscription: subscription, platform: platform,
				pass: managed.NewPass(platform, tags, 1, "pass-1")}
			tenant := &v1alpha1.StripeTenant{ObjectMeta: metav1.ObjectMeta{Namespace: "tenants", Name: "acme", UID: "uid-1"}}

			done, err := e.Delete(context.Background(), tenant)

			if !slices.Equal(writes, tc.writes) {
				t.Errorf("Stripe writes %q, want %q", writes, tc.writes)
			}
			if tc.balance != nil || tc.balanceErr != nil {
				if !slices.Equal(balanceReads, []string{tc.account.ID}) {
					t.Errorf("balance read on %q, want once on the connected account %s", balanceReads, tc.account.ID)
				}
			}
			var dependency *managed.DependencyError
			switch {
			case tc.blocked != nil:
				if !errors.As(err, &dependency) || dependency.Reason != v1alpha1.ReasonDeletionBlocked {
					t.Fatalf("Delete: %v (%T), want a DependencyError with reason %s", err, err, v1alpha1.ReasonDeletionBlocked)
				}
				if dependency.RetryAfter <= 0 || dependency.Missing {
					t.Errorf("RetryAfter %s, Missing %v: want a slow retry of a present dependency", dependency.RetryAfter, dependency.Missing)
				}
				for _, part := range tc.blocked {
					if !strings.Contains(dependency.Message, part) {
						t.Errorf("message %q lacks %q", dependency.Message, part)
					}
				}
			case tc.wantErr:
				if err == nil || errors.As(err, &dependency) {
					t.Errorf("Delete: %v, want the balance read's error", err)
				}
			default:
				if err != nil {
					t.Fatalf("Delete: %v", err)
				}
				if done != tc.done {
					t.Errorf("Delete did %q, want %q", done, tc.done)
				}
			}
		})
	}
}
