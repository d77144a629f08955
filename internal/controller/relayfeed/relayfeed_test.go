package relayfeed

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/webhookrelay/feed"
)

// TestOwners pins how an event finds its owner (a unit test on the fake client; the end-to-end proof
// is test/e2e): by the object's tags when they name a live object with the same UID, else by the
// connected account or the customer of a tenant; nothing for a name reused by a new object, for an
// unknown kind, or for an event about nothing the operator has.
func TestOwners(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	plan := &v1alpha1.BillingPlan{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "gold", UID: "uid-plan"}}
	tenant := &v1alpha1.StripeTenant{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "acme", UID: "uid-tenant"},
		Status: v1alpha1.StripeTenantStatus{AccountID: "acct_1", CustomerID: "cus_1"}}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(plan, tenant).
		WithIndex(&v1alpha1.StripeTenant{}, AccountIDIndex, func(o client.Object) []string { return []string{o.(*v1alpha1.StripeTenant).Status.AccountID} }).
		WithIndex(&v1alpha1.StripeTenant{}, CustomerIDIndex, func(o client.Object) []string { return []string{o.(*v1alpha1.StripeTenant).Status.CustomerID} }).
		Build()
	kinds := []managed.Kind{
		{Name: "BillingPlan", New: func() managed.Object { return &v1alpha1.BillingPlan{} }},
		{Name: "StripeTenant", New: func() managed.Object { return &v1alpha1.StripeTenant{} }},
	}
	m := NewMapper(kube, managed.NewNudges("BillingPlan", "StripeTenant"), kinds...)
	cases := []struct {
		name string
		n    feed.Notification
		want string
	}{
		{"tags of a live plan", feed.Notification{ObjectType: "product", OwnerKind: "BillingPlan", OwnerName: "team-a/gold", OwnerUID: "uid-plan"}, "[{BillingPlan team-a/gold}]"},
		{"tags naming a plan since recreated", feed.Notification{ObjectType: "product", OwnerKind: "BillingPlan", OwnerName: "team-a/gold", OwnerUID: "uid-old"}, "[]"},
		{"tags of a kind this manager does not run", feed.Notification{ObjectType: "product", OwnerKind: "Gadget", OwnerName: "team-a/gold"}, "[]"},
		{"a connected account's event", feed.Notification{ObjectType: "capability", Account: "acct_1"}, "[{StripeTenant team-b/acme}]"},
		{"the account object itself, no tags", feed.Notification{ObjectType: "account", ObjectID: "acct_1"}, "[{StripeTenant team-b/acme}]"},
		{"an invoice of the tenant's customer", feed.Notification{ObjectType: "invoice", Customer: "cus_1"}, "[{StripeTenant team-b/acme}]"},
		{"an account no tenant has", feed.Notification{ObjectType: "account", ObjectID: "acct_other"}, "[]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			owners, err := m.Owners(context.Background(), tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(owners); got != tc.want {
				t.Fatalf("owners %s, want %s", got, tc.want)
			}
		})
	}
}
