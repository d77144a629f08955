package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
)

// writeStatus writes a StripeMirror's status from its running mirror, when it changed.
func (s *Mirrors) writeStatus(ctx context.Context, m *v1alpha1.StripeMirror, r *runningMirror) error {
	updated := m.DeepCopy()
	var snap *mirror.Snapshot
	problem := r.openErr
	if r.mirror != nil {
		got, err := r.mirror.Snapshot(ctx)
		if err != nil {
			problem = err.Error()
		} else {
			snap = &got
		}
	}
	fillMirrorStatus(updated, snap, problem)
	if equality.Semantic.DeepEqual(m.Status, updated.Status) {
		return nil
	}
	// The whole status as a merge patch: a figure that is 0 is written as 0 (kubectl get shows it).
	patch, err := json.Marshal(map[string]any{"status": updated.Status})
	if err != nil {
		return fmt.Errorf("status of StripeMirror %s/%s: %w", m.Namespace, m.Name, err)
	}
	if err := s.Kube.Status().Patch(ctx, updated, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("patch status of StripeMirror %s/%s: %w", m.Namespace, m.Name, err)
	}
	return nil
}

// fillMirrorStatus sets the figures and the two conditions: Ready (the events are applied) and
// BackfillComplete. problem is why the mirror cannot run or be read (snap is nil then).
func fillMirrorStatus(m *v1alpha1.StripeMirror, snap *mirror.Snapshot, problem string) {
	st := &m.Status
	st.ObservedGeneration = m.Generation
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, ObservedGeneration: m.Generation}
	backfill := metav1.Condition{Type: v1alpha1.ConditionBackfillComplete, ObservedGeneration: m.Generation}
	if snap == nil {
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.ReasonDatabaseUnavailable, problem
		if meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionBackfillComplete) == nil {
			backfill.Status, backfill.Reason, backfill.Message = metav1.ConditionFalse, v1alpha1.ReasonBackfilling, "waiting for the database"
			meta.SetStatusCondition(&st.Conditions, backfill)
		}
		meta.SetStatusCondition(&st.Conditions, ready)
		return
	}
	st.AppliedSeq = snap.AppliedSeq
	st.LagSeconds = int64(snap.Lag / time.Second)
	st.LastAppliedAt = timeOrNil(snap.LastAppliedAt)
	st.Rows = snap.Rows
	st.Tables = nil
	for _, t := range m.Spec.ObjectTypesOrAll() {
		st.Tables = append(st.Tables, v1alpha1.MirrorTableStatus{ObjectType: t, Rows: snap.Tables[t]})
	}
	st.Backfill = v1alpha1.MirrorBackfillStatus{Accounts: snap.Accounts, AccountsComplete: snap.AccountsComplete,
		Listings: snap.Listings, ListingsTotal: snap.ListingsTotal, Pages: snap.Pages, Rows: snap.BackfillRows,
		CompletedAt: timeOrNil(snap.BackfillCompletedAt)}
	st.Revalidation = v1alpha1.MirrorRevalidationStatus{LastAt: timeOrNil(snap.LastRevalidation), Checked: snap.Checked,
		Repaired: snap.Repaired, RepairedTotal: snap.RepairedTotal}

	switch {
	case snap.DatabaseErr != "":
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.ReasonDatabaseUnavailable, snap.DatabaseErr
	default:
		ready.Status, ready.Reason = metav1.ConditionTrue, v1alpha1.ReasonMirroring
		ready.Message = fmt.Sprintf("events applied up to seq %d, lag %s; %d rows", snap.AppliedSeq, snap.Lag.Truncate(time.Second), snap.Rows)
	}
	switch {
	case snap.Listings == snap.ListingsTotal: // 0 of 0: no account of this region yet
		backfill.Status, backfill.Reason = metav1.ConditionTrue, v1alpha1.ReasonBackfilled
		backfill.Message = fmt.Sprintf("%d accounts listed from Stripe: %d rows in %d pages", snap.Accounts, snap.BackfillRows, snap.Pages)
	case snap.BackfillErr != "":
		backfill.Status, backfill.Reason = metav1.ConditionFalse, v1alpha1.ReasonBackfillFailing
		backfill.Message = fmt.Sprintf("%d of %d listings complete; retried from where it stopped: %s", snap.Listings, snap.ListingsTotal, snap.BackfillErr)
	default:
		backfill.Status, backfill.Reason = metav1.ConditionFalse, v1alpha1.ReasonBackfilling
		backfill.Message = fmt.Sprintf("%d of %d listings complete (%d of %d accounts), %d rows so far", snap.Listings, snap.ListingsTotal,
			snap.AccountsComplete, snap.Accounts, snap.BackfillRows)
	}
	meta.SetStatusCondition(&st.Conditions, ready)
	meta.SetStatusCondition(&st.Conditions, backfill)
}
