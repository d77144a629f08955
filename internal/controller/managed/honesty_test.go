package managed

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// tenantKind and planOnTenantKind declare a referent (a tenant) and its user (a plan on its account)
// for the reference-model rows.
func tenantKind() Kind {
	return Kind{
		Name: "StripeTenant", New: func() Object { return &v1alpha1.StripeTenant{} },
		NewList: func() client.ObjectList { return &v1alpha1.StripeTenantList{} }, References: []Reference{ConnectionReference()},
	}
}

func planOnTenantKind() Kind {
	k := planKind()
	k.References = append(k.References, Reference{
		Index: "spec.tenantRef.name", To: &v1alpha1.StripeTenant{}, ToKind: "StripeTenant", InheritsConnection: true, Protects: true,
		Name: func(o client.Object) string {
			if p, ok := o.(*v1alpha1.BillingPlan); ok && p.Spec.TenantRef != nil {
				return p.Spec.TenantRef.Name
			}
			return ""
		},
	})
	return k
}

type passResult struct {
	result reconcile.Result
	err    error
	stored Object // nil when the object is gone
	events *recorder
	calls  []string
}

// indexed registers the registry's field indexes on a fake client, as Registry.Index does on a manager.
func indexed(registry *Registry, builder *fake.ClientBuilder) *fake.ClientBuilder {
	_ = registry.EachIndex(func(obj client.Object, field string, extract client.IndexerFunc) error {
		builder = builder.WithIndex(obj, field, extract)
		return nil
	})
	return builder
}

// runPass runs one pass of kind over the named object, on a fake API server holding objects.
func runPass(t *testing.T, kind Kind, key types.NamespacedName, external *fakeExternal, connectErr error, objects ...client.Object) passResult {
	t.Helper()
	registry := NewRegistry(planOnTenantKind(), tenantKind())
	kube := indexed(registry, fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objects...).
		WithStatusSubresource(&v1alpha1.BillingPlan{}, &v1alpha1.StripeConnection{}, &v1alpha1.StripeTenant{})).Build()
	external.kube = kube
	events := &recorder{}
	r := NewReconciler(kube, stripeconn.NewResolver(kube, stripeapi.NewPool(nil, logr.Discard()), []string{"ops"}, nil), events, Options{
		Kind: kind, Registry: registry, Connecter: fakeConnecter{external: external, err: connectErr},
	})
	result, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: key})
	stored := kind.New()
	if getErr := kube.Get(context.Background(), key, stored); getErr != nil {
		stored = nil
	}
	return passResult{result: result, err: err, stored: stored, events: events, calls: external.calls}
}

func condition(obj Object, conditionType string) *metav1.Condition {
	return meta.FindStatusCondition(obj.GetConditions(), conditionType)
}

var planKey = types.NamespacedName{Namespace: "team", Name: "gold"}

// Pins "one consistent truth": every row is a state a person met while trying the project, and the
// conditions, events and requeue the reconciler must report for it.
func TestHonestConditions(t *testing.T) {
	readyAt := func(generation int64) func(*v1alpha1.BillingPlan) {
		return func(p *v1alpha1.BillingPlan) {
			p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: "prod_1", v1alpha1.AnnotationPaused: "true"}
			p.Generation = 2
			p.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable,
				Message: "the Stripe objects exist and match the spec", ObservedGeneration: generation, LastTransitionTime: metav1.Now()}}
		}
	}
	deletingPaused := func(p *v1alpha1.BillingPlan) {
		now := metav1.NewTime(time.Now())
		p.DeletionTimestamp, p.Finalizers = &now, []string{v1alpha1.Finalizer}
		p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: "prod_1", v1alpha1.AnnotationPaused: "true"}
	}
	cases := map[string]struct {
		plan          *v1alpha1.BillingPlan
		external      fakeExternal
		connectErr    error
		wantReady     metav1.ConditionStatus
		wantReadyWhy  string // reason
		wantSyncedWhy string
		wantMessage   string // in Synced's or Ready's message
		wantEvent     string // reason, type Warning unless wantNormal
		wantNormal    bool
	}{
		"paused with the applied spec: Ready stays True but its reason says Paused, not Available": {
			plan: planObject(readyAt(2)), wantReady: metav1.ConditionTrue, wantReadyWhy: v1alpha1.ReasonPaused, wantSyncedWhy: v1alpha1.ReasonPaused,
			wantMessage: "were usable when last observed",
		},
		"paused after a spec change: not Ready, and it says which generation waits": {
			plan: planObject(readyAt(1)), wantReady: metav1.ConditionFalse, wantReadyWhy: v1alpha1.ReasonPaused, wantSyncedWhy: v1alpha1.ReasonPaused,
			wantMessage: "generation 2",
		},
		"observe-only and Stripe differs: not Ready (never 'match the spec' beside 'differs')": {
			plan: planObject(func(p *v1alpha1.BillingPlan) {
				p.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
				p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: "prod_1"}
			}),
			external:  fakeExternal{observation: Observation{Exists: true, Diff: "product name"}},
			wantReady: metav1.ConditionFalse, wantReadyWhy: v1alpha1.ReasonObserving, wantSyncedWhy: v1alpha1.ReasonObserving, wantMessage: "differs",
		},
		"deleting a paused object says the pause blocks it, with a Warning": {
			plan: planObject(deletingPaused), wantSyncedWhy: v1alpha1.ReasonPaused, wantMessage: "deletion waits", wantEvent: EventDeletionPaused,
		},
		"a blocked connection is a Warning event, not only a condition": {
			plan:       planObject(nil),
			connectErr: &DependencyError{Reason: v1alpha1.ReasonNamespaceNotAllowed, Message: `StripeConnection "stripe" does not allow namespace "team"`},
			wantReady:  metav1.ConditionFalse, wantReadyWhy: v1alpha1.ReasonNamespaceNotAllowed, wantSyncedWhy: v1alpha1.ReasonNamespaceNotAllowed,
			wantEvent: v1alpha1.ReasonNamespaceNotAllowed,
		},
		"waiting for a dependency is a Normal event": {
			plan:       planObject(nil),
			connectErr: WaitingFor("StripeTenant %q has no connected account yet", "acme"),
			wantReady:  metav1.ConditionFalse, wantSyncedWhy: v1alpha1.ReasonWaitingForDependency, wantEvent: v1alpha1.ReasonWaitingForDependency, wantNormal: true,
		},
		"a delete event says what was done, not 'deleted (or archived…)'": {
			plan: planObject(func(p *v1alpha1.BillingPlan) {
				now := metav1.NewTime(time.Now())
				p.DeletionTimestamp, p.Finalizers = &now, []string{v1alpha1.Finalizer}
				p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: "prod_1"}
			}),
			external: fakeExternal{observation: Observation{Exists: true, UpToDate: true}}, wantEvent: EventDeleted, wantNormal: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			external := tc.external
			got := runPass(t, planKind(), planKey, &external, tc.connectErr, append(readyConnection(), tc.plan)...)
			if got.stored == nil {
				if tc.wantEvent == "" {
					t.Fatal("object gone")
				}
			} else {
				if tc.wantReady != "" {
					ready := condition(got.stored, v1alpha1.ConditionReady)
					if ready == nil || ready.Status != tc.wantReady || (tc.wantReadyWhy != "" && ready.Reason != tc.wantReadyWhy) {
						t.Errorf("Ready %+v, want %s/%s", ready, tc.wantReady, tc.wantReadyWhy)
					}
				}
				if tc.wantSyncedWhy != "" {
					synced := condition(got.stored, v1alpha1.ConditionSynced)
					if synced == nil || synced.Reason != tc.wantSyncedWhy {
						t.Errorf("Synced %+v, want reason %s", synced, tc.wantSyncedWhy)
					}
				}
				if tc.wantMessage != "" {
					messages := ""
					for _, c := range got.stored.GetConditions() {
						messages += c.Message + "\n"
					}
					if !strings.Contains(messages, tc.wantMessage) {
						t.Errorf("condition messages %q, want one containing %q", messages, tc.wantMessage)
					}
				}
				if status := got.stored.GetManagedStatus(); status.ObservedGeneration != got.stored.GetGeneration() {
					t.Errorf("status.observedGeneration %d disagrees with the conditions' %d", status.ObservedGeneration, got.stored.GetGeneration())
				}
			}
			if tc.wantEvent != "" {
				wantType := corev1.EventTypeWarning
				if tc.wantNormal {
					wantType = corev1.EventTypeNormal
				}
				found := false
				for i, reason := range got.events.reasons {
					found = found || (reason == tc.wantEvent && got.events.types[i] == wantType)
				}
				if !found {
					t.Errorf("events %v (%v), want a %s %s", got.events.reasons, got.events.types, wantType, tc.wantEvent)
				}
			}
		})
	}
}

// Pins the reference model: in-use protection, inherited connections, and deletion when a referent is
// gone.
func TestReferences(t *testing.T) {
	deleting := func(o client.Object) {
		now := metav1.NewTime(time.Now())
		o.SetDeletionTimestamp(&now)
		o.SetFinalizers([]string{v1alpha1.Finalizer})
		o.SetAnnotations(map[string]string{v1alpha1.AnnotationExternalName: "x_1"})
	}
	tenant := func(mutate func(*v1alpha1.StripeTenant)) *v1alpha1.StripeTenant {
		t := &v1alpha1.StripeTenant{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "acme", UID: "tenant-uid", Generation: 1}}
		t.Spec.ConnectionRef = &v1alpha1.ConnectionReference{Name: "stripe"}
		t.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete
		if mutate != nil {
			mutate(t)
		}
		return t
	}
	planOn := func(name string, mutate func(*v1alpha1.BillingPlan)) *v1alpha1.BillingPlan {
		return planObject(func(p *v1alpha1.BillingPlan) {
			p.Name, p.UID = name, types.UID(name+"-uid")
			p.Spec.ConnectionRef = nil
			p.Spec.TenantRef = &v1alpha1.LocalObjectReference{Name: "acme"}
			if mutate != nil {
				mutate(p)
			}
		})
	}
	cases := map[string]struct {
		kind        Kind
		key         types.NamespacedName
		objects     []client.Object
		external    fakeExternal
		wantGone    bool
		wantCalls   []string
		wantMessage string // in Synced
		wantEvent   string
	}{
		"a tenant is not deleted while plans live on its account; the users are named in a stable order": {
			kind: tenantKind(), key: types.NamespacedName{Namespace: "team", Name: "acme"},
			objects:     []client.Object{tenant(func(t *v1alpha1.StripeTenant) { deleting(t) }), planOn("zeta", nil), planOn("alpha", nil)},
			wantMessage: "deletion waits for the 2 objects that use this StripeTenant: BillingPlan team/alpha, BillingPlan team/zeta",
		},
		"a tenant with no plans left is deleted": {
			kind: tenantKind(), key: types.NamespacedName{Namespace: "team", Name: "acme"},
			objects:  []client.Object{tenant(func(t *v1alpha1.StripeTenant) { deleting(t) })},
			external: fakeExternal{observation: Observation{Exists: true, UpToDate: true}}, wantGone: true, wantCalls: []string{"observe", "delete"},
		},
		"a plan that names no connection inherits its tenant's": {
			kind: planOnTenantKind(), key: types.NamespacedName{Namespace: "team", Name: "gold"},
			objects: []client.Object{tenant(nil), planOn("gold", func(p *v1alpha1.BillingPlan) {
				p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: "prod_1"}
			})},
			external: fakeExternal{observation: Observation{Exists: true, UpToDate: true}}, wantCalls: []string{"observe"},
		},
		"a plan whose tenant is gone can still be deleted (its objects are left, and an event says so)": {
			kind: planOnTenantKind(), key: types.NamespacedName{Namespace: "team", Name: "gold"},
			objects:  []client.Object{planOn("gold", func(p *v1alpha1.BillingPlan) { deleting(p) })},
			wantGone: true, wantEvent: EventOrphaned,
		},
		"a plan whose tenant is gone and that is not being deleted waits, saying what is missing": {
			kind: planOnTenantKind(), key: types.NamespacedName{Namespace: "team", Name: "gold"},
			objects:     []client.Object{planOn("gold", nil)},
			wantMessage: `StripeTenant "acme" does not exist`,
		},
		"a new object is refused on a connection that is being deleted": {
			kind: planKind(), key: planKey,
			objects: func() []client.Object {
				objects := readyConnection()
				now := metav1.NewTime(time.Now())
				objects[0].SetDeletionTimestamp(&now)
				objects[0].SetFinalizers([]string{v1alpha1.Finalizer})
				return append(objects[1:], objects[0], planObject(nil))
			}(),
			wantMessage: "is being deleted",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objects := tc.objects
			if !strings.Contains(name, "connection that is being deleted") {
				objects = append(readyConnection(), objects...)
			}
			external := tc.external
			got := runPass(t, tc.kind, tc.key, &external, nil, objects...)
			if (got.stored == nil) != tc.wantGone {
				t.Fatalf("object gone: %v, want %v (err %v)", got.stored == nil, tc.wantGone, got.err)
			}
			if tc.wantCalls != nil && !equalStrings(got.calls, tc.wantCalls) {
				t.Errorf("adapter calls %v, want %v", got.calls, tc.wantCalls)
			}
			if tc.wantMessage != "" {
				synced := condition(got.stored, v1alpha1.ConditionSynced)
				if synced == nil || !strings.Contains(synced.Message, tc.wantMessage) {
					t.Errorf("Synced %+v, want a message containing %q", synced, tc.wantMessage)
				}
				if len(got.calls) != 0 {
					t.Errorf("adapter calls %v, want none while blocked", got.calls)
				}
			}
			if tc.wantEvent != "" && (len(got.events.reasons) == 0 || got.events.reasons[len(got.events.reasons)-1] != tc.wantEvent) {
				t.Errorf("events %v, want the last to be %s", got.events.reasons, tc.wantEvent)
			}
		})
	}
}

// Pins: a stale-object conflict is requeued quietly: no failed condition, no event, no backoff error.
func TestConflictRequeuesQuietly(t *testing.T) {
	external := &fakeExternal{createErr: apierrors.NewConflict(schema.GroupResource{Group: "payments.cloudip.io", Resource: "billingplans"}, "gold", nil)}
	got := runPass(t, planKind(), planKey, external, nil, append(readyConnection(), planObject(nil))...)
	if got.err != nil || got.result.RequeueAfter == 0 || got.result.RequeueAfter > 5*time.Second {
		t.Errorf("result %+v, error %v; want a quiet requeue within seconds", got.result, got.err)
	}
	if synced := condition(got.stored, v1alpha1.ConditionSynced); synced != nil && synced.Status == metav1.ConditionFalse && synced.Reason == v1alpha1.ReasonReconcileError {
		t.Errorf("a conflict wrote a failed condition: %+v", synced)
	}
	for _, reason := range got.events.reasons {
		if reason == EventSyncFailed {
			t.Errorf("a conflict emitted %s", reason)
		}
	}
}

// Pins which annotation changes start a pass: a person's (pause, adoption, a request), never the
// reconciler's own markers and the ids that replace them.
func TestAnnotationsChangedByPerson(t *testing.T) {
	customer := AnnotationSecondaryPrefix + "customer"
	cases := map[string]struct {
		before, after map[string]string
		want          bool
	}{
		"paused":                         {after: map[string]string{v1alpha1.AnnotationPaused: "true"}, want: true},
		"reconcile requested":            {before: map[string]string{AnnotationReconcileRequested: "1"}, after: map[string]string{AnnotationReconcileRequested: "2"}, want: true},
		"a link requested":               {after: map[string]string{"payments.cloudip.io/onboarding-link-requested-at": "1"}, want: true},
		"primary adopted":                {after: map[string]string{v1alpha1.AnnotationExternalName: "acct_1"}, want: true},
		"primary marker written":         {after: map[string]string{v1alpha1.AnnotationExternalName: CreatePending}},
		"primary id replaces the marker": {before: map[string]string{v1alpha1.AnnotationExternalName: CreatePending}, after: map[string]string{v1alpha1.AnnotationExternalName: "acct_1"}},
		"secondary marker written":       {after: map[string]string{customer: "create-pending:1:1764579600"}},
		"secondary id replaces marker":   {before: map[string]string{customer: "create-pending:1:1764579600"}, after: map[string]string{customer: "cus_1"}},
		"secondary adopted":              {after: map[string]string{customer: "cus_1"}, want: true},
		"another group's annotation":     {after: map[string]string{"example.com/x": "1"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := annotationsChangedByPerson(tc.before, tc.after); got != tc.want {
				t.Errorf("changed by a person: %v, want %v", got, tc.want)
			}
		})
	}
}

// Pins the watch a connection's change drives: it wakes the objects that name it, and those that
// inherit it through a referent (a plan on a tenant's account, with no connectionRef of its own),
// which before the reference model were never woken when the connection became Ready.
func TestConnectionWakesInheritors(t *testing.T) {
	tenant := &v1alpha1.StripeTenant{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "acme"}}
	tenant.Spec.ConnectionRef = &v1alpha1.ConnectionReference{Name: "stripe"}
	direct := planObject(func(p *v1alpha1.BillingPlan) { p.Name = "direct" })
	inherits := planObject(func(p *v1alpha1.BillingPlan) {
		p.Name, p.Spec.ConnectionRef, p.Spec.TenantRef = "inherits", nil, &v1alpha1.LocalObjectReference{Name: "acme"}
	})
	other := planObject(func(p *v1alpha1.BillingPlan) {
		p.Name, p.Spec.ConnectionRef = "other", &v1alpha1.ConnectionReference{Name: "elsewhere"}
	})
	kube := indexed(NewRegistry(planOnTenantKind(), tenantKind()), fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(tenant, direct, inherits, other)).Build()
	r := NewReconciler(kube, nil, &recorder{}, Options{Kind: planOnTenantKind()})
	requests := r.referrersOf(ConnectionReference())(context.Background(), &v1alpha1.StripeConnection{ObjectMeta: metav1.ObjectMeta{Name: "stripe"}})
	var woken []string
	for _, req := range requests {
		woken = append(woken, req.Name)
	}
	if !equalStrings(sortedCopy(woken), []string{"direct", "inherits"}) {
		t.Errorf("woken %v, want direct and inherits", woken)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
