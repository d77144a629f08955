package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/webhookrelay/delivery"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// statusEvery is how often the relay writes the sinks' status (only those that changed).
const statusEvery = 5 * time.Second

// SinkStatus is a Runnable that writes each StripeEventSink's status from the store's counts and the
// deliverer's recent history: the relay owns sink status (the operator never writes it).
type SinkStatus struct {
	Kube      client.Client
	Store     store.Store
	Deliverer *delivery.Deliverer
	Sinks     *Sinks
	Log       logr.Logger
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (s *SinkStatus) NeedLeaderElection() bool { return false }

// Start writes the status every statusEvery until ctx ends.
func (s *SinkStatus) Start(ctx context.Context) error {
	for {
		if err := s.once(ctx); err != nil {
			s.Log.Error(err, "write sink status")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(statusEvery):
		}
	}
}

func (s *SinkStatus) once(ctx context.Context) error {
	var list v1alpha1.StripeEventSinkList
	if err := s.Kube.List(ctx, &list); err != nil {
		return fmt.Errorf("list StripeEventSinks: %w", err)
	}
	configured, err := s.Sinks.Sinks(ctx)
	if err != nil {
		return err
	}
	secretErrors := map[string]string{}
	for _, c := range configured {
		secretErrors[c.Key] = c.SecretError
	}
	now := time.Now()
	for i := range list.Items {
		sink := &list.Items[i]
		key := sink.Namespace + "/" + sink.Name
		counts, err := s.Store.Counts(ctx, key)
		if err != nil {
			return fmt.Errorf("counts of %s: %w", key, err)
		}
		state, _ := s.Deliverer.State(key)
		lag := 0.0
		if !counts.OldestPending.IsZero() {
			lag = now.Sub(counts.OldestPending).Seconds()
		}
		s.Deliverer.SetLag(key, lag)
		updated := sink.DeepCopy()
		fillSinkStatus(updated, counts, state, secretErrors[key])
		if equality.Semantic.DeepEqual(sink.Status, updated.Status) {
			continue
		}
		// The whole status as a merge patch (not a diff from what was read): a count that is 0 is
		// written as 0, so `kubectl get` and `kubectl wait --for=jsonpath` see it.
		patch, err := json.Marshal(map[string]any{"status": updated.Status})
		if err != nil {
			return fmt.Errorf("status of StripeEventSink %s: %w", key, err)
		}
		if err := s.Kube.Status().Patch(ctx, updated, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("patch status of StripeEventSink %s: %w", key, err)
		}
	}
	return nil
}

// fillSinkStatus sets the counts, the last delivery and error, and Ready: True while deliveries
// succeed (or none failed since the last success), False with the last error while they fail, False
// InvalidSecret when nothing can be signed.
func fillSinkStatus(sink *v1alpha1.StripeEventSink, c store.DestinationCounts, state delivery.SinkState, secretError string) {
	st := &sink.Status
	st.ObservedGeneration = sink.Generation
	st.Delivered, st.Pending, st.Retrying, st.DeadLettered = c.Delivered, c.Pending, c.Retrying, c.Dead
	st.OldestPendingAt = timeOrNil(c.OldestPending)
	if !state.LastDeliveredAt.IsZero() {
		st.LastDeliveredAt = timeOrNil(state.LastDeliveredAt)
	}
	if state.LastError != "" {
		msg := state.LastError
		if len(msg) > v1alpha1.SinkLastErrorMaxLength {
			msg = msg[:v1alpha1.SinkLastErrorMaxLength]
		}
		st.LastError, st.LastErrorAt = msg, timeOrNil(state.LastErrorAt)
	}
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, ObservedGeneration: sink.Generation}
	switch {
	case secretError != "":
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.ReasonInvalidSecret,
			secretError+": nothing is sent until the Secret holds a whsec_ signing secret"
	case state.ConsecutiveFailures > 0 && state.LastFailureHeld:
		ready.Status, ready.Reason = metav1.ConditionFalse, v1alpha1.ReasonDeliveryHeld
		ready.Message = "a delivery is held, not sent: " + st.LastError
	case state.ConsecutiveFailures > 0:
		ready.Status, ready.Reason = metav1.ConditionFalse, v1alpha1.ReasonDeliveryFailing
		ready.Message = fmt.Sprintf("%d deliveries failed in a row; last: %s", state.ConsecutiveFailures, st.LastError)
		if !state.PausedUntil.IsZero() {
			ready.Message += fmt.Sprintf("; the sink is paused until %s", state.PausedUntil.UTC().Format(time.RFC3339))
		}
	default:
		ready.Status, ready.Reason = metav1.ConditionTrue, v1alpha1.ReasonDelivering
		ready.Message = fmt.Sprintf("%d delivered, %d pending, %d dead letters", c.Delivered, c.Pending, c.Dead)
	}
	meta.SetStatusCondition(&st.Conditions, ready)
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}
