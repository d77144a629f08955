package testenv

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/cloudip/stripe-operator/api/v1alpha1"
)

// TestServiceAccountIdentities pins what the RBAC proof stands on: after InstallRBAC, a client made
// with As is authorized as the ServiceAccount by the install's roles, so what they grant works and
// anything else is Forbidden (were As not impersonating, the admin would be allowed everything).
func TestServiceAccountIdentities(t *testing.T) {
	e := New(t, Options{})
	ctx := context.Background()
	if err := e.InstallRBAC(ctx); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name           string
		serviceAccount string
		list           client.ObjectList
		namespace      string
		allowed        bool
	}{
		{"the manager lists connections", ManagerServiceAccount, &paymentsv1alpha1.StripeConnectionList{}, "", true},
		{"the manager reads Secrets of the install namespace", ManagerServiceAccount, &corev1.SecretList{}, InstallNamespace, true},
		{"the manager may not list pods", ManagerServiceAccount, &corev1.PodList{}, "default", false},
		{"the relay lists sinks", RelayServiceAccount, &paymentsv1alpha1.StripeEventSinkList{}, "", true},
		{"the relay lists mirrors", RelayServiceAccount, &paymentsv1alpha1.StripeMirrorList{}, "", true},
		{"the relay may not list config maps", RelayServiceAccount, &corev1.ConfigMapList{}, "default", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(e.As(InstallNamespace, tc.serviceAccount), client.Options{Scheme: e.Scheme})
			if err != nil {
				t.Fatal(err)
			}
			err = c.List(ctx, tc.list, client.InNamespace(tc.namespace))
			if tc.allowed && err != nil {
				t.Fatalf("want allowed, got %v", err)
			}
			if !tc.allowed && !apierrors.IsForbidden(err) {
				t.Fatalf("want Forbidden, got %v", err)
			}
		})
	}
}

// TestUserRolesAggregate pins the install's roles for people: bound to Kubernetes' own edit, view or
// admin ClusterRole in a namespace, a user gets the payments kinds through aggregation (edit: change
// tenants; view: read them, mirrors included; replays and mirrors: admin only). envtest runs no controller manager, so the test
// does what its ClusterRole aggregation controller does: each aggregated role's rules become the union
// of the rules of the ClusterRoles its selectors match.
func TestUserRolesAggregate(t *testing.T) {
	e := New(t, Options{})
	ctx := context.Background()
	if err := e.InstallRBAC(ctx); err != nil {
		t.Fatal(err)
	}
	aggregateClusterRoles(t, e, "view", "edit", "admin") // in this order: admin aggregates edit, which aggregates view
	ns, err := e.CreateNamespace(ctx, "users-", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"admin", "edit", "view"} {
		binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: role},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: role + "-user"}}}
		if err := e.Client.Create(ctx, binding); err != nil {
			t.Fatal(err)
		}
	}
	object := func(kind string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": paymentsv1alpha1.GroupVersion.String(), "kind": kind,
			"metadata": map[string]any{"namespace": ns, "generateName": "x-"}, "spec": spec,
		}}
	}
	tenant := map[string]any{"connectionRef": map[string]any{"name": "stripe"}, "dataResidency": "us",
		"account": map[string]any{"type": "express", "country": "US", "email": "a@example.com", "businessType": "company"}}
	replay := map[string]any{"sinkRef": map[string]any{"name": "gl"}, "eventIDs": []any{"evt_1"}}
	mirror := map[string]any{"connectionRef": map[string]any{"name": "stripe"}, "region": "us",
		"database": map[string]any{"urlSecretRef": map[string]any{"name": "mirror-db", "key": "url"}, "schema": "stripe_us"}}
	cases := []struct {
		user    string
		kind    string
		spec    map[string]any
		allowed bool
	}{
		{"edit-user", "StripeTenant", tenant, true},
		{"view-user", "StripeTenant", tenant, false},
		{"admin-user", "StripeEventReplay", replay, true},
		{"edit-user", "StripeEventReplay", replay, false},
		{"admin-user", "StripeMirror", mirror, true},
		{"edit-user", "StripeMirror", mirror, false},
		{"view-user", "StripeMirror", mirror, false},
	}
	for _, tc := range cases {
		obj := object(tc.kind, tc.spec)
		t.Run(tc.user+" creates a "+tc.kind, func(t *testing.T) {
			cfg := rest.CopyConfig(e.Config)
			cfg.Impersonate = rest.ImpersonationConfig{UserName: tc.user, Groups: []string{"system:authenticated"}}
			c, err := client.New(cfg, client.Options{Scheme: e.Scheme})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Create(ctx, obj)
			if tc.allowed && err != nil {
				t.Fatalf("want allowed, got %v", err)
			}
			if !tc.allowed && !apierrors.IsForbidden(err) {
				t.Fatalf("want Forbidden, got %v", err)
			}
			if err := c.List(ctx, &paymentsv1alpha1.StripeTenantList{}, client.InNamespace(ns)); err != nil {
				t.Fatalf("%s cannot list tenants: %v", tc.user, err)
			}
			if err := c.List(ctx, &paymentsv1alpha1.StripeMirrorList{}, client.InNamespace(ns)); err != nil {
				t.Fatalf("%s cannot list mirrors: %v", tc.user, err)
			}
		})
	}
}

// aggregateClusterRoles does what the ClusterRole aggregation controller does for the named roles.
func aggregateClusterRoles(t *testing.T, e *Env, names ...string) {
	t.Helper()
	ctx := context.Background()
	for _, name := range names {
		// Listed again for each role: a role aggregated before (view) is aggregated into the next
		// (edit) with its aggregated rules, as the controller converges to.
		var all rbacv1.ClusterRoleList
		if err := e.Client.List(ctx, &all); err != nil {
			t.Fatal(err)
		}
		var role rbacv1.ClusterRole
		if err := e.Client.Get(ctx, client.ObjectKey{Name: name}, &role); err != nil {
			t.Fatal(err)
		}
		if role.AggregationRule == nil {
			t.Fatalf("ClusterRole %s aggregates nothing", name)
		}
		var rules []rbacv1.PolicyRule
		for _, selector := range role.AggregationRule.ClusterRoleSelectors {
			sel, err := metav1.LabelSelectorAsSelector(&selector)
			if err != nil {
				t.Fatal(err)
			}
			for _, other := range all.Items {
				if other.Name != name && sel.Matches(labels.Set(other.Labels)) {
					rules = append(rules, other.Rules...)
				}
			}
		}
		role.Rules = rules
		if err := e.Client.Update(ctx, &role); err != nil {
			t.Fatal(err)
		}
	}
}
