package controllertest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// Rig is one controller test's world: a namespace, a Stripe emulator over real HTTP, a verified
// StripeConnection and a running manager, on the package's shared control plane.
type Rig struct {
	T          *testing.T
	Env        *testenv.Env
	NS         string
	Emu        *emulator.Server
	Connection string
	Manager    *Manager
	// Stripe reads Stripe (the emulator) the way the operator does, with an ample budget of its own.
	Stripe *stripeapi.Client
}

// RigOptions shape a Rig.
type RigOptions struct {
	Emulator        emulator.Options
	Manager         ManagerOptions
	Connection      ConnectionOptions
	NamespaceLabels map[string]string
}

// NewRig starts a rig for one test; everything it starts is stopped when the test ends.
func NewRig(t *testing.T, env *testenv.Env, o RigOptions) *Rig {
	t.Helper()
	r := &Rig{T: t, Env: env}
	r.NS = Namespace(t, env, o.NamespaceLabels)
	r.Emu = emulator.Start(t, o.Emulator)
	r.Connection = "conn-" + r.NS
	o.Manager.Namespace = r.NS
	r.Manager = StartManager(t, env, o.Manager)
	Connection(t, env.Client, r.Connection, r.Emu.URL, o.Connection)
	var err error
	r.Stripe, err = stripeapi.New(stripeapi.Config{APIKey: "sk_test_reader", BaseURL: r.Emu.URL, Budget: stripeapi.Budget{RequestsPerSecond: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// In returns the rig bound to a subtest's t, so its failures end the subtest, not the parent.
func (r *Rig) In(t *testing.T) *Rig {
	c := *r
	c.T = t
	return &c
}

// RestartManager stops the manager as a crash would and starts a new one, optionally with other options.
func (r *Rig) RestartManager(o ManagerOptions) {
	r.T.Helper()
	if err := r.Manager.Stop(); err != nil {
		r.T.Fatalf("stop manager: %v", err)
	}
	o.Namespace = r.NS
	r.Manager = StartManager(r.T, r.Env, o)
}

// Create creates obj.
func (r *Rig) Create(obj client.Object) {
	r.T.Helper()
	if err := r.Env.Client.Create(context.Background(), obj); err != nil {
		r.T.Fatalf("create %s: %v", obj.GetName(), err)
	}
}

// Update re-reads obj, applies mutate and writes it, retrying on conflicts with the operator's writes.
func (r *Rig) Update(obj client.Object, mutate func()) {
	r.T.Helper()
	Eventually(r.T, 10*time.Second, func() error {
		if err := r.Env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return r.Env.Client.Update(context.Background(), obj)
	})
}

// Get re-reads obj.
func (r *Rig) Get(obj client.Object) {
	r.T.Helper()
	if err := r.Env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		r.T.Fatal(err)
	}
}

// Requests counts the requests the emulator received whose route starts with prefix ("POST /v1/accounts").
func (r *Rig) Requests(prefix string) int64 {
	var n int64
	for route, count := range r.Emu.Stats().Requests {
		if strings.HasPrefix(route, prefix) {
			n += count
		}
	}
	return n
}

// Writes counts the Stripe writes (POST and DELETE) the emulator received.
func (r *Rig) Writes() int64 { return r.Requests("POST ") + r.Requests("DELETE ") }

// NoSpecRefusals checks that Stripe's spec (stripe-mock, in front of the emulator) accepted every
// request the operator made: the emulator answers 400 to what the spec refuses.
func (r *Rig) NoSpecRefusals() {
	r.T.Helper()
	if n := r.Emu.Stats().Responses["400"]; n != 0 {
		r.T.Errorf("the emulator refused %d requests with 400 (spec or Stripe rule)", n)
	}
}

// Plan is a platform BillingPlan on the rig's connection.
func (r *Rig) Plan(name string, prices ...v1alpha1.Price) *v1alpha1.BillingPlan {
	return &v1alpha1.BillingPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: name},
		Spec: v1alpha1.BillingPlanSpec{
			ManagedSpec: v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: r.Connection}},
			Product:     v1alpha1.Product{Name: "Plan " + name, Description: "CloudIP " + name},
			Prices:      prices,
		},
	}
}

// Tenant is an Express StripeTenant (US, card payments, transfers, ACH) on the rig's connection, with
// onboarding URLs.
func (r *Rig) Tenant(name string) *v1alpha1.StripeTenant {
	return &v1alpha1.StripeTenant{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: name},
		Spec: v1alpha1.StripeTenantSpec{
			ManagedSpec:   v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: r.Connection}},
			DataResidency: v1alpha1.RegionUS,
			Account: v1alpha1.TenantAccount{
				Type: v1alpha1.AccountTypeExpress, Country: "US", Email: name + "@tenants.example",
				Capabilities: []v1alpha1.Capability{v1alpha1.CapabilityCardPayments, v1alpha1.CapabilityTransfers, v1alpha1.CapabilityUSBankAccountACHPayments},
			},
			Onboarding: &v1alpha1.Onboarding{ReturnURL: "https://console.cloudip.example/onboarding/done", RefreshURL: "https://console.cloudip.example/onboarding/refresh"},
		},
	}
}

// Monthly is a licensed monthly USD price.
func Monthly(key string, amount int64) v1alpha1.Price {
	return v1alpha1.Price{
		Key: key, Currency: "usd", UnitAmount: ptr.To(amount), Nickname: key,
		Recurring: &v1alpha1.Recurring{Interval: v1alpha1.IntervalMonth},
	}
}

// CrashOnIDWrite returns a client constructor whose client fails, once, the write that records a
// Stripe id in annotation on an object of kind's type (the moment between Stripe's answer to a create
// and our write of its id, where a crash would lose it), and reports it on crashed.
func CrashOnIDWrite(kind client.Object, annotation string, crashed chan<- struct{}) client.NewClientFunc {
	var once sync.Once
	return Intercepted(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if reflect.TypeOf(obj) == reflect.TypeOf(kind) {
				if id := obj.GetAnnotations()[annotation]; id != "" && !strings.HasPrefix(id, managed.CreatePending) {
					fail := false
					once.Do(func() { fail = true })
					if fail {
						close(crashed)
						return errors.New("simulated crash before the id was written")
					}
				}
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	})
}

// Intercepted returns a client constructor for ManagerOptions.NewClient whose client runs funcs in
// front of the real API server: the way a test makes a write of the manager's fail.
func Intercepted(funcs interceptor.Funcs) client.NewClientFunc {
	return func(config *rest.Config, options client.Options) (client.Client, error) {
		c, err := client.NewWithWatch(config, options)
		if err != nil {
			return nil, err
		}
		return interceptor.NewClient(c, funcs), nil
	}
}
