package stripetenant_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
)

// Pins the whole onboarding path as a platform engineer lives it: the account is created with its
// capabilities and the status says what is due and how to get a link; a link, asked for with the
// annotation, lands in a Secret and nowhere else; the tenant submits, Stripe verifies, and
// `kubectl wait --for=condition=ChargesEnabled` returns with nobody nudging the operator (the
// onboarding recheck); requirements that come due later are reported with their deadline.
func TestOnboarding(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx := context.Background()
	tenant := r.tenant("acme")
	r.Create(tenant)
	r.synced(tenant)
	r.wait(tenant, v1alpha1.ConditionOnboardingComplete, metav1.ConditionFalse, v1alpha1.ReasonRequirementsDue)

	accounts := r.accountsOf(tenant)
	if len(accounts) != 1 || accounts[0].ID != tenant.Status.AccountID || v1alpha1.GetExternalName(tenant) != accounts[0].ID {
		t.Fatalf("accounts %+v, status %q, annotation %q: want exactly the recorded one", accounts, tenant.Status.AccountID, v1alpha1.GetExternalName(tenant))
	}
	for _, name := range []string{"card_payments", "transfers", "us_bank_account_ach_payments"} {
		if _, requested := accounts[0].Capabilities[name]; !requested {
			t.Errorf("capability %s not requested: %v", name, accounts[0].Capabilities)
		}
	}
	onboarding := r.condition(tenant, v1alpha1.ConditionOnboardingComplete)
	for _, want := range []string{"fields due", "kubectl annotate", v1alpha1.AnnotationOnboardingLinkRequested} {
		if !strings.Contains(onboarding.Message, want) {
			t.Errorf("OnboardingComplete message %q lacks %q", onboarding.Message, want)
		}
	}
	if tenant.Status.Requirements == nil || len(tenant.Status.Requirements.CurrentlyDue) == 0 {
		t.Errorf("status.requirements %+v, want fields currently due", tenant.Status.Requirements)
	}
	r.wait(tenant, v1alpha1.ConditionChargesEnabled, metav1.ConditionFalse, v1alpha1.ReasonDisabled)
	r.wait(tenant, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonActionRequired)

	t.Run("a link on request, in a Secret only", func(t *testing.T) {
		r := r.in(t)
		r.Update(tenant, func() {
			tenant.Annotations = map[string]string{v1alpha1.AnnotationOnboardingLinkRequested: "1"}
		})
		controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
			r.Get(tenant)
			if l := tenant.Status.OnboardingLink; l == nil || l.RequestedAt != "1" {
				return errString("no link answered request 1 yet")
			}
			return nil
		})
		link := tenant.Status.OnboardingLink
		var secret corev1.Secret
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: r.NS, Name: link.SecretName}, &secret); err != nil {
			t.Fatalf("link Secret: %v", err)
		}
		url := string(secret.Data["url"])
		if !strings.HasPrefix(url, "http") || link.Type != "account_onboarding" || link.ExpiresAt == nil || !link.ExpiresAt.After(time.Now().Add(time.Minute)) {
			t.Fatalf("link %+v with url %q: want an account_onboarding link valid for minutes", link, url)
		}
		if len(secret.OwnerReferences) != 1 || secret.OwnerReferences[0].UID != tenant.UID {
			t.Errorf("link Secret owners %+v, want the tenant", secret.OwnerReferences)
		}
		assertNowhereBut(t, tenant, url)

		// An unexpired link is not replaced by a new request.
		links := r.Requests("POST /v1/account_links")
		r.Update(tenant, func() { tenant.Annotations[v1alpha1.AnnotationOnboardingLinkRequested] = "2" })
		time.Sleep(2 * time.Second)
		if n := r.Requests("POST /v1/account_links"); n != links {
			t.Errorf("%d links made for a request while one was valid", n-links)
		}
	})

	account := tenant.Status.AccountID
	if _, err := r.Emu.SubmitOnboarding(account); err != nil {
		t.Fatal(err)
	}
	r.wait(tenant, v1alpha1.ConditionOnboardingComplete, metav1.ConditionFalse, v1alpha1.ReasonPendingVerification)

	if _, err := r.Emu.CompleteOnboarding(account); err != nil {
		t.Fatal(err)
	}
	// What a person types; the operator is told nothing, it polls on its bounded recheck.
	if out, err := env.Kubectl("wait", "-n", r.NS, "--for=condition=ChargesEnabled", "stripetenant/acme", "--timeout=90s"); err != nil {
		t.Fatalf("kubectl wait: %v\n%s", err, out)
	}
	r.wait(tenant, v1alpha1.ConditionPayoutsEnabled, metav1.ConditionTrue, v1alpha1.ReasonEnabled)
	r.wait(tenant, v1alpha1.ConditionOnboardingComplete, metav1.ConditionTrue, v1alpha1.ReasonOnboardingComplete)
	r.wait(tenant, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	for _, c := range tenant.Status.Capabilities {
		if c.Status != "active" {
			t.Errorf("capability %s is %s, want active", c.Name, c.Status)
		}
	}

	t.Run("requirements coming due later carry their deadline", func(t *testing.T) {
		r := r.in(t)
		deadline := time.Now().Add(72 * time.Hour).Truncate(time.Second).UTC()
		if _, err := r.Emu.SetRequirementsDue(account, emulator.RequirementsDue{Fields: []string{"individual.verification.document"}, Deadline: deadline}); err != nil {
			t.Fatal(err)
		}
		// Until the webhook relay lands, a person (or the relay) asks for a pass on news from Stripe.
		r.Update(tenant, func() { tenant.Annotations["payments.cloudip.io/reconcile-requested-at"] = "deadline" })
		r.wait(tenant, v1alpha1.ConditionOnboardingComplete, metav1.ConditionFalse, v1alpha1.ReasonRequirementsDue)
		message := r.condition(tenant, v1alpha1.ConditionOnboardingComplete).Message
		for _, want := range []string{"1 field due", "individual.verification.document", deadline.Format(time.RFC3339)} {
			if !strings.Contains(message, want) {
				t.Errorf("message %q lacks %q", message, want)
			}
		}
		if d := tenant.Status.Requirements.CurrentDeadline; d == nil || !d.Time.Equal(deadline) {
			t.Errorf("currentDeadline %v, want %s", d, deadline)
		}
	})
	r.NoSpecRefusals()
}

// assertNowhereBut fails when the link's URL appears in the tenant's status or in any event: links are
// bearer credentials.
func assertNowhereBut(t *testing.T, tenant *v1alpha1.StripeTenant, url string) {
	t.Helper()
	status, err := json.Marshal(tenant.Status)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(status), url) {
		t.Errorf("the link is in status")
	}
	var events eventsv1.EventList
	if err := env.Client.List(context.Background(), &events, client.InNamespace(tenant.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if strings.Contains(e.Note, url) {
			t.Errorf("the link is in event %s: %s", e.Reason, e.Note)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// Pins that a tenant is rechecked from its very first pass: the pass that creates the account asks
// for the onboarding recheck (made on the account it just created), so a tenant that nobody touches
// after applying it still reaches ChargesEnabled once Stripe verifies it.
func TestNewTenantNeedsNoNudge(t *testing.T) {
	r := newRig(t, rigOptions{})
	tenant := r.tenant("untouched")
	r.Create(tenant)
	r.synced(tenant)
	reads := r.Requests("GET /v1/accounts/")
	if _, err := r.Emu.CompleteOnboarding(tenant.Status.AccountID); err != nil {
		t.Fatal(err)
	}
	if out, err := env.Kubectl("wait", "-n", r.NS, "--for=condition=ChargesEnabled", "stripetenant/untouched", "--timeout=60s"); err != nil {
		t.Fatalf("kubectl wait: %v\n%s", err, out)
	}
	if r.Requests("GET /v1/accounts/") == reads {
		t.Error("ChargesEnabled without a read of the account")
	}
	// Done onboarding: no more rechecks.
	r.wait(tenant, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	settled := r.Requests("GET /v1/accounts/")
	time.Sleep(7 * time.Second) // past the next step of the cadence
	if n := r.Requests("GET /v1/accounts/") - settled; n != 0 {
		t.Errorf("%d account reads after onboarding finished, want none until the resync", n)
	}
	r.NoSpecRefusals()
}
