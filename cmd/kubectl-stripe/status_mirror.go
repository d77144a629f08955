package main

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// mirrorLagging is the lag past which a mirror's next step is the runbook (the StripeMirrorLagging
// alert's threshold).
const mirrorLagging = 600 * time.Second

// mirror reports a StripeMirror: its database (the Secret that holds the URL, never the URL), the
// relay's cursor and lag, rows per table, backfill progress and the last revalidation.
func (d *describer) mirror(name string) (*node, string, error) {
	var m v1alpha1.StripeMirror
	if err := d.get(kindMirror, name, &m); err != nil {
		return nil, "", err
	}
	s := &m.Status
	reported := len(s.Conditions) > 0
	tree := d.root(kindMirror, &m, s.ObservedGeneration).add(conditionRows(s.Conditions)...)
	types := "every object type"
	if len(m.Spec.ObjectTypes) > 0 {
		names := make([]string, 0, len(m.Spec.ObjectTypes))
		for _, t := range m.Spec.ObjectTypesOrAll() {
			names = append(names, string(t))
		}
		types = strings.Join(names, ", ")
	}
	ref := m.Spec.Database.URLSecretRef
	tree.add(fact("Database", fmt.Sprintf("schema %s, region %s, %s", m.Spec.Database.Schema, m.Spec.Region, types)).
		add(fact("URL", fmt.Sprintf("Secret %s, key %s", ref.Name, ref.Key))))
	if reported {
		tree.add(mirrorCursor(s), mirrorRows(s), mirrorBackfill(&m))
	}
	tree.add(mirrorRevalidation(&m, reported))
	connRow, conn := d.connection(m.Spec.ConnectionRef.Name)
	tree.add(connRow)
	next := nextStep(d.situation(kindMirror, &m, s.ObservedGeneration, s.Conditions, conn), func() string { return d.mirrorNext(&m) })
	return tree, next, nil
}

// mirrorCursor is the last event applied and how far behind the relay's store the mirror is.
func mirrorCursor(s *v1alpha1.StripeMirrorStatus) *node {
	if s.AppliedSeq == 0 && s.LastAppliedAt == nil {
		return fact("Cursor", "no event applied yet")
	}
	cursor := fact("Cursor", fmt.Sprintf("seq %d, lag %s", s.AppliedSeq, lag(s.LagSeconds)))
	if ready := meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionReady); s.LagSeconds == 0 && ready != nil && ready.Status == metav1.ConditionTrue {
		cursor.Message += " (caught up)"
	}
	if s.LastAppliedAt != nil {
		cursor.add(fact("last applied", formatTime(s.LastAppliedAt)))
	}
	return cursor
}

// mirrorRows counts the rows, table by table (a type's table is its plural).
func mirrorRows(s *v1alpha1.StripeMirrorStatus) *node {
	rows := fact("Rows", fmt.Sprintf("%d", s.Rows))
	if len(s.Tables) > 0 {
		rows.Message += " in " + count(len(s.Tables), "table")
	}
	for _, t := range s.Tables {
		rows.add(fact(string(t.ObjectType)+"s", fmt.Sprintf("%d", t.Rows)))
	}
	return rows
}

// mirrorBackfill is the listing of the mirror's accounts from Stripe.
func mirrorBackfill(m *v1alpha1.StripeMirror) *node {
	b := &m.Status.Backfill
	if b.ListingsTotal == 0 {
		if meta.IsStatusConditionTrue(m.Status.Conditions, v1alpha1.ConditionBackfillComplete) {
			return fact("Backfill", fmt.Sprintf("no account of region %s yet", m.Spec.Region))
		}
		return fact("Backfill", "not started")
	}
	backfill := fact("Backfill", fmt.Sprintf("%d of %d listings complete (%d of %d accounts), %s, %d rows",
		b.Listings, b.ListingsTotal, b.AccountsComplete, b.Accounts, count(int(b.Pages), "page"), b.Rows))
	if b.CompletedAt != nil {
		backfill.add(fact("completed", formatTime(b.CompletedAt)))
	}
	return backfill
}

// mirrorRevalidation is the last pass comparing rows with Stripe, and how often one runs.
func mirrorRevalidation(m *v1alpha1.StripeMirror, reported bool) *node {
	interval, sample := m.Spec.RevalidationOrDefaults()
	if sample == 0 {
		return fact("Revalidation", "off (spec.revalidation.sampleSize 0)")
	}
	revalidation := fact("Revalidation", fmt.Sprintf("every %s, %s a pass", duration(interval), count(int(sample), "row")))
	r := &m.Status.Revalidation
	switch {
	case r.LastAt != nil:
		revalidation.add(fact("last pass "+formatTime(r.LastAt), fmt.Sprintf("%d checked, %d repaired (%d since the mirror was created)",
			r.Checked, r.Repaired, r.RepairedTotal)))
	case reported:
		revalidation.add(fact("last pass", "none yet"))
	}
	return revalidation
}

// mirrorNext is what a mirror the relay reports on needs: its database, a backfill Stripe refuses,
// a lag past the alert's, a backfill still running.
func (d *describer) mirrorNext(m *v1alpha1.StripeMirror) string {
	s := &m.Status
	ready := meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionReady)
	backfill := meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionBackfillComplete)
	ref := m.Spec.Database.URLSecretRef
	switch {
	case ready != nil && ready.Reason == v1alpha1.ReasonDatabaseUnavailable:
		return fmt.Sprintf("database unavailable: %s; check that key %s of Secret %s (spec.database.urlSecretRef) holds a working URL "+
			"and that the relay can reach the database; no event is skipped meanwhile", ready.Message, ref.Key, ref.Name)
	case backfill != nil && backfill.Reason == v1alpha1.ReasonBackfillFailing:
		stripeErr := backfill.Message
		if _, after, found := strings.Cut(stripeErr, "retried from where it stopped: "); found {
			stripeErr = after
		}
		return "backfill failing: listing from Stripe fails: " + stripeErr + "; once its cause is fixed (the connection's API key, the account), " +
			"the listing resumes by itself from where it stopped"
	case s.LagSeconds > int64(mirrorLagging/time.Second):
		return fmt.Sprintf("lagging: the oldest event not yet applied is %s old: see docs/runbook.md#stripemirrorlagging", lag(s.LagSeconds))
	case backfill != nil && backfill.Status != metav1.ConditionTrue:
		wait := "kubectl wait --for=condition=" + v1alpha1.ConditionBackfillComplete + " smirror/" + m.Name
		if d.namespace != "" {
			wait = "kubectl wait -n " + d.namespace + " --for=condition=" + v1alpha1.ConditionBackfillComplete + " smirror/" + m.Name
		}
		return "backfilling (" + backfill.Message + "): nothing to do but wait (`" + wait + "`)"
	}
	return ""
}

// lag says seconds as a duration: 0s, 42s, 12m, 1h30m.
func lag(seconds int64) string {
	return duration(time.Duration(seconds) * time.Second)
}

// duration is d without Go's trailing zero units: 1h, not 1h0m0s.
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
