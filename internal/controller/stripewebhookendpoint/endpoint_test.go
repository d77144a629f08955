package stripewebhookendpoint_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

func endpoint(r *controllertest.Rig, name string) *v1alpha1.StripeWebhookEndpoint {
	return &v1alpha1.StripeWebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: name},
		Spec: v1alpha1.StripeWebhookEndpointSpec{
			ManagedSpec:   v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: r.Connection}},
			URL:           "https://relay.cloudip.example/stripe/" + name,
			EnabledEvents: []string{"account.updated", "product.updated"},
		},
	}
}

func signingSecret(t *testing.T, r *controllertest.Rig, w *v1alpha1.StripeWebhookEndpoint) string {
	t.Helper()
	var secret corev1.Secret
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: r.NS, Name: w.SigningSecretName()}, &secret); err != nil {
		t.Fatalf("signing Secret: %v", err)
	}
	return string(secret.Data[v1alpha1.SigningSecretKey])
}

// Pins the endpoint's life: created with its events and the SDK's API version, its signing secret in
// its Secret (owned by the endpoint) and nowhere else; changed in place (same id, same secret);
// deleted with the object.
func TestEndpointLifecycle(t *testing.T) {
	r := controllertest.NewRig(t, env, controllertest.RigOptions{})
	ctx := context.Background()
	w := endpoint(r, "relay")
	r.Create(w)
	controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	secret := signingSecret(t, r, w)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("signing secret %q, want whsec_…", secret)
	}
	got, err := r.Stripe.GetWebhookEndpoint(ctx, w.Status.EndpointID)
	if err != nil {
		t.Fatal(err)
	}
	if got.APIVersion != stripeapi.APIVersion || got.URL != w.Spec.URL || len(got.EnabledEvents) != 2 {
		t.Errorf("endpoint %+v, want the spec's URL and events at API version %s", got, stripeapi.APIVersion)
	}

	r.Update(w, func() { w.Spec.EnabledEvents = append(w.Spec.EnabledEvents, "customer.subscription.updated") })
	controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
		got, err = r.Stripe.GetWebhookEndpoint(ctx, w.Status.EndpointID)
		if err != nil {
			return err
		}
		if len(got.EnabledEvents) != 3 {
			return errors.New("events not updated yet")
		}
		return nil
	})
	if all, _ := r.Stripe.ListWebhookEndpoints(ctx); len(all) != 1 {
		t.Errorf("%d endpoints, want the one updated in place", len(all))
	}
	if again := signingSecret(t, r, w); again != secret {
		t.Error("the signing secret changed on an update")
	}

	if err := env.Client.Delete(ctx, w); err != nil {
		t.Fatal(err)
	}
	controllertest.Gone(t, env.Client, w)
	if _, err := r.Stripe.GetWebhookEndpoint(ctx, got.ID); !stripeapi.IsNotFound(err) {
		t.Errorf("endpoint after delete: %v, want gone", err)
	}
	r.NoSpecRefusals()
}

// failSecretApplyOnce returns a client constructor whose client fails, once, the server-side apply of a
// Secret: the signing secret's write lost between Stripe's answer and the id's record.
func failSecretApplyOnce(failed chan<- struct{}) client.NewClientFunc {
	var once sync.Once
	return controllertest.Intercepted(interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			fail := false
			once.Do(func() { fail = true })
			if fail {
				close(failed)
				return errors.New("simulated loss of the Secret write")
			}
			return c.Apply(ctx, obj, opts...)
		},
	})
}

// Pins the contract's secret guarantee end to end: when the Secret write is lost, the create is
// repeated with its idempotency key, Stripe answers with the same endpoint and the same secret, and
// the Secret ends up holding it: one endpoint, a secret that verifies its events.
func TestLostSecretWriteIsRecovered(t *testing.T) {
	failed := make(chan struct{})
	r := controllertest.NewRig(t, env, controllertest.RigOptions{Manager: controllertest.ManagerOptions{NewClient: failSecretApplyOnce(failed)}})
	w := endpoint(r, "lost")
	r.Create(w)
	<-failed
	controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	all, err := r.Stripe.ListWebhookEndpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != w.Status.EndpointID {
		t.Fatalf("endpoints %+v, want exactly %s", all, w.Status.EndpointID)
	}
	if n := r.Requests("POST /v1/webhook_endpoints"); n < 2 {
		t.Errorf("%d creates, want the create repeated after the lost Secret write", n)
	}
	if r.Emu.Stats().IdempotentReplays == 0 {
		t.Error("the repeat was not answered from Stripe's idempotency cache")
	}
	if secret := signingSecret(t, r, w); !strings.HasPrefix(secret, "whsec_") {
		t.Errorf("signing secret %q", secret)
	}
	r.NoSpecRefusals()
}

// Pins the refusals and the adoption: the 16-endpoint limit is a condition before Stripe refuses; an
// adopted endpoint is not recreated and says which Secret must hold its secret.
func TestLimitAndAdoption(t *testing.T) {
	ctx := context.Background()
	t.Run("the 16-endpoint limit", func(t *testing.T) {
		r := controllertest.NewRig(t, env, controllertest.RigOptions{})
		for i := range 16 {
			if _, err := r.Stripe.CreateWebhookEndpoint(ctx, stripeapi.WebhookEndpointCreateParams{
				IdempotencyKey: "pre-" + string(rune('a'+i)), Tags: stripeapi.Tags{UID: "x", NamespacedName: "x/x", Kind: "Manual"},
				URL: "https://elsewhere.example/hook", EnabledEvents: []string{"*"},
			}); err != nil {
				t.Fatal(err)
			}
		}
		w := endpoint(r, "seventeenth")
		r.Create(w)
		controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonEndpointLimit)
		if n := r.Requests("POST /v1/webhook_endpoints"); n != 16 {
			t.Errorf("%d creates sent, want none beyond the test's 16", n)
		}
		r.NoSpecRefusals()
	})
	t.Run("an adopted endpoint", func(t *testing.T) {
		r := controllertest.NewRig(t, env, controllertest.RigOptions{})
		w := endpoint(r, "adopted")
		existing, err := r.Stripe.CreateWebhookEndpoint(ctx, stripeapi.WebhookEndpointCreateParams{
			IdempotencyKey: "existing", Tags: stripeapi.Tags{UID: "x", NamespacedName: "x/x", Kind: "Manual"},
			URL: w.Spec.URL, EnabledEvents: w.Spec.EnabledEvents,
		})
		if err != nil {
			t.Fatal(err)
		}
		w.Annotations = map[string]string{v1alpha1.AnnotationExternalName: existing.ID}
		writes := r.Writes()
		r.Create(w)
		controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretUnknown)
		ready := w.Status.Conditions
		message := ""
		for _, c := range ready {
			if c.Type == v1alpha1.ConditionReady {
				message = c.Message
			}
		}
		if !strings.Contains(message, w.SigningSecretName()) {
			t.Errorf("Ready message %q, want the Secret that must hold the secret", message)
		}
		if n := r.Writes() - writes; n != 0 {
			t.Errorf("%d Stripe writes for an adopted endpoint that matches, want 0", n)
		}
		r.NoSpecRefusals()
	})
}
