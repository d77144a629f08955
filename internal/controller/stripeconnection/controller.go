// Package stripeconnection verifies StripeConnections: it reads the API key the connection names,
// checks it against Stripe (GET /v1/account) and reports the platform account in status. A connection
// owns no Stripe object, so it has its own short loop rather than the managed reconciler's; it shares
// that reconciler's condition shapes and error classes.
package stripeconnection

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// secretRefIndex indexes connections by the Secret ("namespace/name") holding their key, so a key
// rotation re-verifies exactly the connections that use it.
const secretRefIndex = "spec.secretRef"

// Event reasons.
const (
	eventVerified = "Verified"
	eventRefused  = "VerificationFailed"
)

// Reconciler verifies StripeConnections.
type Reconciler struct {
	kube        client.Client
	connections *stripeconn.Resolver
	recorder    events.EventRecorder
	resync      time.Duration
	usersOf     UsersOf
}

// New returns the StripeConnection reconciler. resync is how often a verified key is checked again;
// usersOf lists the objects that reference a connection (its deletion waits for them).
func New(kube client.Client, connections *stripeconn.Resolver, recorder events.EventRecorder, resync time.Duration, usersOf UsersOf) *Reconciler {
	return &Reconciler{kube: kube, connections: connections, recorder: recorder, resync: resync, usersOf: usersOf}
}

// Reconcile verifies one connection and writes its status when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var connection v1alpha1.StripeConnection
	if err := r.kube.Get(ctx, req.NamespacedName, &connection); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	before := connection.DeepCopy()

	var result reconcile.Result
	var reconcileErr error
	if connection.DeletionTimestamp.IsZero() {
		if err := r.protect(ctx, &connection); err != nil {
			return reconcile.Result{}, err
		}
		result, reconcileErr = r.verify(ctx, &connection)
	} else {
		if err := r.deleteEndpoints(ctx, &connection); err != nil {
			return reconcile.Result{}, err
		}
		result, reconcileErr = r.release(ctx, &connection)
		if !controllerutil.ContainsFinalizer(&connection, v1alpha1.Finalizer) {
			return result, reconcileErr // gone: no status to write
		}
	}
	if !equality.Semantic.DeepEqual(before.Status, connection.Status) {
		// A merge patch of the status: the finalizer patch above changed the resourceVersion, and
		// this controller is the status' only writer.
		if err := r.kube.Status().Patch(ctx, &connection, client.MergeFrom(before)); err != nil {
			return reconcile.Result{}, fmt.Errorf("write status of StripeConnection %q: %w", connection.Name, err)
		}
	}
	if reconcileErr == nil && connection.DeletionTimestamp.IsZero() && v1alpha1.IsReady(&connection) {
		// After the status: the endpoints' own passes need the connection Ready for this generation.
		waiting, err := r.keepEndpoints(ctx, &connection)
		if waiting && (result.RequeueAfter == 0 || result.RequeueAfter > endpointGoneRequeue) {
			result.RequeueAfter = endpointGoneRequeue
		}
		reconcileErr = err
	}
	return result, reconcileErr
}

// verify checks the key and fills status. Its error, when returned, asks for a retry with backoff.
func (r *Reconciler) verify(ctx context.Context, connection *v1alpha1.StripeConnection) (reconcile.Result, error) {
	stripe, err := r.connections.Client(ctx, connection)
	if err == nil {
		var account *stripeapi.PlatformAccount
		account, err = stripe.GetPlatformAccount(ctx)
		if err == nil {
			connection.Status.AccountID = account.ID
			connection.Status.Livemode = account.Livemode
			connection.Status.Region = connection.Spec.Region
			connection.Status.ObservedGeneration = connection.Generation
			message := fmt.Sprintf("the key works for Stripe account %s (%s mode)", account.ID, connection.Spec.Mode)
			if !meta.IsStatusConditionTrue(connection.Status.Conditions, v1alpha1.ConditionReady) {
				r.recorder.Eventf(connection, nil, corev1.EventTypeNormal, eventVerified, "Verify", "%s", message)
			}
			r.setConditions(connection, metav1.ConditionTrue, v1alpha1.ReasonAvailable, message)
			return reconcile.Result{RequeueAfter: r.resync + time.Duration(rand.Float64()*0.1*float64(r.resync))}, nil
		}
	}

	connection.Status.ObservedGeneration = connection.Generation
	var dependency *managed.DependencyError
	switch {
	case errors.As(err, &dependency):
		// Missing Secret, wrong namespace, key of the wrong mode: a person must act; the Secret watch
		// brings us back when they do.
		r.refuse(connection, dependency.Reason, dependency.Message)
		return reconcile.Result{}, nil
	case stripeapi.IsAuth(err):
		r.refuse(connection, v1alpha1.ReasonInvalidCredentials, "Stripe refused the key: "+err.Error())
		return reconcile.Result{RequeueAfter: 5 * time.Minute}, nil
	case stripeapi.IsTerminal(err):
		r.refuse(connection, v1alpha1.ReasonTerminal, err.Error())
		return reconcile.Result{}, nil
	default:
		// 429, 5xx, network: keep the last verdict on Ready (a blip must not stop every dependent),
		// report on Synced, and retry with backoff.
		managed.SetCondition(connection, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonReconcileError, err.Error())
		return reconcile.Result{}, fmt.Errorf("verify StripeConnection %q: %w", connection.Name, err)
	}
}

func (r *Reconciler) refuse(connection *v1alpha1.StripeConnection, reason, message string) {
	if !meta.IsStatusConditionFalse(connection.Status.Conditions, v1alpha1.ConditionReady) {
		r.recorder.Eventf(connection, nil, corev1.EventTypeWarning, eventRefused, "Verify", "%s", message)
	}
	r.setConditions(connection, metav1.ConditionFalse, reason, message)
}

func (r *Reconciler) setConditions(connection *v1alpha1.StripeConnection, status metav1.ConditionStatus, reason, message string) {
	managed.SetCondition(connection, v1alpha1.ConditionReady, status, reason, message)
	managed.SetCondition(connection, v1alpha1.ConditionSynced, status, reason, message)
}

// SetupWithManager watches connections (spec changes), the Secrets their keys live in, and the objects
// that use them (users, each with the function that names its connection), which matter only while a
// connection is being deleted.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, users map[client.Object]func(client.Object) string) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.StripeConnection{}, secretRefIndex, func(o client.Object) []string {
		ref := o.(*v1alpha1.StripeConnection).Spec.SecretRef
		return []string{ref.Namespace + "/" + ref.Name}
	}); err != nil {
		return fmt.Errorf("index StripeConnections by Secret: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("StripeConnection").
		For(&v1alpha1.StripeConnection{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.connectionsUsingSecret))
	for kind, connectionOf := range users {
		b = b.Watches(kind, handler.EnqueueRequestsFromMapFunc(r.deletedConnectionOf(connectionOf)))
	}
	err := b.Complete(r)
	if err != nil {
		return fmt.Errorf("set up StripeConnection controller: %w", err)
	}
	return nil
}

func (r *Reconciler) connectionsUsingSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	var list v1alpha1.StripeConnectionList
	if err := r.kube.List(ctx, &list, client.MatchingFields{secretRefIndex: secret.GetNamespace() + "/" + secret.GetName()}); err != nil {
		return nil
	}
	requests := make([]reconcile.Request, 0, len(list.Items))
	for _, c := range list.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&c)})
	}
	return requests
}
