package managed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// fakeExternal is an ExternalClient made of an observation and recorded calls. Its create checks
// what was persisted in the API server at the moment of the call: the contract's crash safety.
type fakeExternal struct {
	kube        client.Client
	observation Observation
	observeErr  error
	createID    string
	createErr   error
	updateErr   error
	calls       []string
	pendingSeen bool // at Create, the stored object carried the create-pending marker and the finalizer
}

func (f *fakeExternal) Observe(context.Context, Object) (Observation, error) {
	f.calls = append(f.calls, "observe")
	return f.observation, f.observeErr
}

func (f *fakeExternal) Create(ctx context.Context, obj Object) (Created, error) {
	f.calls = append(f.calls, "create")
	var stored v1alpha1.BillingPlan
	if err := f.kube.Get(ctx, client.ObjectKeyFromObject(obj), &stored); err == nil {
		f.pendingSeen = v1alpha1.GetExternalName(&stored) == CreatePending && len(stored.Finalizers) == 1
	}
	return Created{ID: f.createID}, f.createErr
}

func (f *fakeExternal) Update(context.Context, Object) error {
	f.calls = append(f.calls, "update")
	return f.updateErr
}

func (f *fakeExternal) Delete(context.Context, Object) (string, error) {
	f.calls = append(f.calls, "delete")
	return "deleted product prod_1", nil
}

type fakeConnecter struct {
	external *fakeExternal
	err      error
}

func (c fakeConnecter) Connect(context.Context, Object, *Pass) (ExternalClient, error) {
	return c.external, c.err
}

type recorder struct{ reasons, types []string }

func (r *recorder) Eventf(_ runtime.Object, _ runtime.Object, eventType, reason, _, _ string, _ ...any) {
	r.reasons = append(r.reasons, reason)
	r.types = append(r.types, eventType)
}

var _ events.EventRecorder = (*recorder)(nil)

func scheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// readyConnection is a verified StripeConnection with its key Secret.
func readyConnection() []client.Object {
	connection := &v1alpha1.StripeConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "stripe", UID: "conn-uid", Generation: 1},
		Spec: v1alpha1.StripeConnectionSpec{
			SecretRef: v1alpha1.SecretKeySelector{Namespace: "ops", Name: "key", Key: "apiKey"},
			Mode:      v1alpha1.StripeModeTest, Region: v1alpha1.RegionUS, AllowedNamespaces: &metav1.LabelSelector{},
			APIBaseURL: "http://127.0.0.1:1",
		},
		Status: v1alpha1.StripeConnectionStatus{ManagedStatus: v1alpha1.ManagedStatus{Conditions: []metav1.Condition{{
			Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable, ObservedGeneration: 1,
			LastTransitionTime: metav1.Now(),
		}}}},
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "key"}, Data: map[string][]byte{"apiKey": []byte("sk_test_unit")}}
	return []client.Object{connection, secret}
}

// planKind declares BillingPlan for the unit tests: its connection is its only reference.
func planKind() Kind {
	return Kind{
		Name: "BillingPlan", New: func() Object { return &v1alpha1.BillingPlan{} },
		NewList: func() client.ObjectList { return &v1alpha1.BillingPlanList{} }, References: []Reference{ConnectionReference()},
	}
}

func planObject(mutate func(*v1alpha1.BillingPlan)) *v1alpha1.BillingPlan {
	plan := &v1alpha1.BillingPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "gold", UID: "plan-uid", Generation: 1},
		Spec: v1alpha1.BillingPlanSpec{
			ManagedSpec: v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: "stripe"},
				DeletionPolicy: v1alpha1.DeletionPolicyDelete, ManagementPolicy: v1alpha1.ManagementPolicyManage},
			Product: v1alpha1.Product{Name: "Gold"},
		},
	}
	if mutate != nil {
		mutate(plan)
	}
	return plan
}

// Pins the generic reconcile contract, one behaviour per row: what the reconciler calls on the adapter,
// what it persists and in which order, which conditions it reports, and how it asks to be requeued.
func TestReconcileContract(t *testing.T) {
	deleting := func(p *v1alpha1.BillingPlan) {
		now := metav1.NewTime(time.Now())
		p.DeletionTimestamp = &now
		p.Finalizers = []string{v1alpha1.Finalizer}
		p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: "prod_1"}
	}
	cases := map[string]struct {
		plan          *v1alpha1.BillingPlan
		external      fakeExternal
		wantCalls     []string
		wantName      string // external-name after the pass ("-": object gone)
		wantSynced    string // reason
		wantReady     metav1.ConditionStatus
		wantErr       bool // returned for a backoff retry
		wantRequeue   bool
		wantPending   bool
		wantEventLast string
	}{
		"a new object: pending marker and finalizer persisted before create, id right after, then update": {
			plan:      planObject(nil),
			external:  fakeExternal{createID: "prod_1"},
			wantCalls: []string{"observe", "create", "update"}, wantName: "prod_1",
			wantSynced: v1alpha1.ReasonAvailable, wantReady: metav1.ConditionTrue, wantRequeue: true, wantPending: true,
		},
		"an id Stripe returned with an error is still persisted": {
			plan:      planObject(nil),
			external:  fakeExternal{createID: "prod_1", createErr: &stripeapi.Error{Class: stripeapi.ClassRetryable, HTTPStatus: 500}},
			wantCalls: []string{"observe", "create"}, wantName: "prod_1",
			wantSynced: v1alpha1.ReasonReconcileError, wantReady: metav1.ConditionFalse, wantErr: true, wantPending: true,
		},
		"in sync: observe only, no write": {
			plan: planObject(func(p *v1alpha1.BillingPlan) {
				p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: "prod_1"}
			}),
			external:  fakeExternal{observation: Observation{Exists: true, UpToDate: true}},
			wantCalls: []string{"observe"}, wantName: "prod_1",
			wantSynced: v1alpha1.ReasonAvailable, wantReady: metav1.ConditionTrue, wantRequeue: true,
		},
		"drifted: update": {
			plan: planObject(func(p *v1alpha1.BillingPlan) {
				p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: "prod_1"}
			}),
			external:  fakeExternal{observation: Observation{Exists: true, Diff: "product name"}},
			wantCalls: []string{"observe", "update"}, wantName: "prod_1",
			wantSynced: v1alpha1.ReasonAvailable, wantReady: metav1.ConditionTrue, wantRequeue: true, wantEventLast: EventUpdated,
		},
		"found by tags after a crash: the id is recorded, nothing created": {
			plan: planObject(func(p *v1alpha1.BillingPlan) {
				p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: CreatePending}
			}),
			external:  fakeExternal{observation: Observation{Exists: true, UpToDate: true, ExternalID: "prod_found"}},
			wantCalls: []string{"observe"}, wantName: "prod_found",
			wantSynced: v1alpha1.ReasonAvailable, wantReady: metav1.ConditionTrue, wantRequeue: true, wantEventLast: EventAdopted,
		},
		"a recorded id gone from Stripe is not silently recreated": {
			plan: planObject(func(p *v1alpha1.BillingPlan) {
				p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: "prod_gone"}
			}),
			external:  fakeExternal{},
			wantCalls: []string{"observe"}, wantName: "prod_gone",
			wantSynced: v1alpha1.ReasonTerminal, wantReady: metav1.ConditionFalse, wantEventLast: EventSyncFailed,
		},
		"observe-only never creates": {
			plan:      planObject(func(p *v1alpha1.BillingPlan) { p.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve }),
			external:  fakeExternal{},
			wantCalls: []string{"observe"}, wantName: "",
			wantSynced: v1alpha1.ReasonObserving, wantReady: metav1.ConditionFalse, wantRequeue: true,
		},
		"paused: no Stripe call at all": {
			plan:      planObject(func(p *v1alpha1.BillingPlan) { p.Annotations = map[string]string{v1alpha1.AnnotationPaused: "true"} }),
			external:  fakeExternal{},
			wantCalls: nil, wantName: "",
			wantSynced: v1alpha1.ReasonPaused,
		},
		"Stripe refuses the request: terminal, no retry, and the marker cleared (nothing was created)": {
			plan:      planObject(nil),
			external:  fakeExternal{createErr: &stripeapi.Error{Class: stripeapi.ClassTerminal, HTTPStatus: 400, Message: "Invalid currency"}},
			wantCalls: []string{"observe", "create"}, wantName: "", wantPending: true,
			wantSynced: v1alpha1.ReasonTerminal, wantReady: metav1.ConditionFalse, wantEventLast: EventSyncFailed,
		},
		"a create lost to a 5xx keeps the marker: the object may exist": {
			plan:      planObject(nil),
			external:  fakeExternal{createErr: &stripeapi.Error{Class: stripeapi.ClassRetryable, HTTPStatus: 502}},
			wantCalls: []string{"observe", "create"}, wantName: CreatePending, wantPending: true,
			wantSynced: v1alpha1.ReasonReconcileError, wantReady: metav1.ConditionFalse, wantErr: true,
		},
		"deleting with Delete: delete, then the finalizer goes": {
			plan:      planObject(deleting),
			external:  fakeExternal{observation: Observation{Exists: true, UpToDate: true}},
			wantCalls: []string{"observe", "delete"}, wantName: "-", wantEventLast: EventDeleted,
		},
		"deleting with Orphan: no Stripe call, the finalizer goes": {
			plan: planObject(func(p *v1alpha1.BillingPlan) {
				deleting(p)
				p.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
			}),
			external:  fakeExternal{},
			wantCalls: nil, wantName: "-", wantEventLast: EventOrphaned,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objects := append(readyConnection(), tc.plan)
			kube := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objects...).
				WithStatusSubresource(&v1alpha1.BillingPlan{}, &v1alpha1.StripeConnection{}).Build()
			external := tc.external
			external.kube = kube
			events := &recorder{}
			connections := stripeconn.NewResolver(kube, stripeapi.NewPool(nil, logr.Discard()), []string{"ops"}, nil)
			r := NewReconciler(kube, connections, events, Options{
				Kind: planKind(), ClusterID: "unit", Connecter: fakeConnecter{external: &external},
			})

			result, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "team", Name: "gold"}})
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error: %v", err, tc.wantErr)
			}
			if (result.RequeueAfter > 0) != tc.wantRequeue {
				t.Errorf("requeue after %s, want a requeue: %v", result.RequeueAfter, tc.wantRequeue)
			}
			if !equalStrings(external.calls, tc.wantCalls) {
				t.Errorf("adapter calls %v, want %v", external.calls, tc.wantCalls)
			}
			if tc.wantPending != external.pendingSeen {
				t.Errorf("create-pending marker and finalizer persisted before create: %v, want %v", external.pendingSeen, tc.wantPending)
			}
			if tc.wantEventLast != "" && (len(events.reasons) == 0 || events.reasons[len(events.reasons)-1] != tc.wantEventLast) {
				t.Errorf("events %v, want the last to be %s", events.reasons, tc.wantEventLast)
			}
			var stored v1alpha1.BillingPlan
			err = kube.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: "gold"}, &stored)
			if tc.wantName == "-" {
				if err == nil {
					t.Errorf("object still exists with finalizers %v", stored.Finalizers)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := v1alpha1.GetExternalName(&stored); got != tc.wantName {
				t.Errorf("external-name %q, want %q", got, tc.wantName)
			}
			if synced := meta.FindStatusCondition(stored.Status.Conditions, v1alpha1.ConditionSynced); synced == nil || synced.Reason != tc.wantSynced {
				t.Errorf("Synced %+v, want reason %s", synced, tc.wantSynced)
			}
			if tc.wantReady != "" {
				if ready := meta.FindStatusCondition(stored.Status.Conditions, v1alpha1.ConditionReady); ready == nil || ready.Status != tc.wantReady {
					t.Errorf("Ready %+v, want %s", ready, tc.wantReady)
				}
			}
		})
	}
}

// Pins: a pass that changes nothing writes no status (no watch event, no requeue storm).
func TestUnchangedStatusIsNotWritten(t *testing.T) {
	plan := planObject(func(p *v1alpha1.BillingPlan) {
		p.Annotations = map[string]string{v1alpha1.AnnotationExternalName: "prod_1"}
	})
	statusWrites := 0
	kube := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(append(readyConnection(), plan)...).
		WithStatusSubresource(&v1alpha1.BillingPlan{}, &v1alpha1.StripeConnection{}).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			statusWrites++
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		}}).Build()
	external := &fakeExternal{kube: kube, observation: Observation{Exists: true, UpToDate: true}}
	r := NewReconciler(kube, stripeconn.NewResolver(kube, stripeapi.NewPool(nil, logr.Discard()), []string{"ops"}, nil), &recorder{}, Options{
		Kind: planKind(), Connecter: fakeConnecter{external: external},
	})
	request := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "team", Name: "gold"}}
	for pass := 1; pass <= 3; pass++ {
		if _, err := r.Reconcile(context.Background(), request); err != nil {
			t.Fatal(err)
		}
	}
	if statusWrites != 1 {
		t.Errorf("%d status writes over 3 identical passes, want 1", statusWrites)
	}
}

// Pins the error classes: which errors retry with backoff, which requeue quietly, which stop.
func TestClassify(t *testing.T) {
	cases := map[string]struct {
		err        error
		wantReason string
		wantRetry  bool
	}{
		// The shared budget paces rate limits: the object requeues soon, without escalating.
		"429 rate_limit":   {err: &stripeapi.Error{Class: stripeapi.ClassRetryable, HTTPStatus: 429, Code: "rate_limit"}, wantReason: v1alpha1.ReasonReconcileError},
		"429 lock_timeout": {err: &stripeapi.Error{Class: stripeapi.ClassRetryable, HTTPStatus: 429, Code: "lock_timeout"}, wantReason: v1alpha1.ReasonReconcileError, wantRetry: true},
		"500":              {err: &stripeapi.Error{Class: stripeapi.ClassRetryable, HTTPStatus: 500}, wantReason: v1alpha1.ReasonReconcileError, wantRetry: true},
		"network":          {err: errors.New("connection reset"), wantReason: v1alpha1.ReasonReconcileError, wantRetry: true},
		"invalid request":  {err: &stripeapi.Error{Class: stripeapi.ClassTerminal, HTTPStatus: 400}, wantReason: v1alpha1.ReasonTerminal},
		"401":              {err: &stripeapi.Error{Class: stripeapi.ClassAuth, HTTPStatus: 401}, wantReason: v1alpha1.ReasonConnectionNotReady},
		"dependency":       {err: WaitingFor("tenant"), wantReason: v1alpha1.ReasonWaitingForDependency},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := classify(tc.err)
			if got.reason != tc.wantReason || got.retry != tc.wantRetry {
				t.Errorf("classify = %+v, want reason %s retry %v", got, tc.wantReason, tc.wantRetry)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
