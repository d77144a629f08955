package stripetenant

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// deletionBlockedRetry is how often a blocked deletion looks again: a balance reaches zero in days, not
// seconds, and every look costs a Stripe read.
const deletionBlockedRetry = 10 * time.Minute

// Delete follows Stripe's rules for connected accounts (deletionPolicy Delete only; the tenant's
// default, Orphan, never gets here): in test mode an account is deleted at any time; in live mode one
// where Stripe is liable for losses (Standard accounts are) never is, and others only at a zero
// balance. A blocked deletion keeps the finalizer and says why, with the balance. The subscription is
// cancelled at once and the customer deleted first, once the account is known to be deletable.
func (e *external) Delete(ctx context.Context, obj managed.Object) (string, error) {
	t := obj.(*v1alpha1.StripeTenant)
	if e.live {
		if err := e.checkLiveDeletion(ctx); err != nil {
			return "", err
		}
	}
	var done []string
	if s := e.subscription; s != nil && !ended(s) {
		if _, err := e.platform.CancelSubscription(ctx, s.ID, stripeapi.SubscriptionCancelParams{}); err != nil && !stripeapi.IsNotFound(err) {
			return "", err
		}
		done = append(done, "cancelled subscription "+s.ID)
	}
	if c := e.customer; c != nil {
		if err := e.platform.DeleteCustomer(ctx, c.ID); err != nil && !stripeapi.IsNotFound(err) {
			return "", err
		}
		done = append(done, "deleted customer "+c.ID)
		if err := e.pass.Secondaries.Forget(ctx, componentCustomer); err != nil {
			return "", err
		}
	}
	err := e.platform.DeleteAccount(ctx, e.account.ID)
	switch {
	case err == nil, stripeapi.IsNotFound(err), stripeapi.IsAccountInvalid(err):
		done = append(done, "deleted connected account "+e.account.ID)
	case stripeapi.Classify(err) == stripeapi.ClassTerminal:
		// Stripe's own rules refused it (live mode): say so with the balance, keep the finalizer.
		return "", e.blocked(ctx, t, strings.Join(append(done, ""), "; ")+"Stripe refused to delete the account: "+stripeapi.WithoutRequestID(err))
	default:
		return "", err
	}
	return strings.Join(done, "; "), nil
}

// checkLiveDeletion refuses, before any write, what Stripe never deletes in live mode.
func (e *external) checkLiveDeletion(ctx context.Context) error {
	if stripeLiable(e.account) {
		return &managed.DependencyError{Reason: v1alpha1.ReasonDeletionBlocked, RetryAfter: deletionBlockedRetry, Message: fmt.Sprintf(
			"Stripe never deletes a live-mode account where Stripe is liable for losses (a Standard account): %s stays; set spec.deletionPolicy Orphan to let this tenant go and keep the account", e.account.ID)}
	}
	balance, err := e.platform.ForAccount(e.account.ID).GetBalance(ctx)
	if err != nil {
		return err
	}
	if described := describeBalance(balance); described != "" {
		return &managed.DependencyError{Reason: v1alpha1.ReasonDeletionBlocked, RetryAfter: deletionBlockedRetry, Message: fmt.Sprintf(
			"Stripe deletes a live-mode account only at a zero balance, and %s holds %s: pay it out (or refund), or set spec.deletionPolicy Orphan", e.account.ID, described)}
	}
	return nil
}

// blocked reports a deletion Stripe refused, with the account's balance when it can be read.
func (e *external) blocked(ctx context.Context, _ *v1alpha1.StripeTenant, why string) error {
	if balance, err := e.platform.ForAccount(e.account.ID).GetBalance(ctx); err == nil {
		if described := describeBalance(balance); described != "" {
			why += "; the account holds " + described
		}
	}
	return &managed.DependencyError{Reason: v1alpha1.ReasonDeletionBlocked, RetryAfter: deletionBlockedRetry,
		Message: why + "; set spec.deletionPolicy Orphan to let this tenant go and keep the account"}
}

// describeBalance says what an account holds ("12.00 USD available, 3.00 USD pending"), or "" for zero.
func describeBalance(b *stripeapi.Balance) string {
	var parts []string
	for _, side := range []struct {
		name    string
		amounts map[string]int64
	}{{"available", b.Available}, {"pending", b.Pending}} {
		currencies := make([]string, 0, len(side.amounts))
		for currency, amount := range side.amounts {
			if amount != 0 {
				currencies = append(currencies, currency)
			}
		}
		sort.Strings(currencies)
		for _, currency := range currencies {
			parts = append(parts, formatAmount(side.amounts[currency], currency)+" "+side.name)
		}
	}
	return strings.Join(parts, ", ")
}
