// Package stripetenant manages a StripeTenant: its Stripe Connect account (with onboarding links on
// request), and its customer and subscription on the platform account. It is one adapter of the
// generic reconciler in package managed; the account is the primary object, the customer and the
// subscription are secondary objects.
package stripetenant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Event reasons of the account's writes beyond its create.
const eventUpdatedAccount = "UpdatedAccount"

// Connecter checks what a tenant may use before any Stripe call, and builds its ExternalClient.
type Connecter struct {
	Kube client.Reader
	// Now is the clock (links expire, deadlines pass); nil means time.Now.
	Now func() time.Time
}

// Connect refuses a tenant whose data-residency region is not its connection's: a tenant's data stays
// in its region, so a mismatch makes no Stripe call at all. (That the connection allows the tenant's
// namespace was checked by the reconciler when it handed out the client.)
func (c Connecter) Connect(ctx context.Context, obj managed.Object, pass *managed.Pass) (managed.ExternalClient, error) {
	t := obj.(*v1alpha1.StripeTenant)
	connection, name := pass.Connection, pass.Connection.Name
	if connection.Spec.Region != t.Spec.DataResidency {
		return nil, &managed.DependencyError{Reason: v1alpha1.ReasonResidencyMismatch, Message: fmt.Sprintf(
			"spec.dataResidency is %s but StripeConnection %q is in region %s: a tenant's data stays in its region, so nothing was sent to Stripe; both fields are immutable, so recreate the tenant on a connection of region %s",
			t.Spec.DataResidency, name, connection.Spec.Region, t.Spec.DataResidency)}
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &external{kube: c.Kube, platform: pass.Stripe, pass: pass, live: connection.Spec.Mode == v1alpha1.StripeModeLive, now: now}, nil
}

// external is the tenant's ExternalClient for one pass. Observe keeps what it read (the account, the
// customer, the subscription, the resolved plan price) for Update and Delete.
type external struct {
	kube     client.Reader
	platform stripeapi.Interface // the platform account: the connected account is created and linked from it
	pass     *managed.Pass
	live     bool
	now      func() time.Time

	account         *stripeapi.Account
	customer        *stripeapi.Customer
	subscription    *stripeapi.Subscription
	want            *subscriptionWant
	subscriptionErr error // why spec.subscription cannot be resolved yet (the plan), reported by Update
	link            *linkRequest
	observedSecond  bool // the customer and subscription were read this pass
}

// Observe reads the account (by id, or by its tags after an interrupted create), the customer and the
// subscription, and reports everything a person checks.
func (e *external) Observe(ctx context.Context, obj managed.Object) (managed.Observation, error) {
	t := obj.(*v1alpha1.StripeTenant)
	account, err := e.findAccount(ctx, t)
	if err != nil || account == nil {
		return managed.Observation{}, err
	}
	e.account = account
	reportAccount(t, account)
	if err := e.observeSecondaries(ctx, t); err != nil {
		return managed.Observation{}, err
	}
	now := e.now()
	e.link = pendingLinkRequest(t, account, now)
	e.noteLink(t, now)

	var diff []string
	if changes := diffAccount(t.Spec.Account, account); len(changes.fields) > 0 {
		diff = append(diff, "account: "+strings.Join(changes.fields, ", "))
	}
	diff = append(diff, subscriptionDiff(t, e.want, e.customer, e.subscription)...)
	if e.link != nil {
		diff = append(diff, "onboarding link requested")
	}
	return managed.Observation{
		Exists: true, UpToDate: len(diff) == 0, ExternalID: account.ID, Diff: strings.Join(diff, "; "),
	}, nil
}

func (e *external) findAccount(ctx context.Context, t *v1alpha1.StripeTenant) (*stripeapi.Account, error) {
	if id, known := managed.KnownExternalID(t); known {
		account, err := e.platform.GetAccount(ctx, id)
		if stripeapi.IsNotFound(err) || stripeapi.IsAccountInvalid(err) {
			return nil, nil // gone, or no longer connected to the platform: the reconciler says so
		}
		return account, err
	}
	if !managed.IsCreatePending(t) {
		return nil, nil // nothing was ever created for this tenant
	}
	found, err := e.platform.FindAccountsByTags(ctx, e.tags(componentAccount), stripeapi.FindOptions{CreatedSince: t.CreationTimestamp.Time})
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return &found[len(found)-1], nil // the oldest: the first create, should two ever exist
}

// observeSecondaries reads the customer and the subscription by their recorded ids, and resolves what
// spec.subscription asks for.
func (e *external) observeSecondaries(ctx context.Context, t *v1alpha1.StripeTenant) error {
	e.observedSecond = true
	if id := e.pass.Secondaries.ID(componentCustomer); id != "" {
		customer, err := e.platform.GetCustomer(ctx, id)
		if stripeapi.IsNotFound(err) {
			return managed.Terminal("customer %s (annotation %s%s) no longer exists in Stripe; remove the annotation to create a new one", id, managed.AnnotationSecondaryPrefix, componentCustomer)
		}
		if err != nil {
			return err
		}
		e.customer = customer
		t.Status.CustomerID = customer.ID
	}
	if id := e.pass.Secondaries.ID(componentSubscription); id != "" {
		s, err := e.platform.GetSubscription(ctx, id)
		if stripeapi.IsNotFound(err) {
			return managed.Terminal("subscription %s (annotation %s%s) no longer exists in Stripe; remove the annotation to create a new one", id, managed.AnnotationSecondaryPrefix, componentSubscription)
		}
		if err != nil {
			return err
		}
		e.subscription = s
	}
	e.want, e.subscriptionErr = nil, nil
	if t.Spec.Subscription != nil {
		e.want, e.subscriptionErr = resolveSubscription(ctx, e.kube, t, e.subscription)
	}
	switch {
	case e.subscription != nil:
		reportSubscription(t, e.subscription, e.want)
	case t.Spec.Subscription == nil:
		managed.SetCondition(t, v1alpha1.ConditionSubscriptionActive, metav1.ConditionFalse, v1alpha1.ReasonNoSubscription, "spec.subscription is not set: the tenant is not billed by the platform")
	case e.subscriptionErr != nil:
		managed.SetCondition(t, v1alpha1.ConditionSubscriptionActive, metav1.ConditionFalse, reasonOf(e.subscriptionErr), stripeapi.WithoutRequestID(e.subscriptionErr))
	}
	return nil
}

// noteLink appends what became of the last link request to OnboardingComplete's message.
func (e *external) noteLink(t *v1alpha1.StripeTenant, now time.Time) {
	note := linkNote(t, now)
	if note == "" {
		return
	}
	for i, c := range t.Status.Conditions {
		if c.Type == v1alpha1.ConditionOnboardingComplete && !strings.HasSuffix(c.Message, note) {
			t.Status.Conditions[i].Message = c.Message + "; " + note
		}
	}
}

// Create creates the connected account only; Update, called next, creates the customer and the
// subscription.
func (e *external) Create(ctx context.Context, obj managed.Object) (managed.Created, error) {
	t := obj.(*v1alpha1.StripeTenant)
	params := accountCreateParams(t.Spec.Account)
	params.IdempotencyKey = e.pass.CreateKey("create-account")
	params.Tags = e.tags(componentAccount)
	account, err := e.platform.CreateAccount(ctx, params)
	if err != nil {
		return managed.Created{}, err
	}
	e.account = account
	reportAccount(t, account)
	return managed.Created{ID: account.ID}, nil
}

// Update changes the account in place where Stripe allows, answers an onboarding-link request, and
// makes the customer and subscription match the spec.
func (e *external) Update(ctx context.Context, obj managed.Object) error {
	t := obj.(*v1alpha1.StripeTenant)
	if changes := diffAccount(t.Spec.Account, e.account); len(changes.fields) > 0 {
		changes.params.IdempotencyKey = e.pass.UpdateKey("update-account", changes.params)
		account, err := e.platform.UpdateAccount(ctx, e.account.ID, changes.params)
		if err != nil {
			return err
		}
		e.account = account
		reportAccount(t, account)
		e.pass.Record(eventUpdatedAccount, "updated account %s: %s", account.ID, strings.Join(changes.fields, ", "))
	}
	if !e.observedSecond { // right after Create: nothing was observed but the new account
		if err := e.observeSecondaries(ctx, t); err != nil {
			return err
		}
		e.link = pendingLinkRequest(t, e.account, e.now())
	}
	if e.link != nil {
		if err := e.answerLinkRequest(ctx, t, e.link); err != nil {
			return err
		}
		e.noteLink(t, e.now())
	}
	return e.syncSubscription(ctx, t)
}

// Readiness reports a tenant Ready when its account can take charges and receive payouts, and asks
// to be rechecked while it onboards (also right after the create: the new account is onboarding).
func (e *external) Readiness(obj managed.Object) managed.Readiness {
	t := obj.(*v1alpha1.StripeTenant)
	verdict := readiness(t)
	if e.account != nil {
		verdict.Recheck = recheck(t, e.account, e.now())
	}
	return verdict
}

func (e *external) tags(component string) stripeapi.Tags {
	tags := e.pass.Tags
	tags.Component = component
	return tags
}

// reasonOf is the condition reason of a pass error.
func reasonOf(err error) string {
	var dependency *managed.DependencyError
	if errors.As(err, &dependency) {
		return dependency.Reason
	}
	return v1alpha1.ReasonTerminal
}
