package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// Reasons of a replay's Complete condition.
const (
	ReasonReplayed      = "Replayed"
	ReasonSinkNotFound  = "SinkNotFound"
	ReasonReplayPending = "Pending"
)

// Replays carries out StripeEventReplays: once each (the store records the request's UID in the same
// transaction as the requeue), only on the rows of the named sink — rows the sink was owed, so a replay
// never crosses regions — and reports in the replay's status.
type Replays struct {
	Kube     client.Client
	Store    store.Store
	Recorder events.EventRecorder
	// Wake tells the deliverer rows were requeued.
	Wake func()
}

// SetupWithManager registers the reconciler.
func (r *Replays) SetupWithManager(mgr ctrl.Manager) error {
	if err := ctrl.NewControllerManagedBy(mgr).Named("stripeeventreplay").For(&v1alpha1.StripeEventReplay{}).Complete(r); err != nil {
		return fmt.Errorf("set up the replay controller: %w", err)
	}
	return nil
}

// Reconcile implements reconcile.Reconciler.
func (r *Replays) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var replay v1alpha1.StripeEventReplay
	if err := r.Kube.Get(ctx, req.NamespacedName, &replay); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if replay.Status.Phase == v1alpha1.ReplayPhaseComplete || replay.Status.Phase == v1alpha1.ReplayPhaseFailed {
		return reconcile.Result{}, nil
	}
	before := replay.DeepCopy()
	var sink v1alpha1.StripeEventSink
	err := r.Kube.Get(ctx, types.NamespacedName{Namespace: replay.Namespace, Name: replay.Spec.SinkRef.Name}, &sink)
	switch {
	case apierrors.IsNotFound(err):
		r.finish(&replay, v1alpha1.ReplayPhaseFailed, ReasonSinkNotFound, fmt.Sprintf("StripeEventSink %q does not exist in %s", replay.Spec.SinkRef.Name, replay.Namespace))
	case err != nil:
		return reconcile.Result{}, fmt.Errorf("get StripeEventSink %s: %w", replay.Spec.SinkRef.Name, err)
	default:
		request := store.ReplayRequest{ID: string(replay.UID), Destination: sink.Namespace + "/" + sink.Name,
			EventIDs: replay.Spec.EventIDs, DeadOnly: replay.Spec.Selection != v1alpha1.ReplaySelectionAll, At: time.Now()}
		if replay.Spec.From != nil && replay.Spec.To != nil {
			request.From, request.To = replay.Spec.From.Time, replay.Spec.To.Time
		}
		result, err := r.Store.Replay(ctx, request)
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("replay %s: %w", req.NamespacedName, err)
		}
		replay.Status.Matched, replay.Status.Requeued = result.Matched, result.Requeued
		what := "dead letters"
		if !request.DeadOnly {
			what = "deliveries"
		}
		r.finish(&replay, v1alpha1.ReplayPhaseComplete, ReasonReplayed, fmt.Sprintf("%d %s of sink %s selected, %d sent again with their original ids",
			result.Matched, what, sink.Name, result.Requeued))
		if result.Requeued > 0 && r.Wake != nil {
			r.Wake()
		}
	}
	if err := r.Kube.Status().Patch(ctx, &replay, client.MergeFrom(before)); err != nil {
		// The store remembers the request: the next pass reports the same counts, requeues nothing.
		return reconcile.Result{}, fmt.Errorf("write status of StripeEventReplay %s: %w", req.NamespacedName, err)
	}
	if r.Recorder != nil {
		kind := corev1.EventTypeNormal
		if replay.Status.Phase == v1alpha1.ReplayPhaseFailed {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(&replay, nil, kind, string(replay.Status.Phase), "Replay", "%s", replay.Status.Message)
	}
	return reconcile.Result{}, nil
}

func (r *Replays) finish(replay *v1alpha1.StripeEventReplay, phase v1alpha1.ReplayPhase, reason, message string) {
	now := metav1.Now()
	replay.Status.Phase, replay.Status.Message, replay.Status.CompletedAt = phase, message, &now
	replay.Status.ObservedGeneration = replay.Generation
	status := metav1.ConditionTrue
	if phase == v1alpha1.ReplayPhaseFailed {
		status = metav1.ConditionFalse
	}
	meta.SetStatusCondition(&replay.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionComplete, Status: status,
		Reason: reason, Message: message, ObservedGeneration: replay.Generation})
}
