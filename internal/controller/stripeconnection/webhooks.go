package stripeconnection

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// A connection with spec.webhooks gets its two webhook endpoints without a hand-written manifest: the
// connection controller keeps two StripeWebhookEndpoint objects (which the endpoint controller turns
// into Stripe endpoints, their secrets into Secrets the relay reads). They are the connection's
// children: labelled with it, owned by it, deleted before it (they are users of the connection, so its
// in-use protection waits until their own deletion has removed the endpoints from Stripe).

// LabelConnection marks the webhook endpoints a connection keeps.
const LabelConnection = "payments.cloudip.io/connection"

// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripewebhookendpoints,verbs=get;list;watch;create;update;patch;delete

// endpointSpec is one of the two endpoints a connection keeps.
type endpointSpec struct {
	suffix  string
	connect bool
	purpose string
}

func endpointSpecs() []endpointSpec {
	return []endpointSpec{
		{suffix: "-platform", purpose: "the platform account's events"},
		{suffix: "-connect", connect: true, purpose: "the connected accounts' events"},
	}
}

// endpointGoneRequeue is how soon a connection looks again while an endpoint it must recreate is
// still being deleted (spec.webhooks removed and set again).
const endpointGoneRequeue = 2 * time.Second

// keepEndpoints creates or corrects the connection's endpoints when spec.webhooks is set, and deletes
// them when it is not. It asks to be requeued (waiting) while an endpoint it needs is still going.
func (r *Reconciler) keepEndpoints(ctx context.Context, connection *v1alpha1.StripeConnection) (waiting bool, err error) {
	webhooks := connection.Spec.Webhooks
	if webhooks == nil {
		return false, r.deleteEndpoints(ctx, connection)
	}
	events := webhooks.EnabledEvents
	if len(events) == 0 {
		events = []string{"*"}
	}
	for _, e := range endpointSpecs() {
		endpoint := &v1alpha1.StripeWebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: webhooks.Namespace, Name: connection.Name + e.suffix}}
		if err := r.kube.Get(ctx, client.ObjectKeyFromObject(endpoint), endpoint); err == nil && !endpoint.DeletionTimestamp.IsZero() {
			waiting = true // patching it would be lost with it: recreate it once it is gone
			continue
		}
		_, err := controllerutil.CreateOrPatch(ctx, r.kube, endpoint, func() error {
			if endpoint.Labels == nil {
				endpoint.Labels = map[string]string{}
			}
			endpoint.Labels[LabelConnection] = connection.Name
			endpoint.Spec.ConnectionRef = &v1alpha1.ConnectionReference{Name: connection.Name}
			endpoint.Spec.URL = strings.TrimSuffix(webhooks.RelayURL, "/") + "/stripe/" + endpoint.Namespace + "/" + endpoint.Name
			endpoint.Spec.EnabledEvents = events
			endpoint.Spec.Connect = e.connect
			endpoint.Spec.Description = fmt.Sprintf("%s of StripeConnection %s, to the webhook relay (kept by stripe-operator)", e.purpose, connection.Name)
			return controllerutil.SetControllerReference(connection, endpoint, r.kube.Scheme())
		})
		if err != nil {
			return false, fmt.Errorf("keep webhook endpoint %s/%s of StripeConnection %q: %w", endpoint.Namespace, endpoint.Name, connection.Name, err)
		}
	}
	return waiting, nil
}

// deleteEndpoints deletes the endpoints the connection keeps (their own deletion removes them from
// Stripe, while the connection still serves them).
func (r *Reconciler) deleteEndpoints(ctx context.Context, connection *v1alpha1.StripeConnection) error {
	var endpoints v1alpha1.StripeWebhookEndpointList
	if err := r.kube.List(ctx, &endpoints, client.MatchingLabels{LabelConnection: connection.Name}); err != nil {
		return fmt.Errorf("list webhook endpoints of StripeConnection %q: %w", connection.Name, err)
	}
	for i := range endpoints.Items {
		endpoint := &endpoints.Items[i]
		if !metav1.IsControlledBy(endpoint, connection) || !endpoint.DeletionTimestamp.IsZero() {
			continue
		}
		if err := r.kube.Delete(ctx, endpoint); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete webhook endpoint %s/%s of StripeConnection %q: %w", endpoint.Namespace, endpoint.Name, connection.Name, err)
		}
	}
	return nil
}
