package managed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// ConnectionRefIndex is the field index, on every managed kind, of the StripeConnection it references:
// when a connection becomes ready (or its key changes), exactly its dependents are enqueued.
const ConnectionRefIndex = "spec.connectionRef.name"

// IndexConnectionRef registers ConnectionRefIndex for a kind. Every kind that can reference a
// connection is indexed once, whether or not it has a controller yet: a connection's deletion waits for
// all of them.
func IndexConnectionRef(mgr ctrl.Manager, obj client.Object) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), obj, ConnectionRefIndex, func(o client.Object) []string {
		if name := ConnectionRefName(o); name != "" {
			return []string{name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index %T by connection: %w", obj, err)
	}
	return nil
}

// ConnectionRefName returns the StripeConnection an object names in spec.connectionRef, or "".
func ConnectionRefName(o client.Object) string {
	managed, ok := o.(Object)
	if !ok || managed.GetManagedSpec() == nil || managed.GetManagedSpec().ConnectionRef == nil {
		return ""
	}
	return managed.GetManagedSpec().ConnectionRef.Name
}

// ConnectionUsers lists, as "Kind namespace/name", the objects of the given kinds (as empty lists)
// whose spec.connectionRef names the connection.
func ConnectionUsers(ctx context.Context, kube client.Client, connection string, lists ...client.ObjectList) ([]string, error) {
	var users []string
	for _, list := range lists {
		if err := kube.List(ctx, list, client.MatchingFields{ConnectionRefIndex: connection}); err != nil {
			return nil, fmt.Errorf("list users of StripeConnection %q: %w", connection, err)
		}
		kind := strings.TrimSuffix(fmt.Sprintf("%T", list), "List")
		kind = kind[strings.LastIndex(kind, ".")+1:]
		if err := forEachItem(list, func(o client.Object) {
			users = append(users, kind+" "+o.GetNamespace()+"/"+o.GetName())
		}); err != nil {
			return nil, err
		}
	}
	return users, nil
}

// ControllerOptions are the per-kind knobs of a controller.
type ControllerOptions struct {
	// MaxConcurrentReconciles is how many objects of this kind reconcile at once (default 1). The shared
	// per-connection token bucket, not this number, is what keeps Stripe under its limit.
	MaxConcurrentReconciles int
	// MaxRetryDelay bounds the retry backoff of a failing object: 1 s doubling up to this (default
	// 5 min).
	MaxRetryDelay time.Duration
}

// Setup registers the reconciler with the manager: the kind itself (filtered to changes a person makes),
// the connections it references, and whatever else the kind watches (extra may be nil). The kind's
// ConnectionRefIndex must be registered (IndexConnectionRef) before the manager starts.
func Setup(mgr ctrl.Manager, r *Reconciler, opts ControllerOptions, extra func(*builder.Builder) *builder.Builder) error {
	forType := r.newObject()
	if opts.MaxConcurrentReconciles <= 0 {
		opts.MaxConcurrentReconciles = 1
	}
	if opts.MaxRetryDelay <= 0 {
		opts.MaxRetryDelay = MaxRetryDelay
	}
	rateLimiter := workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](BaseRetryDelay, opts.MaxRetryDelay)

	b := ctrl.NewControllerManagedBy(mgr).
		Named(r.kind).
		For(forType, builder.WithPredicates(ChangedByPerson())).
		Watches(&v1alpha1.StripeConnection{}, handler.EnqueueRequestsFromMapFunc(r.dependentsOfConnection)).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles, RateLimiter: rateLimiter})
	if extra != nil {
		b = extra(b)
	}
	if err := b.Complete(r); err != nil {
		return fmt.Errorf("set up %s controller: %w", r.kind, err)
	}
	return nil
}

// dependentsOfConnection enqueues every object of this kind that references the connection.
func (r *Reconciler) dependentsOfConnection(ctx context.Context, connection client.Object) []reconcile.Request {
	list, err := listOfKind(r.kube, r.newObject())
	if err != nil {
		return nil
	}
	if err := r.kube.List(ctx, list, client.MatchingFields{ConnectionRefIndex: connection.GetName()}); err != nil {
		return nil
	}
	return requestsFor(list)
}

// ChangedByPerson passes the events that ask for a pass: a new object, a spec change (generation),
// deletion, and the annotations a person sets (paused, adopting an id, asking for a reconcile). It drops
// what the reconciler itself writes (status, finalizer, the create-pending marker and the id that
// replaces it), so a pass never triggers the next one.
func ChangedByPerson() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld == nil || e.ObjectNew == nil {
				return true
			}
			if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() {
				return true
			}
			if e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero() {
				return true
			}
			before, after := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
			if before[v1alpha1.AnnotationPaused] != after[v1alpha1.AnnotationPaused] ||
				before[AnnotationReconcileRequested] != after[AnnotationReconcileRequested] {
				return true
			}
			oldName, newName := before[v1alpha1.AnnotationExternalName], after[v1alpha1.AnnotationExternalName]
			return oldName != newName && oldName != CreatePending && newName != CreatePending
		},
	}
}

func requestsFor(list client.ObjectList) []reconcile.Request {
	var requests []reconcile.Request
	_ = forEachItem(list, func(o client.Object) {
		requests = append(requests, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}})
	})
	return requests
}

// Retry backoff bounds for failing objects: bounded, and never a hot loop on a 5xx burst or a 429
// storm.
const (
	BaseRetryDelay = 1 * time.Second
	MaxRetryDelay  = 5 * time.Minute
)

// listOfKind returns an empty list for the kind of obj, found through the scheme (FooList for Foo).
func listOfKind(kube client.Client, obj client.Object) (client.ObjectList, error) {
	gvk, err := apiutil.GVKForObject(obj, kube.Scheme())
	if err != nil {
		return nil, fmt.Errorf("kind of %T: %w", obj, err)
	}
	gvk.Kind += "List"
	newList, err := kube.Scheme().New(gvk)
	if err != nil {
		return nil, fmt.Errorf("list kind %s: %w", gvk.Kind, err)
	}
	list, ok := newList.(client.ObjectList)
	if !ok {
		return nil, fmt.Errorf("%s is not a list", gvk.Kind)
	}
	return list, nil
}

func forEachItem(list client.ObjectList, do func(client.Object)) error {
	err := meta.EachListItem(list, func(item runtime.Object) error {
		if o, ok := item.(client.Object); ok {
			do(o)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk %T: %w", list, err)
	}
	return nil
}
