package billingplan

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// Kind is the kind's name in tags, events and logs.
const Kind = "BillingPlan"

// TenantRefIndex indexes plans by the tenant whose connected account they live on.
const TenantRefIndex = "spec.tenantRef.name"

// +kubebuilder:rbac:groups=payments.cloudip.io,resources=billingplans,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=billingplans/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=billingplans/finalizers,verbs=update
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripetenants,verbs=get;list;watch

// Declaration declares the kind and its references: its connection, and the tenant on whose connected
// account it lives, whose connection it inherits and which is not deleted while the plan exists.
func Declaration() managed.Kind {
	return managed.Kind{
		Name:    Kind,
		New:     func() managed.Object { return &v1alpha1.BillingPlan{} },
		NewList: func() client.ObjectList { return &v1alpha1.BillingPlanList{} },
		References: []managed.Reference{
			managed.ConnectionReference(),
			{
				Index: TenantRefIndex, To: &v1alpha1.StripeTenant{}, ToKind: "StripeTenant",
				Name:               tenantRefName,
				InheritsConnection: true, Protects: true, Wakes: tenantPlacementChanged(),
			},
		},
	}
}

func tenantRefName(o client.Object) string {
	if plan, ok := o.(*v1alpha1.BillingPlan); ok && plan.Spec.TenantRef != nil {
		return plan.Spec.TenantRef.Name
	}
	return ""
}

// Setup registers the BillingPlan controller: the generic reconciler with this package's adapter.
func Setup(mgr ctrl.Manager, connections *stripeconn.Resolver, o managed.Options, c managed.ControllerOptions) error {
	o.Kind = Declaration()
	o.Connecter = Connecter{Kube: mgr.GetClient()}
	r := managed.NewReconciler(mgr.GetClient(), connections, mgr.GetEventRecorder("stripe-operator-billingplan"), o)
	return managed.Setup(mgr, r, c, nil)
}

// tenantPlacementChanged passes the tenant events that change where its plans live: a tenant created or
// deleted, its connected account recorded, its connection changed, its deletion started (the plan's
// own deletion may be waiting on it). Every other status write of a tenant (requirements,
// capabilities, subscription status) leaves its plans alone.
func tenantPlacementChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, okBefore := e.ObjectOld.(*v1alpha1.StripeTenant)
			after, okAfter := e.ObjectNew.(*v1alpha1.StripeTenant)
			if !okBefore || !okAfter {
				return true
			}
			return before.Status.AccountID != after.Status.AccountID ||
				before.DeletionTimestamp.IsZero() != after.DeletionTimestamp.IsZero() ||
				!equality.Semantic.DeepEqual(before.Spec.ConnectionRef, after.Spec.ConnectionRef)
		},
	}
}
