package main

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
)

// Pins `kubectl stripe link` against the real operator: it asks with the annotation, waits for the
// operator's answer and prints the URL the Secret holds (and nothing else on stdout); a link still
// valid is printed again without a new request to Stripe; a refusal, a tenant without
// spec.onboarding, a tenant that cannot be reconciled and another kind are errors that say why.
// status names the link's Secret and expiry but never prints the link.
func TestLink(t *testing.T) {
	r := controllertest.NewRig(t, env, controllertest.RigOptions{})
	ctx := context.Background()
	acme, done, bare, lost := r.Tenant("acme"), r.Tenant("done"), r.Tenant("bare"), r.Tenant("lost")
	bare.Spec.Onboarding = nil
	lost.Spec.ConnectionRef.Name = "missing-" + r.NS
	for _, tenant := range []*v1alpha1.StripeTenant{acme, done, bare, lost} {
		r.Create(tenant)
	}
	controllertest.WaitForCondition(t, env.Client, acme, v1alpha1.ConditionSynced, metav1.ConditionTrue, "")
	controllertest.WaitForCondition(t, env.Client, done, v1alpha1.ConditionSynced, metav1.ConditionTrue, "")
	if _, err := r.Emu.CompleteOnboarding(done.Status.AccountID); err != nil {
		t.Fatal(err)
	}
	nudge(r, done, "onboarded")
	controllertest.WaitForCondition(t, env.Client, done, v1alpha1.ConditionOnboardingComplete, metav1.ConditionTrue, "")

	var url string
	t.Run("a fresh link, printed from its Secret", func(t *testing.T) {
		r := r.In(t)
		stdout, stderr, err := plugin(t, "link", "acme", "-n", r.NS, "--timeout", "60s")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		r.Get(acme)
		l := acme.Status.OnboardingLink
		var secret corev1.Secret
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: r.NS, Name: l.SecretName}, &secret); err != nil {
			t.Fatal(err)
		}
		url = string(secret.Data["url"])
		if stdout != url+"\n" || !strings.HasPrefix(url, "http") {
			t.Fatalf("stdout %q, want the Secret's url %q alone", stdout, url)
		}
		if requested := acme.Annotations[v1alpha1.AnnotationOnboardingLinkRequested]; requested == "" || l.RequestedAt != requested {
			t.Errorf("annotation %q, link answered %q: want the plugin's request answered", requested, l.RequestedAt)
		}
		if want := "account_onboarding link for account " + acme.Status.AccountID + ", valid until " + formatTime(l.ExpiresAt); !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
		if n := r.Requests("POST /v1/account_links"); n != 1 {
			t.Errorf("%d links made, want 1", n)
		}
	})

	t.Run("still valid: the same link, no new request", func(t *testing.T) {
		r := r.In(t)
		requested := acme.Annotations[v1alpha1.AnnotationOnboardingLinkRequested]
		stdout, stderr, err := plugin(t, "link", "tenant/acme", "-n", r.NS)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if stdout != url+"\n" || !strings.Contains(stderr, "made for an earlier request and still valid") {
			t.Errorf("stdout %q stderr %q: want the same link, said to be an earlier one", stdout, stderr)
		}
		r.Get(acme)
		if acme.Annotations[v1alpha1.AnnotationOnboardingLinkRequested] != requested || r.Requests("POST /v1/account_links") != 1 {
			t.Errorf("a new request (%q, was %q) or link while one was valid", acme.Annotations[v1alpha1.AnnotationOnboardingLinkRequested], requested)
		}
	})

	t.Run("status names the Secret, never the link", func(t *testing.T) {
		out := mustPlugin(t, "status", "tenant/acme", "-n", r.NS, "-o", "wide")
		lineWith(t, out, "Onboarding link: account_onboarding in Secret acme-onboarding-link, made ")
		json := mustPlugin(t, "status", "tenant/acme", "-n", r.NS, "-o", "json")
		if strings.Contains(out, url) || strings.Contains(json, url) {
			t.Errorf("status prints the link:\n%s", out)
		}
	})

	for _, c := range []struct {
		name, arg, timeout, wantErr string
	}{
		{"refused: nothing to collect", "done", "60s", "the operator made no link for StripeTenant " + r.NS + "/done: the account has nothing to collect: onboarding is complete"},
		{"no spec.onboarding: said before asking", "bare", "60s", "StripeTenant " + r.NS + "/bare has no spec.onboarding (returnURL, refreshURL): the operator makes no link without it"},
		{"unreconcilable: the reason, at the timeout", "lost", "2s", `the tenant's last pass failed (Synced=False, ConnectionNotReady): StripeConnection "missing-` + r.NS + `" does not exist`},
		{"not a tenant", "plan/acme", "60s", "plan/acme is a BillingPlan, want a StripeTenant"},
		{"no such tenant", "nobody", "60s", `StripeTenant "nobody" not found in namespace ` + r.NS},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, _, err := plugin(t, "link", c.arg, "-n", r.NS, "--timeout", c.timeout)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one with %q", err, c.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	r.Get(bare)
	if _, asked := bare.Annotations[v1alpha1.AnnotationOnboardingLinkRequested]; asked {
		t.Error("a request was made for a tenant that cannot get a link")
	}
}
