package stripetenant

import (
	"k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// Kind is the kind's name in tags, events and logs.
const Kind = "StripeTenant"

// PlanRefIndex indexes tenants by the BillingPlan they subscribe to.
const PlanRefIndex = "spec.subscription.planRef.name"

// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripetenants,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripetenants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripetenants/finalizers,verbs=update
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=billingplans,verbs=get;list;watch
// Onboarding links go into a Secret in the tenant's namespace by server-side apply: create and patch
// only, never get, list or watch, so the operator cannot read the Secrets of tenant namespaces.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;patch

// Declaration declares the kind and its references: its connection, and the platform plan it
// subscribes to, which is not deleted while the tenant subscribes and wakes it when it versions a price.
func Declaration() managed.Kind {
	return managed.Kind{
		Name:    Kind,
		New:     func() managed.Object { return &v1alpha1.StripeTenant{} },
		NewList: func() client.ObjectList { return &v1alpha1.StripeTenantList{} },
		References: []managed.Reference{
			managed.ConnectionReference(),
			{Index: PlanRefIndex, To: &v1alpha1.BillingPlan{}, ToKind: "BillingPlan", Name: planRefName, Protects: true, Wakes: planPricesChanged()},
		},
	}
}

func planRefName(o client.Object) string {
	if t, ok := o.(*v1alpha1.StripeTenant); ok && t.Spec.Subscription != nil {
		return t.Spec.Subscription.PlanRef.Name
	}
	return ""
}

// Setup registers the StripeTenant controller: the generic reconciler with this package's adapter.
func Setup(mgr ctrl.Manager, connections *stripeconn.Resolver, o managed.Options, c managed.ControllerOptions) error {
	o.Kind = Declaration()
	o.Connecter = Connecter{Kube: mgr.GetClient()}
	r := managed.NewReconciler(mgr.GetClient(), connections, mgr.GetEventRecorder("stripe-operator-stripetenant"), o)
	return managed.Setup(mgr, r, c, nil)
}

// planPricesChanged passes the plan events that concern its subscribers: its prices created or
// versioned (a new id for a key), where it lives, its deletion starting.
func planPricesChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, okBefore := e.ObjectOld.(*v1alpha1.BillingPlan)
			after, okAfter := e.ObjectNew.(*v1alpha1.BillingPlan)
			if !okBefore || !okAfter {
				return true
			}
			return !equality.Semantic.DeepEqual(before.Status.Prices, after.Status.Prices) ||
				!equality.Semantic.DeepEqual(before.Spec.TenantRef, after.Spec.TenantRef) ||
				before.DeletionTimestamp.IsZero() != after.DeletionTimestamp.IsZero()
		},
	}
}
