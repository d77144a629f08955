package stripeconnection_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/controller/stripeconnection"
)

// Pins "webhooks are managed by the operator, not the Dashboard": a connection with spec.webhooks gets
// its platform and Connect endpoints pointing at the relay, with their secrets in Secrets, and no
// hand-written manifest; removing spec.webhooks removes them from Stripe; deleting the connection
// first deletes them (its in-use protection waits for their clean-up in Stripe), then goes.
func TestConnectionKeepsItsEndpoints(t *testing.T) {
	r := controllertest.NewRig(t, env, controllertest.RigOptions{})
	ctx := context.Background()
	var connection v1alpha1.StripeConnection
	if err := env.Client.Get(ctx, types.NamespacedName{Name: r.Connection}, &connection); err != nil {
		t.Fatal(err)
	}
	withWebhooks := func() {
		connection.Spec.Webhooks = &v1alpha1.ConnectionWebhooks{RelayURL: "https://relay.cloudip.example/", Namespace: r.NS, EnabledEvents: []string{"account.updated", "product.updated"}}
	}
	r.Update(&connection, withWebhooks)
	for _, suffix := range []string{"-platform", "-connect"} {
		endpoint := &v1alpha1.StripeWebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: r.Connection + suffix}}
		controllertest.Eventually(t, controllertest.DefaultTimeout, func() error { return env.Client.Get(ctx, client.ObjectKeyFromObject(endpoint), endpoint) })
		controllertest.WaitForCondition(t, env.Client, endpoint, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
		wantURL := "https://relay.cloudip.example/stripe/" + r.NS + "/" + endpoint.Name
		if endpoint.Spec.URL != wantURL || endpoint.Spec.Connect != (suffix == "-connect") || endpoint.Labels[stripeconnection.LabelConnection] != r.Connection {
			t.Errorf("endpoint %s: url %s connect %v labels %v; want %s, connect only for -connect", endpoint.Name, endpoint.Spec.URL, endpoint.Spec.Connect, endpoint.Labels, wantURL)
		}
		var secret corev1.Secret
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: r.NS, Name: endpoint.SigningSecretName()}, &secret); err != nil || !strings.HasPrefix(string(secret.Data[v1alpha1.SigningSecretKey]), "whsec_") {
			t.Errorf("signing Secret of %s: %v", endpoint.Name, err)
		}
	}
	stripeEndpoints := func(want int) {
		t.Helper()
		controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
			all, err := r.Stripe.ListWebhookEndpoints(ctx)
			if err != nil {
				return err
			}
			if len(all) != want {
				return fmt.Errorf("%d endpoints in Stripe, want %d", len(all), want)
			}
			return nil
		})
	}
	stripeEndpoints(2)

	r.Update(&connection, func() { connection.Spec.Webhooks = nil })
	stripeEndpoints(0)

	r.Update(&connection, withWebhooks)
	stripeEndpoints(2)
	if err := env.Client.Delete(ctx, &connection); err != nil {
		t.Fatal(err)
	}
	controllertest.Gone(t, env.Client, &connection)
	stripeEndpoints(0)
	r.NoSpecRefusals()
}
