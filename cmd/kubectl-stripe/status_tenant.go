package main

import (
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// tenant reports a StripeTenant: its connected account (capabilities, requirements, onboarding
// link), its customer and subscription on the platform account, the plan it subscribes to and its
// connection.
func (d *describer) tenant(name string) (*node, string, error) {
	var t v1alpha1.StripeTenant
	if err := d.get(kindTenant, name, &t); err != nil {
		return nil, "", err
	}
	s := &t.Status
	tree := d.root(kindTenant, &t, s.ObservedGeneration).add(conditionRows(s.Conditions)...)
	tree.add(d.account(&t))
	if s.CustomerID != "" {
		tree.add(fact("Customer "+s.CustomerID, "platform account"))
	} else if t.Spec.Subscription != nil {
		tree.add(fact("Customer", "not created yet"))
	}
	var plan *node
	if t.Spec.Subscription != nil {
		plan = d.plannedBy(&t)
	}
	switch {
	case s.SubscriptionID != "":
		tree.add(subscriptionNode(&t).add(plan))
	case t.Spec.Subscription != nil:
		tree.add(fact("Subscription", "not created yet").add(plan))
	default:
		tree.add(fact("Subscription", "none (no spec.subscription)"))
	}
	connRow, conn := d.connection(connectionName(&t.Spec.ManagedSpec))
	tree.add(connRow)
	return tree, nextStep(d.situation(kindTenant, &t, s.ObservedGeneration, s.Conditions, conn), func() string { return d.tenantNext(&t) }), nil
}

// account is the connected account's branch.
func (d *describer) account(t *v1alpha1.StripeTenant) *node {
	s := &t.Status
	if s.AccountID == "" {
		what := "not created yet"
		if id := v1alpha1.GetExternalName(t); id != "" {
			what = "not created yet (" + v1alpha1.AnnotationExternalName + ": " + id + ")"
		}
		return fact("Account", what)
	}
	kind := s.AccountType
	if kind == "" {
		kind = "connected account"
	}
	n := fact("Account "+s.AccountID, fmt.Sprintf("%s; charges %s, payouts %s, details %s", kind,
		yesNo(s.ChargesEnabled, "enabled", "disabled"), yesNo(s.PayoutsEnabled, "enabled", "disabled"),
		yesNo(s.DetailsSubmitted, "submitted", "not submitted")))
	if len(s.Capabilities) > 0 {
		caps := fact("Capabilities", "")
		for _, c := range s.Capabilities {
			caps.add(row(c.Name, c.Status, "", ""))
		}
		n.add(caps)
	}
	n.add(d.requirements(s.Requirements))
	return n.add(d.onboardingLink(t))
}

// requirements is what Stripe still needs from the account, with the deadline.
func (d *describer) requirements(r *v1alpha1.AccountRequirements) *node {
	if r == nil {
		return fact("Requirements", "not reported yet")
	}
	parts := []struct {
		what   string
		fields []string
	}{
		{"currently due", r.CurrentlyDue}, {"past due", r.PastDue},
		{"eventually due", r.EventuallyDue}, {"pending verification", r.PendingVerification},
	}
	var summary []string
	for _, part := range parts {
		if len(part.fields) > 0 {
			summary = append(summary, fmt.Sprintf("%d %s", len(part.fields), part.what))
		}
	}
	if len(summary) == 0 {
		summary = append(summary, "nothing due")
	}
	n := fact("Requirements", strings.Join(summary, ", "))
	for _, part := range parts {
		if len(part.fields) > 0 {
			n.add(fact(part.what, strings.Join(part.fields, ", ")))
		}
	}
	if r.CurrentDeadline != nil {
		deadline := formatTime(r.CurrentDeadline)
		if r.CurrentDeadline.Time.Before(d.now) {
			deadline += " (passed)"
		}
		n.add(fact("deadline", deadline))
	}
	if r.DisabledReason != "" {
		n.add(fact("disabled reason", r.DisabledReason))
	}
	for _, e := range r.Errors {
		label := "error " + e.Requirement
		if e.Code != "" {
			label += " (" + e.Code + ")"
		}
		n.add(fact(label, e.Reason))
	}
	return n
}

// onboardingLink is the answer to the last link request; the link itself stays in its Secret.
func (d *describer) onboardingLink(t *v1alpha1.StripeTenant) *node {
	l := t.Status.OnboardingLink
	switch {
	case l == nil && t.Spec.Onboarding == nil:
		return fact("Onboarding link", "none: spec.onboarding (returnURL, refreshURL) is not set")
	case l == nil:
		return fact("Onboarding link", fmt.Sprintf("none requested (Secret %s when one is)", t.OnboardingLinkSecretName()))
	case l.Refused != "":
		return fact("Onboarding link", fmt.Sprintf("request %q refused: %s", l.RequestedAt, l.Refused))
	}
	validity := "valid until " + formatTime(l.ExpiresAt)
	if l.ExpiresAt != nil && !l.ExpiresAt.After(d.now) {
		validity = "expired at " + formatTime(l.ExpiresAt)
	}
	return fact("Onboarding link", fmt.Sprintf("%s in Secret %s, made %s, %s", l.Type, l.SecretName, formatTime(l.CreatedAt), validity))
}

func subscriptionNode(t *v1alpha1.StripeTenant) *node {
	s := &t.Status
	facts := []string{s.SubscriptionStatus}
	if s.SubscriptionPriceID != "" {
		price := "price " + s.SubscriptionPriceID
		if s.SubscriptionQuantity != nil {
			price += fmt.Sprintf(" × %d", *s.SubscriptionQuantity)
		}
		facts = append(facts, price)
	}
	if s.CurrentPeriodEnd != nil {
		facts = append(facts, "period ends "+formatTime(s.CurrentPeriodEnd))
	}
	if s.CancelAtPeriodEnd {
		facts = append(facts, "cancels at period end")
	}
	n := fact("Subscription "+s.SubscriptionID, strings.Join(facts, ", "))
	if i := s.LatestInvoice; i != nil {
		invoice := []string{i.Status, fmt.Sprintf("%d %s due", i.AmountDue, i.Currency)}
		if i.Number != "" {
			invoice = append(invoice, "number "+i.Number)
		}
		if i.DueDate != nil {
			invoice = append(invoice, "due "+formatTime(i.DueDate))
		}
		n.add(fact("Latest invoice "+i.ID, strings.Join(invoice, ", ")))
	}
	return n
}

// plannedBy is the BillingPlan the tenant subscribes to, with the price its key resolves to.
func (d *describer) plannedBy(t *v1alpha1.StripeTenant) *node {
	sub := t.Spec.Subscription
	label := kindPlan + "/" + sub.PlanRef.Name
	var plan v1alpha1.BillingPlan
	err := d.kube.Get(d.ctx, client.ObjectKey{Namespace: t.Namespace, Name: sub.PlanRef.Name}, &plan)
	switch {
	case apierrors.IsNotFound(err):
		return row(label, "Missing", "NotFound", "no such BillingPlan in namespace "+t.Namespace)
	case err != nil:
		return row(label, "Unknown", "", "cannot read it: "+err.Error())
	}
	n := row(label, "Unknown", "", "no status yet")
	if c := meta.FindStatusCondition(plan.Status.Conditions, v1alpha1.ConditionReady); c != nil {
		n = row(label, string(c.Status), c.Reason, c.Message)
	}
	keys := make([]string, 0, len(plan.Status.Prices))
	price := ""
	for _, p := range plan.Status.Prices {
		keys = append(keys, p.Key)
		if p.Key == sub.PriceKey {
			price = p.ID
		}
	}
	if price == "" {
		price = fmt.Sprintf("no such price in the plan's status (its keys: %s)", strings.Join(keys, ", "))
	}
	return n.add(fact("price key "+sub.PriceKey, price))
}

// tenantNext is what a tenant in sync still needs: onboarding, or its subscription paid.
func (d *describer) tenantNext(t *v1alpha1.StripeTenant) string {
	s := &t.Status
	r := s.Requirements
	if r == nil {
		r = &v1alpha1.AccountRequirements{}
	}
	link := fmt.Sprintf("run `kubectl stripe link %s` and send the link to the tenant", d.ref(kindTenant, t.Name))
	onboarding := meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionOnboardingComplete)
	if onboarding != nil && onboarding.Status != metav1.ConditionTrue {
		switch onboarding.Reason {
		case v1alpha1.ReasonPendingVerification:
			return fmt.Sprintf("Stripe is verifying %s: nothing to do but wait (`kubectl wait -n %s --for=condition=ChargesEnabled stripetenant/%s`)",
				count(len(r.PendingVerification), "field"), t.Namespace, t.Name)
		case v1alpha1.ReasonRequirementsDue, v1alpha1.ReasonRequirementsPastDue:
			what, due := "requirements due", count(len(r.CurrentlyDue), "field")+" due"
			switch {
			case !s.DetailsSubmitted:
				// A new account lists everything as past due too; the operator's message counts both.
				fields := append(append([]string{}, r.CurrentlyDue...), r.PastDue...)
				slices.Sort(fields)
				what, due = "onboarding incomplete", count(len(slices.Compact(fields)), "field")+" due"
			case len(r.PastDue) > 0:
				what, due = "requirements past due, the account is restricted", count(len(r.PastDue), "field")+" past due"
			}
			if r.CurrentDeadline != nil && (!s.DetailsSubmitted || len(r.PastDue) == 0) {
				due += " by " + formatTime(r.CurrentDeadline)
			}
			var failed string
			for _, e := range r.Errors {
				failed += fmt.Sprintf("; Stripe could not verify %s: %s", e.Requirement, e.Reason)
			}
			switch {
			case t.Spec.Onboarding == nil:
				return fmt.Sprintf("%s (%s): set spec.onboarding (returnURL, refreshURL), then %s%s", what, due, link, failed)
			case s.DetailsSubmitted && !platformCollects(t):
				return fmt.Sprintf("%s (%s): Stripe collects this account's requirements, so there is no update link: the tenant gives them in its Stripe Dashboard%s", what, due, failed)
			}
			return fmt.Sprintf("%s (%s): %s%s", what, due, link, failed)
		}
	}
	if c := meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionSubscriptionActive); c != nil && c.Status != metav1.ConditionTrue {
		switch c.Reason {
		case v1alpha1.ReasonSubscriptionPastDue, v1alpha1.ReasonSubscriptionIncomplete, v1alpha1.ReasonSubscriptionPaused:
			return "subscription not paid: " + c.Message
		case v1alpha1.ReasonSubscriptionCanceled:
			return "subscription ended: " + c.Message + "; the operator creates a new one while spec.subscription is set"
		case v1alpha1.ReasonWaitingForDependency, v1alpha1.ReasonPlanNotAllowed, v1alpha1.ReasonTerminal:
			return c.Reason + ": " + c.Message
		}
	}
	return ""
}

// platformCollects says whether the platform collects the account's updated requirements (custom
// accounts, controller.requirementCollection application), so that Stripe offers update links.
func platformCollects(t *v1alpha1.StripeTenant) bool {
	if c := t.Spec.Account.Controller; c != nil && c.RequirementCollection != "" {
		return c.RequirementCollection == "application"
	}
	return t.Status.AccountType == string(v1alpha1.AccountTypeCustom)
}
