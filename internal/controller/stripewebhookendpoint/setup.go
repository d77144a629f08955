package stripewebhookendpoint

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// Kind is the kind's name in tags, events and logs.
const Kind = "StripeWebhookEndpoint"

// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripewebhookendpoints,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripewebhookendpoints/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripewebhookendpoints/finalizers,verbs=update

// Declaration declares the kind: its connection is its only reference.
func Declaration() managed.Kind {
	return managed.Kind{
		Name:       Kind,
		New:        func() managed.Object { return &v1alpha1.StripeWebhookEndpoint{} },
		NewList:    func() client.ObjectList { return &v1alpha1.StripeWebhookEndpointList{} },
		References: []managed.Reference{managed.ConnectionReference()},
	}
}

// Setup registers the StripeWebhookEndpoint controller: the generic reconciler with this adapter.
func Setup(mgr ctrl.Manager, connections *stripeconn.Resolver, o managed.Options, c managed.ControllerOptions) error {
	o.Kind = Declaration()
	o.Connecter = Connecter{}
	r := managed.NewReconciler(mgr.GetClient(), connections, mgr.GetEventRecorder("stripe-operator-stripewebhookendpoint"), o)
	return managed.Setup(mgr, r, c, nil)
}
