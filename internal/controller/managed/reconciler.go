package managed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
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
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// Event reasons for the Kubernetes events the reconciler emits. Every Stripe write gets one.
const (
	EventCreated        = "CreatedExternal"
	EventUpdated        = "UpdatedExternal"
	EventDeleted        = "DeletedExternal"
	EventOrphaned       = "OrphanedExternal"
	EventAdopted        = "AdoptedExternal"
	EventSyncFailed     = "SyncFailed"
	EventExternalGone   = "ExternalObjectMissing"
	EventDeletionPaused = "DeletionPaused"
	EventReplaced       = "ReplacedExternal"
	actionReconcile     = "Reconcile"
	defaultResync       = 10 * time.Hour
	resyncJitterFactor  = 0.1
	// conflictRequeue is how soon a pass that met a stale object looks again.
	conflictRequeue = time.Second
	// inUseRequeue bounds how long a missed watch event can delay a deletion that waited for users.
	inUseRequeue = time.Minute
	// usersShown bounds how many users a waiting deletion names.
	usersShown = 5
)

// Reconciler drives one kind through its adapter. It is the only place that writes the object's
// metadata and status: adapters fill status fields in memory, and the reconciler writes status once,
// at the end of the pass, and only when it changed.
type Reconciler struct {
	kube        client.Client
	connections *stripeconn.Resolver
	connecter   Connecter
	kind        Kind
	registry    *Registry
	recorder    events.EventRecorder
	clusterID   string
	resync      time.Duration
	rechecks    *rechecks
	nudges      *Nudges
	metrics     *Metrics
}

// Options configure a Reconciler.
type Options struct {
	// Kind declares the kind: its name (in tags, logs and events), how to make one, its references.
	Kind Kind
	// Registry holds every kind's declaration, for in-use protection (which objects use this one).
	// Nil: nothing protects objects of this kind.
	Registry *Registry
	// Connecter builds the kind's ExternalClient for each pass.
	Connecter Connecter
	// ClusterID is written into every Stripe object's tags, so objects made by two clusters sharing one
	// Stripe account are told apart.
	ClusterID string
	// Resync is how often an object in sync is observed again (jittered by up to 10%). Default 10 h.
	Resync time.Duration
	// RecheckRate bounds the adapter-asked rechecks of all of this kind's objects together, in passes
	// per second (default DefaultRecheckRate).
	RecheckRate float64
	// Nudges, when set, carries the relay's Stripe events to the kind's controller (a watch source)
	// and says whether they flow (then adapter-asked rechecks slow to a safety net). Nil: no feed.
	Nudges *Nudges
	// Metrics counts drift corrected (nil: not counted).
	Metrics *Metrics
}

// NewReconciler returns a Reconciler for one kind.
func NewReconciler(kube client.Client, connections *stripeconn.Resolver, recorder events.EventRecorder, o Options) *Reconciler {
	if o.Resync <= 0 {
		o.Resync = defaultResync
	}
	return &Reconciler{
		kube: kube, connections: connections, connecter: o.Connecter, kind: o.Kind, registry: o.Registry,
		recorder: recorder, clusterID: o.ClusterID, resync: o.Resync, rechecks: newRechecks(o.RecheckRate),
		nudges: o.Nudges, metrics: o.Metrics,
	}
}

// Reconcile runs one pass for one object and writes its status once, when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := r.kind.New()
	if err := r.kube.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.rechecks.forget(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	statusBefore, err := statusOf(obj)
	if err != nil {
		return reconcile.Result{}, err
	}
	r.recordNudge(obj)

	result, reconcileErr := r.reconcile(ctx, obj)
	if reconcileErr != nil && apierrors.IsConflict(reconcileErr) {
		// Someone wrote the object after we read it: not a failure, and nothing to report. Look again
		// at the fresh object soon, without a failed condition or an event.
		log.FromContext(ctx).V(1).Info("stale object, requeued", "error", reconcileErr.Error())
		return reconcile.Result{RequeueAfter: conflictRequeue}, nil
	}
	if reconcileErr != nil {
		// A failing object is retried by its error's backoff, not rechecked: it no longer counts
		// among the waiting objects that share the kind's recheck rate.
		r.rechecks.forget(req.NamespacedName)
		result = r.reportError(ctx, obj, reconcileErr)
	}
	if err := r.writeStatusIfChanged(ctx, obj, statusBefore); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{RequeueAfter: conflictRequeue}, nil
		}
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
	// A difference found while Stripe was last in sync with this very spec is drift: a change made in
	// Stripe, not a spec to apply.
	synced := meta.FindStatusCondition(obj.GetConditions(), v1alpha1.ConditionSynced)
	drift := synced != nil && synced.Status == metav1.ConditionTrue && synced.ObservedGeneration == obj.GetGeneration()
	// Every condition this pass writes speaks of this generation, and so does the status.
	obj.GetManagedStatus().ObservedGeneration = obj.GetGeneration()

	if deleting {
		if done, result, err := r.releaseWithoutStripe(ctx, obj); done {
			return result, err
		}
	}
	if v1alpha1.IsPaused(obj) {
		r.rechecks.forget(client.ObjectKeyFromObject(obj))
		r.reportPaused(obj, deleting)
		return reconcile.Result{}, nil
	}

	external, err := r.connect(ctx, obj, deleting)
	if err != nil {
		var dependency *DependencyError
		if deleting && errors.As(err, &dependency) && dependency.Missing {
			// What the Stripe objects were reached through is gone: nothing can clean them up, and
			// waiting would keep the object forever. Say what is left behind, and let it go.
			r.event(obj, corev1.EventTypeWarning, EventOrphaned, "left the Stripe objects in place: %s, so they cannot be reached", dependency.Message)
			return reconcile.Result{}, r.removeFinalizer(ctx, obj)
		}
		return reconcile.Result{}, err
	}

	observation, err := external.Observe(ctx, obj)
	if err != nil {
		return reconcile.Result{}, err
	}
	replaced := ""
	if _, keepsSecret := external.(SecretKeeper); keepsSecret && IsCreatePending(obj) && observation.ExternalID != "" && !deleting {
		// A create whose secret was never stored made this object: adopting it would leave no one
		// able to verify what it signs. Create again (the same key returns it, and its secret, within
		// Stripe's 24 hours), and delete it if the repeat makes another.
		replaced, observation = observation.ExternalID, Observation{}
	}
	if err := r.recordObserved(ctx, obj, observation, deleting); err != nil {
		return reconcile.Result{}, err
	}
	if !deleting && !v1alpha1.ObserveOnly(obj) && !observation.Exists {
		if err := r.create(ctx, obj, external, replaced); err != nil {
			return reconcile.Result{}, err
		}
		return r.synced(obj, external), nil
	}
	return r.act(ctx, obj, external, observation, deleting, drift)
}

// releaseWithoutStripe handles the deletions that need no Stripe call: an object whose finalizer is
// already gone, one that waits for its users, and one whose Stripe objects are left in place. done
// says the pass is over.
func (r *Reconciler) releaseWithoutStripe(ctx context.Context, obj Object) (bool, reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, v1alpha1.Finalizer) {
		return true, reconcile.Result{}, nil
	}
	r.rechecks.forget(client.ObjectKeyFromObject(obj))
	if waiting, err := r.waitForUsers(ctx, obj); waiting || err != nil {
		return true, reconcile.Result{RequeueAfter: inUseRequeue}, err
	}
	if policy := v1alpha1.DeletionPolicyOf(obj); policy == v1alpha1.DeletionPolicyOrphan || v1alpha1.ObserveOnly(obj) {
		r.event(obj, corev1.EventTypeNormal, EventOrphaned, "left the Stripe objects in place (deletionPolicy %s, managementPolicy %s)", policy, obj.GetManagedSpec().ManagementPolicy)
		return true, reconcile.Result{}, r.removeFinalizer(ctx, obj)
	}
	return false, reconcile.Result{}, nil
}

// recordObserved persists what Observe found that the object does not hold yet: an id found by tags,
// and the finalizer of an adopted object (or one reconnected on a fresh cluster), which never went
// through create but needs it as much, or its deletion policy and in-use protection are skipped.
func (r *Reconciler) recordObserved(ctx context.Context, obj Object, observation Observation, deleting bool) error {
	if err := r.recordFoundID(ctx, obj, observation); err != nil {
		return err
	}
	if observation.Exists && !deleting && !controllerutil.ContainsFinalizer(obj, v1alpha1.Finalizer) {
		return r.patchMetadata(ctx, obj, func() { controllerutil.AddFinalizer(obj, v1alpha1.Finalizer) })
	}
	return nil
}

// act makes the write the observation of an existing object calls for (delete or update; none when
// observing or in sync) and reports the outcome.
func (r *Reconciler) act(ctx context.Context, obj Object, external ExternalClient, observation Observation, deleting, drift bool) (reconcile.Result, error) {
	switch {
	case deleting:
		return reconcile.Result{}, r.delete(ctx, obj, external, observation)
	case v1alpha1.ObserveOnly(obj):
		return r.requeue(obj, r.observeOnly(obj, external, observation)), nil
	case !observation.UpToDate:
		if err := external.Update(ctx, obj); err != nil {
			return reconcile.Result{}, err
		}
		r.event(obj, corev1.EventTypeNormal, EventUpdated, "brought Stripe in line with the spec: %s", observation.Diff)
		if drift {
			r.metrics.driftCorrected(r.kind.Name)
		}
	}
	return r.synced(obj, external), nil
}

// synced reports a pass that brought Stripe in line with the spec.
func (r *Reconciler) synced(obj Object, external ExternalClient) reconcile.Result {
	setSynced(obj, metav1.ConditionTrue, v1alpha1.ReasonAvailable, "Stripe matches the spec")
	readiness := readinessOf(external, obj)
	r.setReady(obj, readiness)
	return r.requeue(obj, readiness.Recheck)
}

// connect decides the object's connection and builds the adapter's client for this pass.
func (r *Reconciler) connect(ctx context.Context, obj Object, deleting bool) (ExternalClient, error) {
	connectionName, err := r.connectionOf(ctx, obj)
	if err != nil {
		return nil, err
	}
	stripe, connection, err := r.connections.ClientFor(ctx, connectionName, obj.GetNamespace(), deleting)
	if err != nil {
		return nil, err
	}
	return r.connecter.Connect(ctx, obj, &Pass{
		Stripe:     stripe,
		Connection: connection,
		Tags:       r.tagsFor(obj),
		Record: func(reason, format string, args ...any) {
			r.event(obj, corev1.EventTypeNormal, reason, format, args...)
		},
		Warn: func(reason, format string, args ...any) {
			r.event(obj, corev1.EventTypeWarning, reason, format, args...)
		},
		Secondaries: &Secondaries{r: r, obj: obj, now: time.Now},
		PublishSecret: func(ctx context.Context, name string, data map[string][]byte) error {
			return r.publishSecret(ctx, obj, name, data)
		},
		PublishSecretKey: func(ctx context.Context, name, holder, key string, value []byte) error {
			return r.publishSecretKey(ctx, obj, name, holder, key, value)
		},
		RemoveSecretKey: func(ctx context.Context, name, holder string) error {
			return r.removeSecretKey(ctx, obj, name, holder)
		},
		id:         string(controller.ReconcileIDFromContext(ctx)),
		uid:        string(obj.GetUID()),
		generation: obj.GetGeneration(),
	})
}

// requeue is the resync, or sooner when the adapter asked to be rechecked.
func (r *Reconciler) requeue(obj Object, recheck *Recheck) reconcile.Result {
	resync := r.jitteredResync()
	if delay := r.rechecks.delay(client.ObjectKeyFromObject(obj), recheck, time.Now(), r.nudges.Live()); delay > 0 && delay < resync {
		return reconcile.Result{RequeueAfter: delay}
	}
	return reconcile.Result{RequeueAfter: resync}
}

// waitForUsers keeps an object being deleted while objects that use it exist (a tenant whose account
// holds plans), and says which.
func (r *Reconciler) waitForUsers(ctx context.Context, obj Object) (bool, error) {
	if r.registry == nil {
		return false, nil
	}
	users, err := r.registry.Users(ctx, r.kube, obj)
	if err != nil || len(users) == 0 {
		return false, err
	}
	shown := users[:min(len(users), usersShown)]
	message := fmt.Sprintf("deletion waits for the %d objects that use this %s: %s", len(users), r.kind.Name, strings.Join(shown, ", "))
	if len(users) > usersShown {
		message += ", …"
	}
	setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonDeleting, message)
	return true, nil
}

// reportPaused tells the truth about a paused object: no write happens, so Ready says what was true
// when Stripe was last brought in line, and only while the spec is still the one that was applied.
func (r *Reconciler) reportPaused(obj Object, deleting bool) {
	if deleting {
		message := fmt.Sprintf("deletion waits: the %s annotation stops the Stripe clean-up; remove it, or set deletionPolicy Orphan to leave the Stripe objects", v1alpha1.AnnotationPaused)
		if setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonPaused, message) {
			r.event(obj, corev1.EventTypeWarning, EventDeletionPaused, "%s", message)
		}
		return
	}
	setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonPaused, fmt.Sprintf("the %s annotation stops every Stripe write; remove it to resume", v1alpha1.AnnotationPaused))
	ready := meta.FindStatusCondition(obj.GetConditions(), v1alpha1.ConditionReady)
	if ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == obj.GetGeneration() {
		r.setReady(obj, Readiness{Ready: true, Reason: v1alpha1.ReasonPaused, Message: "the Stripe objects were usable when last observed; paused, so nothing is observed or written"})
		return
	}
	r.setReady(obj, Readiness{Reason: v1alpha1.ReasonPaused, Message: fmt.Sprintf("paused before generation %d of the spec was applied to Stripe; remove the annotation to apply it", obj.GetGeneration())})
}

// create persists the create-pending marker (and the finalizer) before calling Stripe, then the
// secret Stripe shows only once (if the kind has one), then the id, so a crash between Stripe's answer
// and our writes never leads to a second object or a lost secret: the next pass finds the pending
// marker and looks the object up by its tags (or, for a kind with a secret, repeats the create with
// the same idempotency key). replaced is an object an earlier, lost create made, to delete once its
// replacement is recorded.
func (r *Reconciler) create(ctx context.Context, obj Object, external ExternalClient, replaced string) error {
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
	created, createErr := external.Create(ctx, obj)
	if created.ID != "" && created.Secret != nil {
		// Before the id: once the id is recorded the create counts as done, and the secret could
		// never be had again. If this write fails, the marker stays and the create is repeated.
		if err := r.publishSecret(ctx, obj, created.SecretName, created.Secret); err != nil {
			return err
		}
	}
	if created.ID != "" {
		if err := r.patchMetadata(ctx, obj, func() { v1alpha1.SetExternalName(obj, created.ID) }); err != nil {
			return err
		}
		r.event(obj, corev1.EventTypeNormal, EventCreated, "created Stripe object %s", created.ID)
		if err := r.deleteReplaced(ctx, obj, external, replaced, created.ID); err != nil {
			return err
		}
	}
	if createErr != nil {
		if created.ID == "" && stripeapi.CreatedNothing(createErr) {
			// Stripe refused the create (a 429, an invalid spec): nothing exists, so the next pass
			// need not look for it by its tags, a list whose cost grows with the account. Clearing the
			// marker costs one write; if it fails, the lookup simply happens.
			_ = r.patchMetadata(ctx, obj, func() { delete(obj.GetAnnotations(), v1alpha1.AnnotationExternalName) })
		}
		return createErr
	}
	return external.Update(ctx, obj)
}

// deleteReplaced deletes the object a lost create made, once a new create made another (past
// Stripe's idempotency window, or after a spec change); a repeat that returned it is no replacement.
func (r *Reconciler) deleteReplaced(ctx context.Context, obj Object, external ExternalClient, replaced, id string) error {
	keeper, ok := external.(SecretKeeper)
	if replaced == "" || replaced == id || !ok {
		return nil
	}
	if err := keeper.DeleteReplaced(ctx, obj, replaced); err != nil {
		return fmt.Errorf("delete %s, replaced by %s: %w", replaced, id, err)
	}
	r.event(obj, corev1.EventTypeWarning, EventReplaced, "replaced Stripe object %s by %s: its secret was lost before it was stored, and Stripe shows a secret only on create", replaced, id)
	return nil
}

func (r *Reconciler) delete(ctx context.Context, obj Object, external ExternalClient, observation Observation) error {
	setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonDeleting, "deleting the Stripe objects")
	if observation.Exists {
		done, err := external.Delete(ctx, obj)
		if err != nil {
			return err
		}
		r.event(obj, corev1.EventTypeNormal, EventDeleted, "%s", done)
	}
	return r.removeFinalizer(ctx, obj)
}

// observeOnly reports what Observe read without writing to Stripe (import and audit). Objects that
// differ from the spec are not Ready: they are not what the spec declares, and nothing will make them
// so. It returns the verdict, whose recheck still applies (an imported tenant still onboards).
func (r *Reconciler) observeOnly(obj Object, external ExternalClient, observation Observation) *Recheck {
	switch {
	case !observation.Exists:
		setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonObserving, fmt.Sprintf("managementPolicy Observe: no Stripe object found; set the %s annotation to the id to import", v1alpha1.AnnotationExternalName))
		r.setReady(obj, Readiness{Reason: v1alpha1.ReasonObserving, Message: "nothing to observe yet"})
		return nil
	case !observation.UpToDate:
		message := "managementPolicy Observe: Stripe differs from the spec and is left as it is: " + observation.Diff
		setSynced(obj, metav1.ConditionFalse, v1alpha1.ReasonObserving, message)
		r.setReady(obj, Readiness{Reason: v1alpha1.ReasonObserving, Message: message})
		return readinessOf(external, obj).Recheck
	default:
		setSynced(obj, metav1.ConditionTrue, v1alpha1.ReasonObserving, "managementPolicy Observe: Stripe matches the spec")
		readiness := readinessOf(external, obj)
		r.setReady(obj, readiness)
		return readiness.Recheck
	}
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
	message := stripeapi.WithoutRequestID(err)
	changed := setSynced(obj, metav1.ConditionFalse, out.reason, message)
	if !isReady(obj) || out.reason == v1alpha1.ReasonTerminal {
		r.setReady(obj, Readiness{Reason: out.reason, Message: message})
	}
	var dependency *DependencyError
	switch {
	case errors.As(err, &dependency) && dependency.Reason == v1alpha1.ReasonWaitingForDependency:
		if changed {
			r.event(obj, corev1.EventTypeNormal, dependency.Reason, "%s", message)
		}
	case errors.As(err, &dependency):
		// Blocked by something a person must fix (a connection, its namespace rule, its key): a
		// Warning, once per change of the cause, so it is seen without being repeated every pass.
		if changed {
			r.event(obj, corev1.EventTypeWarning, dependency.Reason, "%s", message)
		}
	case out.retry || out.reason == v1alpha1.ReasonTerminal:
		r.event(obj, corev1.EventTypeWarning, EventSyncFailed, "%s", err.Error())
	}
	log.FromContext(ctx).V(1).Info("reconcile did not finish", "reason", out.reason, "error", err.Error())
	return reconcile.Result{RequeueAfter: out.requeueAfter}
}

func (r *Reconciler) tagsFor(obj Object) stripeapi.Tags {
	return stripeapi.Tags{
		UID:            string(obj.GetUID()),
		NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}.String(),
		Kind:           r.kind.Name,
		ClusterID:      r.clusterID,
	}
}

func (r *Reconciler) jitteredResync() time.Duration {
	return r.resync + time.Duration(rand.Float64()*resyncJitterFactor*float64(r.resync))
}

func (r *Reconciler) event(obj Object, eventType, reason, format string, args ...any) {
	r.recorder.Eventf(obj, nil, eventType, reason, actionReconcile, format, args...)
}
