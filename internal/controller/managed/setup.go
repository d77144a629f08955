package managed

import (
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
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// ControllerOptions are the per-kind knobs of a controller.
type ControllerOptions struct {
	// MaxConcurrentReconciles is how many objects of this kind reconcile at once (default 1). The shared
	// per-connection token bucket, not this number, is what keeps Stripe under its limit.
	MaxConcurrentReconciles int
	// MaxRetryDelay bounds the retry backoff of a failing object: 1 s doubling up to this (default
	// 5 min).
	MaxRetryDelay time.Duration
}

// Setup registers the reconciler with the manager: the kind itself (filtered to changes a person makes)
// and the watches its declared references imply (extra may add more, or be nil). The registry's
// indexes must be registered (Registry.Index) before the manager starts.
func Setup(mgr ctrl.Manager, r *Reconciler, opts ControllerOptions, extra func(*builder.Builder) *builder.Builder) error {
	if opts.MaxConcurrentReconciles <= 0 {
		opts.MaxConcurrentReconciles = 1
	}
	if opts.MaxRetryDelay <= 0 {
		opts.MaxRetryDelay = MaxRetryDelay
	}
	rateLimiter := workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](BaseRetryDelay, opts.MaxRetryDelay)

	b := ctrl.NewControllerManagedBy(mgr).
		Named(r.kind.Name).
		For(r.kind.New(), builder.WithPredicates(ChangedByPerson())).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles, RateLimiter: rateLimiter})
	b = r.watchReferences(b)
	if nudged := r.nudges.source(r.kind.Name); nudged != nil {
		b = b.WatchesRawSource(nudged)
	}
	if extra != nil {
		b = extra(b)
	}
	if err := b.Complete(r); err != nil {
		return fmt.Errorf("set up %s controller: %w", r.kind.Name, err)
	}
	return nil
}

// ChangedByPerson passes the events that ask for a pass: a new object, a spec change (generation),
// deletion, and the annotations a person sets (paused, adopting an id, asking for a reconcile or an
// onboarding link: any annotation of the group). It drops what the reconciler itself writes (status,
// finalizer, the create-pending markers and the ids that replace them), so a pass never triggers the
// next one.
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
			return annotationsChangedByPerson(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations())
		},
	}
}

func annotationsChangedByPerson(before, after map[string]string) bool {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for key := range keys {
		if !strings.HasPrefix(key, annotationGroupPrefix) || before[key] == after[key] {
			continue
		}
		externalName := key == v1alpha1.AnnotationExternalName || strings.HasPrefix(key, AnnotationSecondaryPrefix)
		if externalName && (strings.HasPrefix(before[key], CreatePending) || strings.HasPrefix(after[key], CreatePending)) {
			continue // the reconciler's own marker, or the id it wrote in its place
		}
		return true
	}
	return false
}

// annotationGroupPrefix starts every annotation of the group.
const annotationGroupPrefix = "payments.cloudip.io/"

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
