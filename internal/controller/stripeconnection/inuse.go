package stripeconnection

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
)

// In-use protection, as Kubernetes protects a PersistentVolumeClaim a Pod uses: a connection keeps
// its finalizer while any object references it. Deleting it first would leave those objects unable to
// reach Stripe, and their own deletion (archive the product, delete the endpoint) stuck forever.

// UsersOf lists the objects ("Kind namespace/name") that reference a connection.
type UsersOf func(ctx context.Context, connection string) ([]string, error)

// usersShown bounds how many users the condition names.
const usersShown = 5

// inUseRequeue bounds how long a missed watch event can delay the release (users are watched).
const inUseRequeue = time.Minute

// protect adds the finalizer to a live connection.
func (r *Reconciler) protect(ctx context.Context, connection *v1alpha1.StripeConnection) error {
	if controllerutil.ContainsFinalizer(connection, v1alpha1.Finalizer) {
		return nil
	}
	patch := client.MergeFromWithOptions(connection.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(connection, v1alpha1.Finalizer)
	if err := r.kube.Patch(ctx, connection, patch); err != nil {
		return fmt.Errorf("add finalizer to StripeConnection %q: %w", connection.Name, err)
	}
	return nil
}

// release lets a deleted connection go once nothing references it; until then it says who does.
func (r *Reconciler) release(ctx context.Context, connection *v1alpha1.StripeConnection) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(connection, v1alpha1.Finalizer) {
		r.connections.Forget(connection.UID)
		return reconcile.Result{}, nil
	}
	users, err := r.usersOf(ctx, connection.Name)
	if err != nil {
		return reconcile.Result{}, err
	}
	if len(users) > 0 {
		shown := users[:min(len(users), usersShown)]
		message := fmt.Sprintf("deletion waits for the %d objects that use this connection: %s", len(users), strings.Join(shown, ", "))
		if len(users) > usersShown {
			message += ", …"
		}
		// Ready stays as it is: the connection still serves its users, whose own deletion needs it.
		// Deletion bumped the generation; the verified key is as good as before, so Ready is carried
		// over to it (dependents require Ready for the current generation).
		if ready := meta.FindStatusCondition(connection.Status.Conditions, v1alpha1.ConditionReady); ready != nil {
			ready.ObservedGeneration = connection.Generation
		}
		managed.SetCondition(connection, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonDeleting, message)
		return reconcile.Result{RequeueAfter: inUseRequeue}, nil
	}
	patch := client.MergeFromWithOptions(connection.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(connection, v1alpha1.Finalizer)
	if err := r.kube.Patch(ctx, connection, patch); err != nil {
		return reconcile.Result{}, fmt.Errorf("remove finalizer of StripeConnection %q: %w", connection.Name, err)
	}
	r.recorder.Eventf(connection, nil, corev1.EventTypeNormal, "Released", "Delete", "no object uses the connection any more")
	r.connections.Forget(connection.UID)
	return reconcile.Result{}, nil
}

// deletedConnectionOf maps an object that references a connection to that connection, but only while
// the connection is being deleted: a live connection is not re-verified for every change of its users.
func (r *Reconciler) deletedConnectionOf(connectionOf func(client.Object) string) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, user client.Object) []reconcile.Request {
		name := connectionOf(user)
		if name == "" {
			return nil
		}
		var connection v1alpha1.StripeConnection
		if err := r.kube.Get(ctx, client.ObjectKey{Name: name}, &connection); err != nil || connection.DeletionTimestamp.IsZero() {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
	}
}
