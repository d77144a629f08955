package kube

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/webhookrelay/delivery"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// TestFillSinkStatus pins what a sink's status says: the counts and lag from the store, and Ready:
// Delivering while nothing failed since the last success, DeliveryFailing with the last error,
// DeliveryHeld for a delivery its format held (an unbalanced ledger deposit), InvalidSecret when
// nothing can be signed (it wins: nothing is attempted at all).
func TestFillSinkStatus(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	counts := store.DestinationCounts{Delivered: 7, Pending: 2, Retrying: 1, Dead: 1, OldestPending: now.Add(-time.Minute)}
	cases := []struct {
		name        string
		state       delivery.SinkState
		secretError string
		wantStatus  string
		wantReason  string
		wantInNote  string
	}{
		{"delivering", delivery.SinkState{LastDeliveredAt: now}, "", "True", v1alpha1.ReasonDelivering, "7 delivered"},
		{"failing", delivery.SinkState{ConsecutiveFailures: 3, LastError: "POST: 503", LastErrorAt: now}, "", "False", v1alpha1.ReasonDeliveryFailing, "503"},
		{"held", delivery.SinkState{ConsecutiveFailures: 1, LastFailureHeld: true, LastError: "deposit does not balance: 10 != 12", LastErrorAt: now}, "", "False", v1alpha1.ReasonDeliveryHeld, "does not balance"},
		{"no secret", delivery.SinkState{ConsecutiveFailures: 3, LastError: "x"}, "Secret gl has no key secret", "False", v1alpha1.ReasonInvalidSecret, "no key secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := &v1alpha1.StripeEventSink{}
			sink.Generation = 3
			fillSinkStatus(sink, counts, tc.state, tc.secretError)
			st := sink.Status
			if st.Delivered != 7 || st.Pending != 2 || st.Retrying != 1 || st.DeadLettered != 1 || st.OldestPendingAt == nil || !st.OldestPendingAt.Time.Equal(now.Add(-time.Minute)) {
				t.Fatalf("counts %+v", st)
			}
			ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
			if ready == nil || string(ready.Status) != tc.wantStatus || ready.Reason != tc.wantReason || !strings.Contains(ready.Message, tc.wantInNote) || ready.ObservedGeneration != 3 {
				t.Fatalf("Ready %+v, want %s/%s containing %q", ready, tc.wantStatus, tc.wantReason, tc.wantInNote)
			}
		})
	}
}
