package managed

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// TestNudgesCoalesce pins the burst behaviour: many events for one object while a nudge is on its way
// send one nudge (one pass), and the pass takes every event that asked; the next event after it
// sends a new one. An unknown kind is refused, not dropped silently.
func TestNudgesCoalesce(t *testing.T) {
	n := NewNudges("BillingPlan")
	plan := types.NamespacedName{Namespace: "team-a", Name: "gold"}
	for _, id := range []string{"evt_1", "evt_2", "evt_3"} {
		if err := n.Nudge("BillingPlan", plan, StripeEventRef{ID: id, Type: "product.updated"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(n.channels["BillingPlan"]); got != 1 {
		t.Fatalf("%d nudges queued for one object, want 1", got)
	}
	if refs := n.take("BillingPlan", plan); len(refs) != 3 || refs[0].ID != "evt_1" || refs[2].ID != "evt_3" {
		t.Fatalf("the pass took %v, want the three events in order", refs)
	}
	<-n.channels["BillingPlan"]
	if err := n.Nudge("BillingPlan", plan, StripeEventRef{ID: "evt_4"}); err != nil {
		t.Fatal(err)
	}
	if got := len(n.channels["BillingPlan"]); got != 1 {
		t.Fatalf("an event after the pass queued %d nudges, want 1", got)
	}
	if err := n.Nudge("StripeTenant", plan, StripeEventRef{ID: "evt_5"}); err == nil {
		t.Fatal("a nudge for a kind without a controller was accepted")
	}
}

// TestNudgesLive pins when the feed counts as live: after an answer, for liveFor; never before.
func TestNudgesLive(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	n := NewNudges()
	n.now = func() time.Time { return now }
	if n.Live() {
		t.Fatal("live before the feed ever answered")
	}
	n.MarkLive()
	now = now.Add(liveFor - time.Second)
	if !n.Live() {
		t.Fatal("not live just after an answer")
	}
	now = now.Add(2 * time.Second)
	if n.Live() {
		t.Fatalf("still live %s after the last answer", liveFor+time.Second)
	}
	var none *Nudges
	if none.Live() {
		t.Fatal("no feed configured, yet live")
	}
}
