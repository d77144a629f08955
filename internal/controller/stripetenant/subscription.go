package stripetenant

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// The tenant's platform subscription: a customer on the platform account (billing email, tags, no
// other personal data) and a subscription to the plan's price by key. Both are secondary objects, so
// their ids are persisted like the account's (managed.Secondaries), and a crash never leaves two.

// Components of the tenant's secondary objects, in their tags and annotations.
const (
	componentAccount      = "account"
	componentCustomer     = "customer"
	componentSubscription = "subscription"
)

// Event reasons of the subscription's writes (creates are the generic CreatedCustomer and
// CreatedSubscription).
const (
	eventUpdatedCustomer      = "UpdatedCustomer"
	eventUpdatedSubscription  = "UpdatedSubscription"
	eventCanceledSubscription = "CanceledSubscription"
)

// subscriptionWant is what spec.subscription asks for, resolved against the plan.
type subscriptionWant struct {
	planName     string
	priceKey     string
	priceID      string
	quantity     *int64 // nil for a metered price, which takes none
	proration    string
	collection   string
	daysUntilDue int64
	trialDays    int64
}

// resolveSubscription finds the price spec.subscription asks for. The plan must be a platform plan
// (no tenantRef) of the tenant's own connection, in the same namespace (the reference is local).
func resolveSubscription(ctx context.Context, kube client.Reader, t *v1alpha1.StripeTenant, current *stripeapi.Subscription) (*subscriptionWant, error) {
	spec := t.Spec.Subscription
	var plan v1alpha1.BillingPlan
	if err := kube.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: spec.PlanRef.Name}, &plan); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, managed.WaitingFor("BillingPlan %q does not exist (spec.subscription.planRef)", spec.PlanRef.Name)
		}
		return nil, fmt.Errorf("get BillingPlan %s/%s: %w", t.Namespace, spec.PlanRef.Name, err)
	}
	if plan.Spec.TenantRef != nil {
		return nil, &managed.DependencyError{Reason: v1alpha1.ReasonPlanNotAllowed, Message: fmt.Sprintf(
			"BillingPlan %q lives on StripeTenant %q's connected account: a tenant subscribes only to a platform plan (one without spec.tenantRef)", plan.Name, plan.Spec.TenantRef.Name)}
	}
	if planConnection, tenantConnection := managed.ConnectionRefName(&plan), managed.ConnectionRefName(t); planConnection != tenantConnection {
		return nil, &managed.DependencyError{Reason: v1alpha1.ReasonPlanNotAllowed, Message: fmt.Sprintf(
			"BillingPlan %q is on StripeConnection %q and the tenant on %q: the subscription lives in the tenant's platform account", plan.Name, planConnection, tenantConnection)}
	}
	i := slices.IndexFunc(plan.Spec.Prices, func(p v1alpha1.Price) bool { return p.Key == spec.PriceKey })
	if i < 0 {
		keys := make([]string, 0, len(plan.Spec.Prices))
		for _, p := range plan.Spec.Prices {
			keys = append(keys, p.Key)
		}
		return nil, managed.Terminal("BillingPlan %q has no price key %q (spec.subscription.priceKey; its keys: %s)", plan.Name, spec.PriceKey, strings.Join(keys, ", "))
	}
	price := plan.Spec.Prices[i]
	if price.Recurring == nil {
		return nil, managed.Terminal("price %q of BillingPlan %q is one-time: a subscription needs a recurring price", spec.PriceKey, plan.Name)
	}
	want := &subscriptionWant{
		planName: plan.Name, priceKey: spec.PriceKey,
		proration:  string(spec.ProrationBehavior),
		collection: string(spec.CollectionMethod),
		trialDays:  int64(ptr.Deref(spec.TrialPeriodDays, 0)),
	}
	if want.proration == "" {
		want.proration = string(v1alpha1.ProrationCreateProrations)
	}
	if want.collection == "" {
		want.collection = string(v1alpha1.CollectionChargeAutomatically)
	}
	if want.collection == string(v1alpha1.CollectionSendInvoice) {
		want.daysUntilDue = int64(ptr.Deref(spec.DaysUntilDue, 0))
	}
	if price.Recurring.UsageType != v1alpha1.UsageTypeMetered {
		want.quantity = ptr.To(ptr.Deref(spec.Quantity, 1))
	}
	for _, p := range plan.Status.Prices {
		if p.Key == spec.PriceKey {
			want.priceID = p.ID
		}
	}
	if want.priceID == "" {
		return nil, managed.WaitingFor("BillingPlan %q has not created its price %q yet", plan.Name, spec.PriceKey)
	}
	// A pinned tenant keeps the version of the key it has when the plan makes a new one.
	if spec.PinPrice && current != nil && len(current.Items) == 1 && keyHadPrice(plan.Status, spec.PriceKey, current.Items[0].PriceID) {
		want.priceID = current.Items[0].PriceID
	}
	return want, nil
}

func keyHadPrice(status v1alpha1.BillingPlanStatus, key, priceID string) bool {
	for _, p := range status.Prices {
		if p.Key == key && p.ID == priceID {
			return true
		}
	}
	for _, p := range status.ArchivedPrices {
		if p.Key == key && p.ID == priceID {
			return true
		}
	}
	return false
}

// ended says whether a subscription is over for good: a new one is needed to bill the tenant again.
func ended(s *stripeapi.Subscription) bool {
	return s.Status == "canceled" || s.Status == "incomplete_expired"
}

// diffSubscription names what an update must change for the subscription to match want.
func diffSubscription(want *subscriptionWant, have *stripeapi.Subscription) (stripeapi.SubscriptionUpdateParams, []string) {
	var p stripeapi.SubscriptionUpdateParams
	var fields []string
	if len(have.Items) != 1 || have.Items[0].PriceID != want.priceID || (want.quantity != nil && have.Items[0].Quantity != *want.quantity) {
		item := stripeapi.SubscriptionItemUpdate{PriceID: want.priceID, Quantity: want.quantity}
		if len(have.Items) > 0 {
			item.ID = have.Items[0].ID
		}
		p.Items = []stripeapi.SubscriptionItemUpdate{item}
		p.ProrationBehavior = want.proration
		fields = append(fields, "price or quantity")
	}
	if have.CollectionMethod != want.collection || (want.daysUntilDue != 0 && have.DaysUntilDue != want.daysUntilDue) {
		p.CollectionMethod = want.collection
		if want.daysUntilDue != 0 {
			p.DaysUntilDue = ptr.To(want.daysUntilDue)
		}
		fields = append(fields, "collection method")
	}
	if have.CancelAtPeriodEnd {
		p.CancelAtPeriodEnd = ptr.To(false) // the spec wants the subscription: a cancellation set elsewhere is undone
		fields = append(fields, "cancelAtPeriodEnd")
	}
	return p, fields
}

// syncSubscription makes the customer and subscription match spec.subscription (or ends the
// subscription when the spec no longer has one).
func (e *external) syncSubscription(ctx context.Context, t *v1alpha1.StripeTenant) error {
	if t.Spec.Subscription == nil {
		return e.endSubscription(ctx, t)
	}
	if e.subscriptionErr != nil {
		return e.subscriptionErr
	}
	want := e.want
	customerID, err := e.pass.Secondaries.Ensure(ctx, componentCustomer,
		func(ctx context.Context, key string) (string, error) {
			c, err := e.platform.CreateCustomer(ctx, stripeapi.CustomerCreateParams{
				IdempotencyKey: key, Tags: e.tags(componentCustomer),
				Name: t.Namespace + "/" + t.Name, Email: t.Spec.BillingEmail,
			})
			if err != nil {
				return "", err
			}
			e.customer = c
			return c.ID, nil
		},
		func(ctx context.Context, since time.Time) (string, error) {
			found, err := e.platform.FindCustomersByTags(ctx, e.tags(componentCustomer), stripeapi.FindOptions{CreatedSince: since})
			if err != nil || len(found) == 0 {
				return "", err
			}
			return found[len(found)-1].ID, nil // the oldest: the first create, should two ever exist
		})
	if err != nil {
		return err
	}
	t.Status.CustomerID = customerID
	if c := e.customer; c != nil && t.Spec.BillingEmail != "" && c.Email != t.Spec.BillingEmail {
		updated, err := e.platform.UpdateCustomer(ctx, c.ID, stripeapi.CustomerUpdateParams{IdempotencyKey: e.pass.UpdateKey("update-customer", t.Spec.BillingEmail), Email: ptr.To(t.Spec.BillingEmail)})
		if err != nil {
			return err
		}
		e.customer = updated
		e.pass.Record(eventUpdatedCustomer, "updated customer %s: email", c.ID)
	}

	if s := e.subscription; s != nil && ended(s) {
		// Over for good (cancelled, or its first invoice never paid): bill the tenant with a new one.
		if err := e.pass.Secondaries.Forget(ctx, componentSubscription); err != nil {
			return err
		}
		e.subscription = nil
	}
	if e.subscription == nil {
		if _, err := e.pass.Secondaries.Ensure(ctx, componentSubscription, e.createSubscription(customerID, want), e.findSubscription); err != nil {
			return err
		}
	} else if params, fields := diffSubscription(want, e.subscription); len(fields) > 0 {
		params.IdempotencyKey = e.pass.UpdateKey("update-subscription", params)
		s, err := e.platform.UpdateSubscription(ctx, e.subscription.ID, params)
		if err != nil {
			return err
		}
		e.subscription = s
		e.pass.Record(eventUpdatedSubscription, "updated subscription %s: %s (proration %s)", s.ID, strings.Join(fields, ", "), want.proration)
	}
	if e.subscription != nil {
		reportSubscription(t, e.subscription, want)
	}
	return nil
}

func (e *external) createSubscription(customerID string, want *subscriptionWant) managed.CreateFunc {
	return func(ctx context.Context, key string) (string, error) {
		item := stripeapi.SubscriptionItemParams{PriceID: want.priceID}
		if want.quantity != nil {
			item.Quantity = *want.quantity
		}
		s, err := e.platform.CreateSubscription(ctx, stripeapi.SubscriptionCreateParams{
			IdempotencyKey: key, Tags: e.tags(componentSubscription), CustomerID: customerID,
			Items: []stripeapi.SubscriptionItemParams{item}, TrialPeriodDays: want.trialDays,
			CollectionMethod: want.collection, DaysUntilDue: want.daysUntilDue,
		})
		if err != nil {
			return "", err
		}
		e.subscription = s
		return s.ID, nil
	}
}

func (e *external) findSubscription(ctx context.Context, since time.Time) (string, error) {
	found, err := e.platform.FindSubscriptionsByTags(ctx, e.tags(componentSubscription), stripeapi.FindOptions{CreatedSince: since})
	if err != nil || len(found) == 0 {
		return "", err
	}
	e.subscription = &found[len(found)-1]
	return e.subscription.ID, nil
}

// endSubscription cancels the subscription once spec.subscription is removed: at the end of the
// period (the tenant keeps what it paid for), or at once if spec.subscriptionCancellation says so.
func (e *external) endSubscription(ctx context.Context, t *v1alpha1.StripeTenant) error {
	s := e.subscription
	if s == nil || ended(s) {
		return nil
	}
	if t.Spec.SubscriptionCancellation == v1alpha1.SubscriptionCancelImmediately {
		canceled, err := e.platform.CancelSubscription(ctx, s.ID, stripeapi.SubscriptionCancelParams{})
		if err != nil {
			return err
		}
		e.subscription = canceled
		e.pass.Record(eventCanceledSubscription, "cancelled subscription %s now (spec.subscription removed, subscriptionCancellation Immediately)", s.ID)
	} else if !s.CancelAtPeriodEnd {
		updated, err := e.platform.UpdateSubscription(ctx, s.ID, stripeapi.SubscriptionUpdateParams{IdempotencyKey: e.pass.UpdateKey("cancel-subscription/" + s.ID), CancelAtPeriodEnd: ptr.To(true)})
		if err != nil {
			return err
		}
		e.subscription = updated
		e.pass.Record(eventCanceledSubscription, "subscription %s cancels at the end of its period, %s (spec.subscription removed)", s.ID, formatTime(s.CurrentPeriodEnd))
	}
	reportSubscription(t, e.subscription, nil)
	return nil
}

// subscriptionDiff names what differs between the subscription part of the spec and Stripe, for
// Observe; the empty string means nothing.
func subscriptionDiff(t *v1alpha1.StripeTenant, want *subscriptionWant, customer *stripeapi.Customer, s *stripeapi.Subscription) []string {
	if t.Spec.Subscription == nil {
		if s != nil && !ended(s) && (t.Spec.SubscriptionCancellation == v1alpha1.SubscriptionCancelImmediately || !s.CancelAtPeriodEnd) {
			return []string{"subscription: cancel (spec.subscription removed)"}
		}
		return nil
	}
	if want == nil {
		return []string{"subscription: waiting for its plan"}
	}
	var diff []string
	if customer == nil {
		diff = append(diff, "customer: create")
	} else if t.Spec.BillingEmail != "" && customer.Email != t.Spec.BillingEmail {
		diff = append(diff, "customer: email")
	}
	switch {
	case s == nil || ended(s):
		diff = append(diff, "subscription: create")
	default:
		if _, fields := diffSubscription(want, s); len(fields) > 0 {
			diff = append(diff, "subscription: "+strings.Join(fields, ", "))
		}
	}
	return diff
}

// reportSubscription writes the subscription's state into status and SubscriptionActive, whose
// message says what is wrong and what the customer must do.
func reportSubscription(t *v1alpha1.StripeTenant, s *stripeapi.Subscription, want *subscriptionWant) {
	st := &t.Status
	st.SubscriptionID, st.SubscriptionStatus, st.CancelAtPeriodEnd = s.ID, s.Status, s.CancelAtPeriodEnd
	st.CustomerID = s.CustomerID
	st.SubscriptionPriceID, st.SubscriptionQuantity = "", nil
	if len(s.Items) == 1 {
		st.SubscriptionPriceID = s.Items[0].PriceID
		if want == nil || want.quantity != nil {
			st.SubscriptionQuantity = ptr.To(s.Items[0].Quantity)
		}
	}
	st.CurrentPeriodEnd = timeOrNil(s.CurrentPeriodEnd)
	st.LatestInvoice = nil
	if inv := s.LatestInvoice; inv != nil {
		st.LatestInvoice = &v1alpha1.InvoiceSummary{ID: inv.ID, Number: inv.Number, Status: inv.Status, AmountDue: inv.AmountDue, Currency: inv.Currency, DueDate: timeOrNil(inv.DueDate)}
	}
	v := subscriptionVerdict(s)
	managed.SetCondition(t, v1alpha1.ConditionSubscriptionActive, v.status, v.reason, v.message)
}

func subscriptionVerdict(s *stripeapi.Subscription) verdict {
	invoice := "its latest invoice"
	if inv := s.LatestInvoice; inv != nil {
		name := inv.Number
		if name == "" {
			name = inv.ID
		}
		invoice = fmt.Sprintf("invoice %s (%s, %s)", name, formatAmount(inv.AmountDue, inv.Currency), inv.Status)
	}
	ending := ""
	if s.CancelAtPeriodEnd {
		ending = "; it cancels at the end of its period, " + formatTime(s.CurrentPeriodEnd)
	}
	switch s.Status {
	case "active":
		return verdict{metav1.ConditionTrue, v1alpha1.ReasonSubscriptionActive, fmt.Sprintf("subscription %s is active; the period ends %s%s", s.ID, formatTime(s.CurrentPeriodEnd), ending)}
	case "trialing":
		return verdict{metav1.ConditionTrue, v1alpha1.ReasonSubscriptionTrialing, fmt.Sprintf("subscription %s is in its trial until %s%s", s.ID, formatTime(s.TrialEnd), ending)}
	case "past_due":
		todo := "the customer must pay it or update its payment method; Stripe retries the payment"
		if s.CollectionMethod == string(v1alpha1.CollectionSendInvoice) {
			todo = "the customer must pay it (the invoice was emailed to the billing email)"
		}
		return verdict{metav1.ConditionFalse, v1alpha1.ReasonSubscriptionPastDue, fmt.Sprintf("subscription %s is past due: %s is unpaid; %s", s.ID, invoice, todo)}
	case "incomplete":
		return verdict{metav1.ConditionFalse, v1alpha1.ReasonSubscriptionIncomplete, fmt.Sprintf("subscription %s is incomplete: %s awaits its first payment; the customer must add a payment method and pay it within 23 hours of creation, or the subscription expires", s.ID, invoice)}
	case "unpaid":
		return verdict{metav1.ConditionFalse, v1alpha1.ReasonSubscriptionPastDue, fmt.Sprintf("subscription %s is unpaid: Stripe stopped retrying %s; the customer must pay it", s.ID, invoice)}
	case "paused":
		return verdict{metav1.ConditionFalse, v1alpha1.ReasonSubscriptionPaused, fmt.Sprintf("subscription %s is paused (its trial ended without a payment method): the customer must add one to resume it", s.ID)}
	case "canceled", "incomplete_expired":
		return verdict{metav1.ConditionFalse, v1alpha1.ReasonSubscriptionCanceled, fmt.Sprintf("subscription %s has ended (%s)", s.ID, s.Status)}
	}
	return verdict{metav1.ConditionFalse, v1alpha1.ReasonSubscriptionIncomplete, fmt.Sprintf("subscription %s is %s", s.ID, s.Status)}
}

// zeroDecimal says whether Stripe counts the currency in whole units (its "zero-decimal currencies").
func zeroDecimal(currency string) bool {
	switch strings.ToLower(currency) {
	case "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf":
		return true
	}
	return false
}

func formatAmount(minor int64, currency string) string {
	if zeroDecimal(currency) {
		return fmt.Sprintf("%d %s", minor, strings.ToUpper(currency))
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, minor/100, minor%100, strings.ToUpper(currency))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "(unknown)"
	}
	return t.UTC().Format(time.RFC3339)
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &metav1.Time{Time: t}
}
