package managed

import (
	"context"
	"errors"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// secretExternal is a fake adapter whose Create returns a secret, like a webhook endpoint's.
type secretExternal struct {
	fakeExternal
	createIDs []string // per create call
	creates   int
	replaced  []string
}

func (f *secretExternal) Create(context.Context, Object) (Created, error) {
	f.calls = append(f.calls, "create")
	id := f.createIDs[min(f.creates, len(f.createIDs)-1)]
	f.creates++
	return Created{ID: id, Secret: map[string][]byte{"signingSecret": []byte("whsec_" + id)}, SecretName: "hook-secret"}, nil
}

func (f *secretExternal) DeleteReplaced(_ context.Context, _ Object, id string) error {
	f.replaced = append(f.replaced, id)
	return nil
}

type secretConnecter struct{ external *secretExternal }

func (c secretConnecter) Connect(context.Context, Object, *Pass) (ExternalClient, error) {
	return c.external, nil
}

// Pins the contract's secrets: what Stripe shows once is in its Secret before the create is recorded
// as done; a lost Secret write leaves the create pending (and is repeated, with the same key); an
// object a lost create made is never adopted, and is deleted once a repeat made another.
func TestSecretOnCreate(t *testing.T) {
	cases := map[string]struct {
		pending      bool   // the object starts with the create-pending marker
		foundByTags  string // what Observe finds by tags
		createIDs    []string
		failApply    bool
		wantName     string
		wantReplaced []string
		wantErr      bool
		wantEvent    string
	}{
		"a new object: the Secret is written before the id": {
			createIDs: []string{"we_1"}, wantName: "we_1", wantEvent: EventCreated,
		},
		"the Secret write fails: the id is not recorded, the create stays pending": {
			createIDs: []string{"we_1"}, failApply: true, wantName: CreatePending, wantErr: true,
		},
		"pending, found by tags, the repeat returns it (within 24 h): recorded, nothing deleted": {
			pending: true, foundByTags: "we_1", createIDs: []string{"we_1"}, wantName: "we_1", wantEvent: EventCreated,
		},
		"pending, found by tags, the repeat makes another (past 24 h): the lost one is deleted": {
			pending: true, foundByTags: "we_old", createIDs: []string{"we_new"}, wantName: "we_new", wantReplaced: []string{"we_old"}, wantEvent: EventReplaced,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			plan := planObject(nil)
			if tc.pending {
				plan.Annotations = map[string]string{v1alpha1.AnnotationExternalName: CreatePending}
				plan.Finalizers = []string{v1alpha1.Finalizer}
			}
			secretAtIDWrite := false
			kube := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(append(readyConnection(), plan)...).
				WithStatusSubresource(&v1alpha1.BillingPlan{}, &v1alpha1.StripeConnection{}).
				WithInterceptorFuncs(interceptor.Funcs{
					Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
						if tc.failApply {
							return errors.New("the API server is unavailable")
						}
						return c.Apply(ctx, obj, opts...)
					},
					Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
						if id := v1alpha1.GetExternalName(obj); id != "" && id != CreatePending {
							var secret corev1.Secret
							secretAtIDWrite = c.Get(ctx, types.NamespacedName{Namespace: "team", Name: "hook-secret"}, &secret) == nil &&
								string(secret.Data["signingSecret"]) == "whsec_"+id
						}
						return c.Patch(ctx, obj, patch, opts...)
					},
				}).Build()
			external := &secretExternal{fakeExternal: fakeExternal{kube: kube, observation: Observation{Exists: tc.foundByTags != "", UpToDate: true, ExternalID: tc.foundByTags}}, createIDs: tc.createIDs}
			events := &recorder{}
			r := NewReconciler(kube, stripeconn.NewResolver(kube, stripeapi.NewPool(nil, logr.Discard()), []string{"ops"}, nil), events, Options{
				Kind: planKind(), Connecter: secretConnecter{external: external},
			})
			_, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: planKey})
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want one: %v", err, tc.wantErr)
			}
			var stored v1alpha1.BillingPlan
			if err := kube.Get(context.Background(), planKey, &stored); err != nil {
				t.Fatal(err)
			}
			if got := v1alpha1.GetExternalName(&stored); got != tc.wantName {
				t.Errorf("external-name %q, want %q", got, tc.wantName)
			}
			if tc.wantName != CreatePending && !secretAtIDWrite {
				t.Error("the id was recorded before its secret was in the Secret")
			}
			if !equalStrings(external.replaced, tc.wantReplaced) {
				t.Errorf("replaced %v, want %v", external.replaced, tc.wantReplaced)
			}
			if tc.wantEvent != "" && !contains(events.reasons, tc.wantEvent) {
				t.Errorf("events %v, want %s", events.reasons, tc.wantEvent)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}
