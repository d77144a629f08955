package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// minLinkValidity is how long a link must still be valid to be handed out as it is: the operator
// replaces no unexpired link, so one about to expire is waited out and asked for again.
const minLinkValidity = time.Minute

// pollInterval is how often the plugin reads what it waits for.
const pollInterval = 250 * time.Millisecond

func newLinkCommand(c *cluster) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "link TENANT",
		Short: "Request a tenant's onboarding link and print it",
		Long: `Request a Stripe-hosted onboarding link for a StripeTenant the way the operator takes requests
(a new value of the annotation ` + v1alpha1.AnnotationOnboardingLinkRequested + `), wait until the
operator has written a fresh link into the tenant's link Secret, and print its URL on stdout (what
it is and until when on stderr). A link still valid is printed as it is: the operator does not
replace an unexpired link.

Links are bearer credentials: whoever holds one fills in the tenant's account. Send it to the tenant
only. Reading it needs get on Secrets in the tenant's namespace.`,
		Example: `  kubectl stripe link acme -n cloudip-demo
  kubectl stripe link tenant/acme -n cloudip-demo --timeout 5m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := nameOf(args[0], kindTenant)
			if err != nil {
				return err
			}
			kube, namespace, err := c.connect()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			l, err := onboardingLink(ctx, kube, client.ObjectKey{Namespace: namespace, Name: name})
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintln(cmd.ErrOrStderr(), l.describe()); err != nil {
				return wrapWrite(err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), l.url)
			return wrapWrite(err)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the operator to write the link")
	return cmd
}

// link is an onboarding link read from its Secret.
type link struct {
	url, linkType, account, expiresAt, secret string
	// reused says the link was already there, made for an earlier request.
	reused bool
}

func (l link) describe() string {
	what := fmt.Sprintf("%s link for account %s, valid until %s (Secret %s)", l.linkType, l.account, l.expiresAt, l.secret)
	if l.reused {
		what += "; made for an earlier request and still valid: the operator does not replace an unexpired link"
	}
	return what + "; send it to the tenant only"
}

// onboardingLink returns a link valid for at least minLinkValidity: the one in the Secret, or a new
// one it asks the operator for and waits for until ctx ends.
func onboardingLink(ctx context.Context, kube client.Client, key client.ObjectKey) (link, error) {
	var t v1alpha1.StripeTenant
	if err := kube.Get(ctx, key, &t); err != nil {
		if apierrors.IsNotFound(err) {
			return link{}, fmt.Errorf("StripeTenant %q not found in namespace %s", key.Name, key.Namespace)
		}
		return link{}, fmt.Errorf("get StripeTenant %s: %w", key, err)
	}
	switch {
	case t.Spec.Onboarding == nil:
		return link{}, fmt.Errorf("StripeTenant %s has no spec.onboarding (returnURL, refreshURL): the operator makes no link without it", key)
	case v1alpha1.IsPaused(&t):
		return link{}, fmt.Errorf("StripeTenant %s is paused (%s): the operator makes no link until the annotation goes", key, v1alpha1.AnnotationPaused)
	case v1alpha1.ObserveOnly(&t):
		return link{}, fmt.Errorf("StripeTenant %s has managementPolicy Observe: the operator makes no link", key)
	}
	if existing, err := unexpiredLink(ctx, kube, &t); existing != nil || err != nil {
		return deref(existing), err
	}
	requested, err := requestLink(ctx, kube, &t)
	if err != nil {
		return link{}, err
	}
	return awaitLink(ctx, kube, &t, requested)
}

// unexpiredLink returns the link of an earlier request while it is valid for minLinkValidity (the
// operator would not replace it); one about to expire is waited out, and then nil says ask anew.
func unexpiredLink(ctx context.Context, kube client.Client, t *v1alpha1.StripeTenant) (*link, error) {
	l := t.Status.OnboardingLink
	if l == nil || l.Refused != "" || l.ExpiresAt == nil {
		return nil, nil
	}
	remaining := time.Until(l.ExpiresAt.Time)
	if remaining <= 0 {
		return nil, nil
	}
	if remaining < minLinkValidity {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the link in Secret %s expires at %s, and only then can a new one be made: %w", l.SecretName, formatTime(l.ExpiresAt), ctx.Err())
		case <-time.After(remaining + time.Second):
			return nil, nil
		}
	}
	found, err := linkFromSecret(ctx, kube, t)
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("status records a link valid until %s in Secret %s, which does not hold it: a new one can be made once it expires", formatTime(l.ExpiresAt), l.SecretName)
	}
	found.reused = true
	return found, nil
}

// awaitLink waits until the operator has answered the request: a link in the Secret, or a refusal.
func awaitLink(ctx context.Context, kube client.Client, t *v1alpha1.StripeTenant, requested string) (link, error) {
	key := client.ObjectKeyFromObject(t)
	var made *link
	var refused error
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		if err := kube.Get(ctx, key, t); err != nil {
			return false, fmt.Errorf("get StripeTenant %s: %w", key, err)
		}
		l := t.Status.OnboardingLink
		if l == nil || l.RequestedAt != requested {
			return false, nil
		}
		if l.Refused != "" {
			refused = fmt.Errorf("the operator made no link for StripeTenant %s: %s", key, l.Refused)
			return true, nil
		}
		var err error
		made, err = linkFromSecret(ctx, kube, t)
		return made != nil, err
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return link{}, fmt.Errorf("no link for request %q yet: %s", requested, waitingOn(t))
	case err != nil:
		return link{}, fmt.Errorf("wait for the link: %w", err)
	case refused != nil:
		return link{}, refused
	}
	return *made, nil
}

func deref(l *link) link {
	if l == nil {
		return link{}
	}
	return *l
}

// requestLink sets the request annotation to a new value (merge patch: it touches nothing else)
// and returns the value.
func requestLink(ctx context.Context, kube client.Client, t *v1alpha1.StripeTenant) (string, error) {
	value := time.Now().UTC().Format(time.RFC3339Nano)
	if value == t.Annotations[v1alpha1.AnnotationOnboardingLinkRequested] {
		value += "-again"
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{v1alpha1.AnnotationOnboardingLinkRequested: value}}})
	if err != nil {
		return "", fmt.Errorf("patch: %w", err)
	}
	if err := kube.Patch(ctx, t, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return "", fmt.Errorf("request a link (annotate StripeTenant %s/%s): %w", t.Namespace, t.Name, err)
	}
	return value, nil
}

// linkFromSecret reads the link status describes from its Secret, nil when the Secret does not
// hold that link (yet): its expiry must be the one status records.
func linkFromSecret(ctx context.Context, kube client.Client, t *v1alpha1.StripeTenant) (*link, error) {
	l := t.Status.OnboardingLink
	var secret corev1.Secret
	err := kube.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: l.SecretName}, &secret)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the link from Secret %s/%s: %w", t.Namespace, l.SecretName, err)
	}
	expiresAt := formatTime(l.ExpiresAt)
	url := string(secret.Data["url"])
	if url == "" || string(secret.Data["expiresAt"]) != expiresAt {
		return nil, nil
	}
	return &link{url: url, linkType: string(secret.Data["type"]), account: string(secret.Data["account"]),
		expiresAt: expiresAt, secret: t.Namespace + "/" + l.SecretName}, nil
}

// waitingOn says why a link request may not have been answered.
func waitingOn(t *v1alpha1.StripeTenant) string {
	if c := meta.FindStatusCondition(t.Status.Conditions, v1alpha1.ConditionSynced); c != nil && c.Status != metav1.ConditionTrue {
		return fmt.Sprintf("the tenant's last pass failed (Synced=False, %s): %s", c.Reason, c.Message)
	}
	if t.Status.AccountID == "" {
		return "the tenant has no account yet"
	}
	return "the operator has not answered: check that it runs (`kubectl stripe status tenant/" + t.Name + " -n " + t.Namespace + "`)"
}
