package managed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Event reasons for the Kubernetes events the reconciler emits. Every Stripe write gets one.
const (
	EventCreated       = "CreatedExternal"
	EventUpdated       = "UpdatedExternal"
	EventDeleted       = "DeletedExternal"
	EventOrphaned      = "OrphanedExternal"
	EventAdopted       = "AdoptedExternal"
	EventSyncFailed    = "SyncFailed"
	EventExternalGone  = "ExternalObjectMissing"
	actionReconcile    = "Reconcile"
	defaultResync      = 10 * time.Hour
	resyncJitterFactor = 0.1
)

// requestIDSuffix matches the " [request req_…]" that the Stripe wrapper appends to its errors.
var requestIDSuffix = regexp.MustCompile(` \[request req_[A-Za-z0-9]+\]`)

// Reconciler drives one kind through its adapter. It is the only place that writes the object's
// metadata and status: adapters fill status fields in memory, and the reconciler writes status once,
// at the end of the pass, and only when it changed.
type Reconciler struct {
	kube         client.Client
	connections  *Connections
	connecter    Connecter
	newObject    func() Object
	recorder     events.EventRecorder
	kind         string
	clusterID    string
	resync       time.Duration
	connectionOf func(ctx context.Context, obj Object) (string, error)
}

// Options configure a Reconciler.
type Options struct {
	// Kind names the kind in tags, logs and events (e.g. "BillingPlan").
	Kind string
	// NewObject returns an empty object of the kind.
	NewObject func() Object
	// Connecter builds the kind's ExternalClient for each pass.
	Connecter Connecter
	// ClusterID is written into every Stripe object's tags, so objects made by two clusters sharing one
	// Stripe account are told apart.
	ClusterID string
	// Resync is how often an object in sync is observed again (jittered by up to 10%). Default 10 h.
	Resync time.Duration
	// ConnectionOf names the StripeConnection an object uses. Default: spec.connectionRef; a kind that
	// can inherit it (a BillingPlan from its tenant) supplies its own.
	ConnectionOf func(ctx context.Context, obj Object) (string, error)
}

// NewReconciler returns a Reconciler for one kind.
func NewReconciler(kube client.Client, connections *Connections, recorder events.EventRecorder, o Options) *Reconciler {
	if o.Resync <= 0 {
		o.Resync = defaultResync
	}
	if o.ConnectionOf == nil {
		o.ConnectionOf = ConnectionRefOf
	}
	return &Reconciler{
		kube: kube, connections: connections, connecter: o.Connecter, newObject: o.NewObject,
		recorder: recorder, kind: o.Kind, clusterID: o.ClusterID, resync: o.Resync, connectionOf: o.ConnectionOf,
	}
}

// Reconcile runs one pass for one object and writes its status once, when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := r.newObject()
	if err := r.kube.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	statusBefore, err := statusOf(obj)
	if err != nil {
		return reconcile.Result{}, err
	}

	result, reconcileErr := r.reconcile(ctx, obj)
	if reconcileErr != nil {
		result = r.reportError(ctx, obj, reconcileErr)
	}
	if err := r.writeStatusIfChanged(ctx, obj, statusBefore); err != nil {
		return reconcile.Result{}, err
	}
	if reconcileErr != nil && classify(reconcileErr).retry {
		return reconcile.Result{}, reconcileErr
	}
	return result, nil
}

// reconcile is the pass itself; errors are turned into conditions by reportError.
func (r *Reconciler) reconcile(ctx context.Context, obj Object) (reconcile.Result, error) {
	deleting := !obj.GetDeletionTimestamp().IsZero()
	observeOnly := v1alpha1.ObserveOnly(obj)

	if deleting {
		if !controllerutil.ContainsFinalizer(obj, v1alpha1.Finalizer) {
			return reconcile.Result{}, nil
		}
		if policy := v1alpha1.DeletionPolicyOf(obj); policy == v1alpha1.DeletionPolicyOrphan || observeOnly {
			r.event(obj, corev1.EventTypeNormal, EventOrphaned, "left the Stripe objects in place (deletionPolicy %s, managementPolicy %s)", policy, obj.GetManagedSpec().ManagementPolicy)
			return reconcile.Result{}, r.removeFinalizer(ctx, obj)
		}
	}
	if v1alpha1.IsPaused(obj) {
		setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonPaused, fmt.Sprintf("the %s annotation stops every Stripe write; remove it to resume", v1alpha1.AnnotationPaused))
		return reconcile.Result{}, nil
	}

	connectionName, err := r.connectionOf(ctx, obj)
	if err != nil {
		return reconcile.Result{}, err
	}
	stripe, err := r.connections.ClientFor(ctx, connectionName, obj.GetNamespace())
	if err != nil {
		return reconcile.Result{}, err
	}
	external, err := r.connecter.Connect(ctx, obj, Connection{
		Stripe: stripe,
		Tags:   r.tagsFor(obj),
		Record: func(reason, format string, args ...any) {
			r.event(obj, corev1.EventTypeNormal, reason, format, args...)
		},
		Pass: string(controller.ReconcileIDFromContext(ctx)),
	})
	if err != nil {
		return reconcile.Result{}, err
	}

	observation, err := external.Observe(ctx, obj)
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("observe: %w", err)
	}
	if err := r.recordFoundID(ctx, obj, observation); err != nil {
		return reconcile.Result{}, err
	}

	switch {
	case deleting:
		return reconcile.Result{}, r.delete(ctx, obj, external, observation)
	case observeOnly:
		return r.observeOnly(obj, external, observation), nil
	case !observation.Exists:
		if err := r.create(ctx, obj, external); err != nil {
			return reconcile.Result{}, err
		}
	case !observation.UpToDate:
		if err := external.Update(ctx, obj); err != nil {
			return reconcile.Result{}, fmt.Errorf("update: %w", err)
		}
		r.event(obj, corev1.EventTypeNormal, EventUpdated, "brought Stripe in line with the spec: %s", observation.Diff)
	}

	setSynced(obj, metav1.ConditionTrue, v1alpha1.ReasonAvailable, "Stripe matches the spec")
	r.setReady(obj, readinessOf(external, obj))
	obj.GetManagedStatus().ObservedGeneration = obj.GetGeneration()
	return reconcile.Result{RequeueAfter: r.jitteredResync()}, nil
}

// create persists the create-pending marker (and the finalizer) before calling Stripe, and the id right
// after, so a crash between Stripe's answer and our write never leads to a second object: the next pass
// finds the pending marker and looks the object up by its tags, and the repeated create carries the same
// idempotency key.
func (r *Reconciler) create(ctx context.Context, obj Object, external ExternalClient) error {
	if id, known := KnownExternalID(obj); known {
		// The recorded object is gone from Stripe (deleted in the Dashboard, or the annotation names an
		// object of another account). Recreating silently could undo a deliberate deletion: say so.
		r.event(obj, corev1.EventTypeWarning, EventExternalGone, "Stripe object %s no longer exists", id)
		return Terminal("Stripe object %s named by the %s annotation does not exist in this account; remove the annotation to create a new one", id, v1alpha1.AnnotationExternalName)
	}
	setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonCreating, "creating the Stripe objects")
	if err := r.patchMetadata(ctx, obj, func() {
		controllerutil.AddFinalizer(obj, v1alpha1.Finalizer)
		v1alpha1.SetExternalName(obj, CreatePending)
	}); err != nil {
		return err
	}
	id, createErr := external.Create(ctx, obj)
	if id != "" {
		if err := r.patchMetadata(ctx, obj, func() { v1alpha1.SetExternalName(obj, id) }); err != nil {
			return err
		}
		r.event(obj, corev1.EventTypeNormal, EventCreated, "created Stripe object %s", id)
	}
	if createErr != nil {
		if id == "" && stripeapi.CreatedNothing(createErr) {
			// Stripe refused the create (a 429, an invalid spec): nothing exists, so the next pass
			// need not look for it by its tags, a list whose cost grows with the account. Clearing the
			// marker costs one write; if it fails, the lookup simply happens.
			_ = r.patchMetadata(ctx, obj, func() { delete(obj.GetAnnotations(), v1alpha1.AnnotationExternalName) })
		}
		return fmt.Errorf("create: %w", createErr)
	}
	if err := external.Update(ctx, obj); err != nil {
		return fmt.Errorf("complete after create: %w", err)
	}
	return nil
}

func (r *Reconciler) delete(ctx context.Context, obj Object, external ExternalClient, observation Observation) error {
	setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonDeleting, "deleting the Stripe objects")
	if observation.Exists {
		if err := external.Delete(ctx, obj); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		r.event(obj, corev1.EventTypeNormal, EventDeleted, "deleted (or archived, where Stripe cannot delete) Stripe object %s", v1alpha1.GetExternalName(obj))
	}
	return r.removeFinalizer(ctx, obj)
}

// observeOnly reports what Observe read without writing to Stripe (import and audit).
func (r *Reconciler) observeOnly(obj Object, external ExternalClient, observation Observation) reconcile.Result {
	obj.GetManagedStatus().ObservedGeneration = obj.GetGeneration()
	switch {
	case !observation.Exists:
		setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonObserving, fmt.Sprintf("managementPolicy Observe: no Stripe object found; set the %s annotation to the id to import", v1alpha1.AnnotationExternalName))
		r.setReady(obj, Readiness{Reason: v1alpha1.ReasonObserving, Message: "nothing to observe yet"})
	case !observation.UpToDate:
		setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonObserving, "managementPolicy Observe: Stripe differs from the spec and is left as it is: "+observation.Diff)
		r.setReady(obj, readinessOf(external, obj))
	default:
		setSynced(obj, metav1.ConditionTrue, v1alpha1.ReasonObserving, "managementPolicy Observe: Stripe matches the spec")
		r.setReady(obj, readinessOf(external, obj))
	}
	return reconcile.Result{RequeueAfter: r.jitteredResync()}
}

// recordFoundID persists an id that Observe found without a usable annotation: a create that crashed
// before its id was written, found again by its tags.
func (r *Reconciler) recordFoundID(ctx context.Context, obj Object, observation Observation) error {
	if observation.ExternalID == "" || observation.ExternalID == v1alpha1.GetExternalName(obj) {
		return nil
	}
	if err := r.patchMetadata(ctx, obj, func() { v1alpha1.SetExternalName(obj, observation.ExternalID) }); err != nil {
		return err
	}
	r.event(obj, corev1.EventTypeNormal, EventAdopted, "found Stripe object %s by its tags and recorded its id", observation.ExternalID)
	return nil
}

// reportError turns an error into conditions, an event and a requeue decision.
func (r *Reconciler) reportError(ctx context.Context, obj Object, err error) reconcile.Result {
	out := classify(err)
	// The condition leaves out Stripe's request id, which differs on every attempt: two identical
	// failures must not rewrite the status. The event keeps it, for Stripe's support.
	message := requestIDSuffix.ReplaceAllString(err.Error(), "")
	setSynced(obj, metav1.ConditionFalse, out.reason, message)
	if !isReady(obj) || out.reason == v1alpha1.ReasonTerminal {
		r.setReady(obj, Readiness{Reason: out.reason, Message: message})
	}
	if out.reason == v1alpha1.ReasonTerminal {
		// Recorded against this generation, so the condition says which spec Stripe refused; nothing
		// retries until the spec (and so the generation) changes.
		obj.GetManagedStatus().ObservedGeneration = obj.GetGeneration()
	}
	if out.retry || out.reason == v1alpha1.ReasonTerminal {
		r.event(obj, corev1.EventTypeWarning, EventSyncFailed, "%s", err.Error())
	}
	log.FromContext(ctx).V(1).Info("reconcile did not finish", "reason", out.reason, "error", err.Error())
	return reconcile.Result{RequeueAfter: out.requeueAfter}
}

func (r *Reconciler) tagsFor(obj Object) stripeapi.Tags {
	return stripeapi.Tags{
		UID:            string(obj.GetUID()),
		NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}.String(),
		Kind:           r.kind,
		ClusterID:      r.clusterID,
	}
}

func (r *Reconciler) jitteredResync() time.Duration {
	return r.resync + time.Duration(rand.Float64()*resyncJitterFactor*float64(r.resync))
}

func (r *Reconciler) event(obj Object, eventType, reason, format string, args ...any) {
	r.recorder.Eventf(obj, nil, eventType, reason, actionReconcile, format, args...)
}

// ConnectionRefOf returns the StripeConnection named by spec.connectionRef.
func ConnectionRefOf(_ context.Context, obj Object) (string, error) {
	if spec := obj.GetManagedSpec(); spec != nil && spec.ConnectionRef != nil && spec.ConnectionRef.Name != "" {
		return spec.ConnectionRef.Name, nil
	}
	return "", Terminal("spec.connectionRef is required")
}
