package stripetenant

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// fieldsShown bounds how many requirement names a condition message lists.
const fieldsShown = 4

// reportAccount writes what Stripe says of the account into status and the account conditions. Every
// message says what is missing, by when, and what to do.
func reportAccount(t *v1alpha1.StripeTenant, account *stripeapi.Account) {
	s := &t.Status
	s.AccountID = account.ID
	s.AccountType = account.Type
	s.ChargesEnabled, s.PayoutsEnabled, s.DetailsSubmitted = account.ChargesEnabled, account.PayoutsEnabled, account.DetailsSubmitted
	s.Capabilities = capabilityStatuses(t.Spec.Account, account)
	r := account.Requirements
	s.Requirements = &v1alpha1.AccountRequirements{
		CurrentlyDue: r.CurrentlyDue, PastDue: r.PastDue, EventuallyDue: r.EventuallyDue,
		PendingVerification: r.PendingVerification, DisabledReason: r.DisabledReason,
	}
	if !r.CurrentDeadline.IsZero() {
		s.Requirements.CurrentDeadline = &metav1.Time{Time: r.CurrentDeadline}
	}
	for _, e := range r.Errors {
		s.Requirements.Errors = append(s.Requirements.Errors, v1alpha1.RequirementError{Requirement: e.Requirement, Code: e.Code, Reason: e.Reason})
	}

	onboarding := onboardingCondition(t, account)
	managed.SetCondition(t, v1alpha1.ConditionOnboardingComplete, onboarding.status, onboarding.reason, onboarding.message)
	for _, c := range []struct {
		conditionType, what string
		enabled             bool
	}{
		{v1alpha1.ConditionChargesEnabled, "take charges", account.ChargesEnabled},
		{v1alpha1.ConditionPayoutsEnabled, "receive payouts", account.PayoutsEnabled},
	} {
		if c.enabled {
			managed.SetCondition(t, c.conditionType, metav1.ConditionTrue, v1alpha1.ReasonEnabled, "Stripe lets the account "+c.what)
			continue
		}
		why := "Stripe does not let the account " + c.what + " yet"
		if r.DisabledReason != "" {
			why += " (" + r.DisabledReason + ")"
		}
		managed.SetCondition(t, c.conditionType, metav1.ConditionFalse, v1alpha1.ReasonDisabled, why+": "+onboarding.message)
	}
}

type verdict struct {
	status  metav1.ConditionStatus
	reason  string
	message string
}

// onboardingCondition says whether the tenant has given Stripe everything it needs now.
func onboardingCondition(t *v1alpha1.StripeTenant, account *stripeapi.Account) verdict {
	r := account.Requirements
	howToLink := fmt.Sprintf("get a link with: kubectl annotate -n %s stripetenant/%s --overwrite %s=$(date +%%s) (it goes to Secret %s)",
		t.Namespace, t.Name, v1alpha1.AnnotationOnboardingLinkRequested, t.OnboardingLinkSecretName())
	switch {
	case !account.DetailsSubmitted:
		// A new account has everything due (Stripe lists it as past due, too): the tenant has not
		// finished onboarding, which is what a person needs to read.
		due := dedupe(append(append([]string{}, r.CurrentlyDue...), r.PastDue...))
		message := fmt.Sprintf("onboarding not finished: %s due", count(due))
		if len(due) > 0 {
			message += ": " + list(due)
		}
		return verdict{metav1.ConditionFalse, v1alpha1.ReasonRequirementsDue, message + deadline(r.CurrentDeadline) + "; " + howToLink}
	case len(r.PastDue) > 0:
		return verdict{metav1.ConditionFalse, v1alpha1.ReasonRequirementsPastDue,
			fmt.Sprintf("%s past due (the account is restricted until they are given): %s; %s", count(r.PastDue), list(r.PastDue), howToLink)}
	case len(r.CurrentlyDue) > 0:
		return verdict{metav1.ConditionFalse, v1alpha1.ReasonRequirementsDue,
			fmt.Sprintf("%s due: %s%s; %s", count(r.CurrentlyDue), list(r.CurrentlyDue), deadline(r.CurrentDeadline), howToLink)}
	case len(r.PendingVerification) > 0:
		return verdict{metav1.ConditionFalse, v1alpha1.ReasonPendingVerification,
			fmt.Sprintf("Stripe is verifying %s: %s; nothing to do but wait", count(r.PendingVerification), list(r.PendingVerification))}
	}
	message := "the account has given Stripe everything it needs now"
	if len(r.EventuallyDue) > 0 {
		message += fmt.Sprintf("; %s will be due later, when volume thresholds are reached: %s", count(r.EventuallyDue), list(r.EventuallyDue))
	}
	return verdict{metav1.ConditionTrue, v1alpha1.ReasonOnboardingComplete, message}
}

// readiness: a tenant is Ready when its account can take charges and receive payouts, the point of it.
func readiness(t *v1alpha1.StripeTenant) managed.Readiness {
	s := t.Status
	if s.ChargesEnabled && s.PayoutsEnabled {
		return managed.Readiness{Ready: true, Reason: v1alpha1.ReasonAvailable, Message: fmt.Sprintf("account %s takes charges and receives payouts", s.AccountID)}
	}
	message := "the account cannot take charges or receive payouts yet"
	if c := conditionMessage(t, v1alpha1.ConditionOnboardingComplete); c != "" {
		message += ": " + c
	}
	return managed.Readiness{Reason: v1alpha1.ReasonActionRequired, Message: message}
}

// recheck asks to be observed again soon while the tenant is onboarding (until the webhook relay
// tells the operator of account.updated): `kubectl wait --for=condition=ChargesEnabled` then returns
// without anyone's help. A deadline, or the link's expiry, shortens the wait.
func recheck(t *v1alpha1.StripeTenant, account *stripeapi.Account, now time.Time) *managed.Recheck {
	r := account.Requirements
	onboarding := !account.ChargesEnabled || !account.PayoutsEnabled || len(r.CurrentlyDue) > 0 || len(r.PastDue) > 0 || len(r.PendingVerification) > 0
	if !onboarding {
		return nil
	}
	// The reason names the stage, so that progress (details submitted, a verification started)
	// restarts the backoff at seconds: a tenant that moves is watched closely, one that stalls less so.
	out := &managed.Recheck{Why: fmt.Sprintf("onboarding: submitted %t, %d due, %d past due, %d verifying, charges %t, payouts %t",
		account.DetailsSubmitted, len(r.CurrentlyDue), len(r.PastDue), len(r.PendingVerification), account.ChargesEnabled, account.PayoutsEnabled)}
	if d := r.CurrentDeadline; !d.IsZero() && d.After(now) {
		out.NotAfter = d
	}
	if link := t.Status.OnboardingLink; link != nil && link.ExpiresAt != nil && link.ExpiresAt.After(now) && (out.NotAfter.IsZero() || link.ExpiresAt.Time.Before(out.NotAfter)) {
		out.NotAfter = link.ExpiresAt.Time
	}
	return out
}

func conditionMessage(t *v1alpha1.StripeTenant, conditionType string) string {
	for _, c := range t.Status.Conditions {
		if c.Type == conditionType {
			return c.Message
		}
	}
	return ""
}

func deadline(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " by " + t.UTC().Format(time.RFC3339)
}

func dedupe(fields []string) []string {
	slices.Sort(fields)
	return slices.Compact(fields)
}

func count(fields []string) string {
	if len(fields) == 1 {
		return "1 field"
	}
	return fmt.Sprintf("%d fields", len(fields))
}

func list(fields []string) string {
	shown := fields[:min(len(fields), fieldsShown)]
	out := strings.Join(shown, ", ")
	if len(fields) > fieldsShown {
		out += fmt.Sprintf(" and %d more (status.requirements)", len(fields)-fieldsShown)
	}
	return out
}
