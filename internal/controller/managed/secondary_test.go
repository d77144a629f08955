package managed

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// Pins the secondary-object guarantee: the marker is persisted before the create and the id right
// after; a create that may have happened is recovered by repeating its key within Stripe's window
// (one request, no list), by its tags past it, and never twice.
func TestSecondaries(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	markerAt := func(ago time.Duration) string {
		return pendingMarker{generation: 1, since: now.Add(-ago)}.String()
	}
	refused := &stripeapi.Error{Class: stripeapi.ClassTerminal, HTTPStatus: 400, Message: "No such price"}
	lost := &stripeapi.Error{Class: stripeapi.ClassRetryable, HTTPStatus: 502}
	mismatch := &stripeapi.Error{Class: stripeapi.ClassTerminal, HTTPStatus: 400, Type: stripeapi.TypeIdempotencyError}
	cases := map[string]struct {
		annotation  string // the customer annotation before the pass
		createID    string
		createErrs  []error // per create call
		foundID     string
		wantID      string
		wantErr     bool
		wantCreates int
		wantFinds   int
		wantStored  string // the annotation after ("" none; "marker" a pending marker)
		wantSameKey bool   // the create repeated the marker's key
	}{
		"none recorded: marker before the create, the id right after": {
			createID: "cus_1", wantID: "cus_1", wantCreates: 1, wantStored: "cus_1",
		},
		"an id recorded: no call at all": {
			annotation: "cus_1", wantID: "cus_1", wantStored: "cus_1",
		},
		"pending within 24 h: the create is repeated with its key, no list": {
			annotation: markerAt(time.Hour), createID: "cus_first", wantID: "cus_first", wantCreates: 1, wantStored: "cus_first", wantSameKey: true,
		},
		"pending past 24 h and found by tags: recorded, nothing created": {
			annotation: markerAt(30 * time.Hour), foundID: "cus_found", wantID: "cus_found", wantFinds: 1, wantStored: "cus_found",
		},
		"pending past 24 h and not found: created anew under a new marker": {
			annotation: markerAt(30 * time.Hour), createID: "cus_2", wantID: "cus_2", wantFinds: 1, wantCreates: 1, wantStored: "cus_2",
		},
		"a repeat answered 'other parameters' falls back to the tags": {
			annotation: markerAt(time.Hour), createErrs: []error{mismatch}, foundID: "cus_found", wantID: "cus_found", wantCreates: 1, wantFinds: 1, wantStored: "cus_found",
		},
		"a bare marker (unreadable) is looked up by tags": {
			annotation: CreatePending, foundID: "cus_found", wantID: "cus_found", wantFinds: 1, wantStored: "cus_found",
		},
		"Stripe refused the create: the marker is cleared, nothing exists": {
			createErrs: []error{refused}, wantErr: true, wantCreates: 1, wantStored: "",
		},
		"the create's answer was lost: the marker stays, the object may exist": {
			createErrs: []error{lost}, wantErr: true, wantCreates: 1, wantStored: "marker",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			plan := planObject(nil)
			if tc.annotation != "" {
				plan.Annotations = map[string]string{AnnotationSecondaryPrefix + "customer": tc.annotation}
			}
			kube := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(plan).Build()
			r := NewReconciler(kube, stripeconn.NewResolver(kube, stripeapi.NewPool(nil, logr.Discard()), nil, nil), &recorder{}, Options{Kind: planKind()})
			obj := &v1alpha1.BillingPlan{}
			if err := kube.Get(context.Background(), client.ObjectKeyFromObject(plan), obj); err != nil {
				t.Fatal(err)
			}
			s := &Secondaries{r: r, obj: obj, now: func() time.Time { return now }}

			var keys []string
			markerAtCreate := ""
			creates, finds := 0, 0
			create := func(ctx context.Context, key string) (string, error) {
				creates++
				keys = append(keys, key)
				var stored v1alpha1.BillingPlan
				_ = kube.Get(ctx, client.ObjectKeyFromObject(plan), &stored)
				markerAtCreate = stored.Annotations[AnnotationSecondaryPrefix+"customer"]
				if len(tc.createErrs) >= creates && tc.createErrs[creates-1] != nil {
					return "", tc.createErrs[creates-1]
				}
				return tc.createID, nil
			}
			find := func(context.Context, time.Time) (string, error) {
				finds++
				return tc.foundID, nil
			}
			id, err := s.Ensure(context.Background(), "customer", create, find)
			if (err != nil) != tc.wantErr || id != tc.wantID {
				t.Fatalf("Ensure = %q, %v; want %q, error %v", id, err, tc.wantID, tc.wantErr)
			}
			if creates != tc.wantCreates || finds != tc.wantFinds {
				t.Errorf("%d creates and %d finds, want %d and %d", creates, finds, tc.wantCreates, tc.wantFinds)
			}
			if creates > 0 {
				if _, pending := parsePendingMarker(markerAtCreate); !pending {
					t.Errorf("at the create the stored annotation was %q, want a pending marker", markerAtCreate)
				}
			}
			if tc.wantSameKey {
				marker, _ := parsePendingMarker(tc.annotation)
				if want := s.key("customer", marker); keys[0] != want {
					t.Errorf("repeated create sent key %s, want the marker's %s", keys[0], want)
				}
			}
			var stored v1alpha1.BillingPlan
			if err := kube.Get(context.Background(), client.ObjectKeyFromObject(plan), &stored); err != nil {
				t.Fatal(err)
			}
			got := stored.Annotations[AnnotationSecondaryPrefix+"customer"]
			if _, pending := parsePendingMarker(got); pending {
				got = "marker"
			}
			if got != tc.wantStored {
				t.Errorf("stored annotation %q, want %q", got, tc.wantStored)
			}
		})
	}
}

// Pins that two attempts never share a key and one attempt always does.
func TestSecondaryKeys(t *testing.T) {
	s := &Secondaries{obj: planObject(nil)}
	first := pendingMarker{generation: 1, since: time.Unix(1764579600, 0)}
	second := pendingMarker{generation: 1, since: time.Unix(1764579601, 0)}
	if again := first; s.key("customer", first) != s.key("customer", again) {
		t.Error("one attempt, two keys")
	}
	if s.key("customer", first) == s.key("customer", second) || s.key("customer", first) == s.key("subscription", first) {
		t.Error("two attempts (or components) share a key")
	}
	parsed, ok := parsePendingMarker(first.String())
	if !ok || parsed != first {
		t.Errorf("marker %q parsed as %+v", first.String(), parsed)
	}
}

// Pins the pass's keys: a create's key is the same in every pass, an update's differs per pass and
// per change.
func TestPassKeys(t *testing.T) {
	a := &Pass{id: "pass-a", uid: "uid", generation: 3}
	b := &Pass{id: "pass-b", uid: "uid", generation: 3}
	if a.CreateKey("create-product") != b.CreateKey("create-product") {
		t.Error("a create key depends on the pass")
	}
	if a.UpdateKey("update-product", "x") == b.UpdateKey("update-product", "x") {
		t.Error("an update key does not depend on the pass")
	}
	if a.UpdateKey("update-product", "x") == a.UpdateKey("update-product", "y") {
		t.Error("two changes in one pass share a key")
	}
	if (&Pass{uid: "uid", generation: 4}).CreateKey("create-product") == a.CreateKey("create-product") {
		t.Error("a create key does not depend on the generation")
	}
}

// Pins the adapter-shaped requeue: seconds at first, doubling to the cap, shortened to reach a
// deadline, restarted when the reason changes, forgotten when no longer asked for.
func TestRecheckDelay(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	onboarding := &Recheck{Why: "onboarding"}
	steps := []struct {
		request  *Recheck
		wantBase time.Duration // before jitter (up to +10%)
	}{
		{onboarding, 5 * time.Second},
		{onboarding, 10 * time.Second},
		{onboarding, 20 * time.Second},
		{&Recheck{Why: "onboarding", NotAfter: now.Add(7 * time.Second)}, 7 * time.Second},
		{&Recheck{Why: "onboarding", NotAfter: now.Add(time.Second)}, MinRecheckDelay},
		{&Recheck{Why: "link expiry"}, 5 * time.Second},
		{nil, 0},
		{onboarding, 5 * time.Second},
	}
	c := newRechecks(DefaultRecheckRate)
	key := types.NamespacedName{Namespace: "team", Name: "acme"}
	for i, step := range steps {
		got := c.delay(key, step.request, now, false)
		if got < step.wantBase || got > step.wantBase+step.wantBase/10 {
			t.Errorf("step %d: delay %s, want %s (+10%%)", i, got, step.wantBase)
		}
	}
	for range 20 {
		c.delay(key, onboarding, now, false)
	}
	if got := c.delay(key, onboarding, now, false); got > MaxRecheckDelay+MaxRecheckDelay/10 {
		t.Errorf("after many passes delay %s, want at most %s", got, MaxRecheckDelay)
	}
}

// Pins the safety net: while Stripe's events flow, an adapter's recheck waits MaxRecheckDelay from the
// first pass (the event is what answers), and a deadline still shortens it.
func TestRecheckDelayWhileEventsFlow(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		request  *Recheck
		wantBase time.Duration
	}{
		"onboarding: the cap at once":      {&Recheck{Why: "onboarding"}, MaxRecheckDelay},
		"a deadline in 30 s: the deadline": {&Recheck{Why: "overlap", NotAfter: now.Add(30 * time.Second)}, 30 * time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := newRechecks(DefaultRecheckRate).delay(types.NamespacedName{Name: "acme"}, tc.request, now, true)
			if got < tc.wantBase || got > tc.wantBase+tc.wantBase/10 {
				t.Errorf("delay %s, want %s (+10%%)", got, tc.wantBase)
			}
		})
	}
}

// Pins the kind-wide bound: however many objects wait, their rechecks together stay within the rate,
// so a thousand onboarding tenants never crowd out the writes that share their connection's budget.
func TestRecheckRateBoundsAllWaiting(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		waiting  int
		rate     float64
		wantBase time.Duration // the delay of the last object's first recheck, before jitter
	}{
		"one waiting: the backoff's first step":                 {waiting: 1, rate: 0.5, wantBase: MinRecheckDelay},
		"ten waiting at 0.5/s: 20 s":                            {waiting: 10, rate: 0.5, wantBase: 20 * time.Second},
		"500 waiting at 0.5/s: 1,000 s, past the backoff's cap": {waiting: 500, rate: 0.5, wantBase: 1000 * time.Second},
		"500 waiting at 5/s: 100 s":                             {waiting: 500, rate: 5, wantBase: 100 * time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newRechecks(tc.rate)
			var got time.Duration
			for i := range tc.waiting {
				got = c.delay(types.NamespacedName{Name: fmt.Sprint(i)}, &Recheck{Why: "onboarding"}, now, false)
			}
			if got < tc.wantBase || got > tc.wantBase+tc.wantBase/10 {
				t.Errorf("delay %s, want %s (+10%%)", got, tc.wantBase)
			}
		})
	}
}
