package stripetenant

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Onboarding links are bearer credentials: whoever holds one can fill in the tenant's account. So a
// link is made only on request (the annotation), written only into a Secret the tenant owns, and never
// appears in status, events or logs; status says only which Secret holds it and until when.

// Link types, in Stripe's words.
const (
	linkOnboarding = "account_onboarding"
	linkUpdate     = "account_update"
)

const eventCreatedLink = "CreatedOnboardingLink"

// linkRequest is what the annotation asks of this pass.
type linkRequest struct {
	requestedAt string // the annotation's value
	linkType    string // "" when no link can be made; refusal says why
	refusal     string
}

// pendingLinkRequest returns the request the annotation makes, or nil when there is none to answer: no
// annotation, already answered, or the link made for it is still valid (an unexpired link is not
// replaced; a new request after it expired gets a fresh one).
func pendingLinkRequest(t *v1alpha1.StripeTenant, account *stripeapi.Account, now time.Time) *linkRequest {
	requestedAt := t.Annotations[v1alpha1.AnnotationOnboardingLinkRequested]
	if requestedAt == "" {
		return nil
	}
	if link := t.Status.OnboardingLink; link != nil {
		valid := link.ExpiresAt != nil && link.ExpiresAt.After(now)
		if link.RequestedAt == requestedAt || valid {
			return nil
		}
	}
	request := &linkRequest{requestedAt: requestedAt}
	r := account.Requirements
	switch {
	case t.Spec.Onboarding == nil:
		request.refusal = "spec.onboarding (returnURL and refreshURL) is required to make an onboarding link"
	case !account.DetailsSubmitted:
		request.linkType = linkOnboarding
	case len(r.CurrentlyDue)+len(r.PastDue)+len(r.EventuallyDue) == 0:
		request.refusal = "the account has nothing to collect: onboarding is complete"
	case platformCollectsRequirements(t.Spec.Account, account):
		request.linkType = linkUpdate
	default:
		request.refusal = "Stripe collects this account's updated requirements, so it offers no account_update link: the tenant updates them in its Stripe Dashboard"
	}
	return request
}

// answerLinkRequest makes the link and writes it into the tenant's link Secret, or says why not.
func (e *external) answerLinkRequest(ctx context.Context, t *v1alpha1.StripeTenant, request *linkRequest) error {
	if request.linkType == "" {
		// Answered with a refusal, recorded so that the same request is not refused again every pass.
		e.pass.Warn(v1alpha1.ReasonLinkNotAvailable, "no onboarding link for request %q: %s", request.requestedAt, request.refusal)
		t.Status.OnboardingLink = &v1alpha1.OnboardingLinkStatus{SecretName: t.OnboardingLinkSecretName(), RequestedAt: request.requestedAt, Refused: request.refusal}
		return nil
	}
	link, err := e.platform.CreateAccountLink(ctx, stripeapi.AccountLinkCreateParams{
		// One link per request: the request's value is in the purpose.
		IdempotencyKey: e.pass.UpdateKey("account-link/"+request.requestedAt, request.linkType),
		Account:        t.Status.AccountID,
		RefreshURL:     t.Spec.Onboarding.RefreshURL,
		ReturnURL:      t.Spec.Onboarding.ReturnURL,
		Type:           request.linkType,
	})
	if err != nil {
		return err
	}
	name := t.OnboardingLinkSecretName()
	if err := e.pass.PublishSecret(ctx, name, map[string][]byte{
		"url":       []byte(link.URL),
		"expiresAt": []byte(link.ExpiresAt.UTC().Format(time.RFC3339)),
		"type":      []byte(request.linkType),
		"account":   []byte(t.Status.AccountID),
	}); err != nil {
		return err
	}
	t.Status.OnboardingLink = &v1alpha1.OnboardingLinkStatus{
		SecretName: name, Type: request.linkType, RequestedAt: request.requestedAt,
		CreatedAt: &metav1.Time{Time: link.Created}, ExpiresAt: &metav1.Time{Time: link.ExpiresAt},
	}
	e.pass.Record(eventCreatedLink, "wrote an %s link to Secret %s, valid until %s", request.linkType, name, link.ExpiresAt.UTC().Format(time.RFC3339))
	return nil
}

// linkNote is the sentence OnboardingComplete carries about the last request.
func linkNote(t *v1alpha1.StripeTenant, now time.Time) string {
	link := t.Status.OnboardingLink
	switch {
	case link == nil:
		return ""
	case link.Refused != "":
		return fmt.Sprintf("the link request %q was refused: %s", link.RequestedAt, link.Refused)
	case link.ExpiresAt == nil:
		return ""
	}
	if link.ExpiresAt.After(now) {
		return fmt.Sprintf("an %s link is in Secret %s until %s", link.Type, link.SecretName, link.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("the link in Secret %s expired at %s", link.SecretName, link.ExpiresAt.UTC().Format(time.RFC3339))
}
