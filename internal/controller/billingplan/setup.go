package billingplan

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
)

// Kind is the kind's name in tags, events and logs.
const Kind = "BillingPlan"

// tenantRefIndex indexes plans by the tenant whose connected account they live on.
const tenantRefIndex = "spec.tenantRef.name"

// +kubebuilder:rbac:groups=payments.cloudip.io,resources=billingplans,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=billingplans/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=billingplans/finalizers,verbs=update
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripetenants,verbs=get;list;watch

// Setup registers the BillingPlan controller: the generic reconciler with this package's adapter, woken
// also when a plan's tenant changes (its connected account appears).
func Setup(mgr ctrl.Manager, connections *managed.Connections, o managed.Options, c managed.ControllerOptions) error {
	connecter := Connecter{Kube: mgr.GetClient()}
	o.Kind = Kind
	o.NewObject = func() managed.Object { return &v1alpha1.BillingPlan{} }
	o.Connecter = connecter
	o.ConnectionOf = connecter.ConnectionOf
	r := managed.NewReconciler(mgr.GetClient(), connections, mgr.GetEventRecorder("stripe-operator-billingplan"), o)

	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.BillingPlan{}, tenantRefIndex, func(obj client.Object) []string {
		if ref := obj.(*v1alpha1.BillingPlan).Spec.TenantRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index BillingPlans by tenant: %w", err)
	}
	plansOfTenant := func(ctx context.Context, tenant client.Object) []reconcile.Request {
		var plans v1alpha1.BillingPlanList
		if err := mgr.GetClient().List(ctx, &plans, client.InNamespace(tenant.GetNamespace()), client.MatchingFields{tenantRefIndex: tenant.GetName()}); err != nil {
			return nil
		}
		requests := make([]reconcile.Request, 0, len(plans.Items))
		for i := range plans.Items {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&plans.Items[i])})
		}
		return requests
	}
	return managed.Setup(mgr, r, c, func(b *builder.Builder) *builder.Builder {
		return b.Watches(&v1alpha1.StripeTenant{}, handler.EnqueueRequestsFromMapFunc(plansOfTenant), builder.WithPredicates(tenantPlacementChanged()))
	})
}

// tenantPlacementChanged passes the tenant events that change where its plans live: a tenant created or
// deleted, its connected account recorded, its connection changed. Every other status write of a
// tenant (requirements, capabilities, subscription status) leaves its plans alone.
func tenantPlacementChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, okBefore := e.ObjectOld.(*v1alpha1.StripeTenant)
			after, okAfter := e.ObjectNew.(*v1alpha1.StripeTenant)
			if !okBefore || !okAfter {
				return true
			}
			return before.Status.AccountID != after.Status.AccountID ||
				!equality.Semantic.DeepEqual(before.Spec.ConnectionRef, after.Spec.ConnectionRef)
		},
	}
}
