package kube

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/cli"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
)

// TestMirrorSourcesResidency pins which accounts and events a mirror is given: a connection's
// platform account only to the mirror of the connection's region, a tenant's connected account only
// to the mirror of its dataResidency on its own connection, and an event's owner as the sinks'
// routing decides it (an account no tenant claims is undecidable, so it reaches no mirror).
func TestMirrorSourcesResidency(t *testing.T) {
	conn := func(name string, region v1alpha1.Region, account string) *v1alpha1.StripeConnection {
		return &v1alpha1.StripeConnection{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.StripeConnectionSpec{Region: region},
			Status: v1alpha1.StripeConnectionStatus{AccountID: account}}
	}
	tenant := func(ns, name, connection string, region v1alpha1.Region, account string) *v1alpha1.StripeTenant {
		return &v1alpha1.StripeTenant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:   v1alpha1.StripeTenantSpec{ManagedSpec: v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: connection}}, DataResidency: region},
			Status: v1alpha1.StripeTenantStatus{AccountID: account}}
	}
	endpoint := func(ns, name, connection string) *v1alpha1.StripeWebhookEndpoint {
		return &v1alpha1.StripeWebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.StripeWebhookEndpointSpec{ManagedSpec: v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: connection}}}}
	}
	kube := fake.NewClientBuilder().WithScheme(cli.NewScheme()).
		WithIndex(&v1alpha1.StripeTenant{}, TenantAccountIndex, func(o client.Object) []string {
			if id := o.(*v1alpha1.StripeTenant).Status.AccountID; id != "" {
				return []string{id}
			}
			return nil
		}).
		WithObjects(conn("us-platform", v1alpha1.RegionUS, "acct_us_platform"), conn("eu-platform", v1alpha1.RegionEU, "acct_eu_platform"),
			tenant("shop", "us-tenant", "us-platform", v1alpha1.RegionUS, "acct_us_tenant"),
			tenant("shop", "eu-tenant", "eu-platform", v1alpha1.RegionEU, "acct_eu_tenant"),
			tenant("shop", "new-tenant", "eu-platform", v1alpha1.RegionEU, ""), // no account yet
			endpoint("payments", "us-connect", "us-platform"), endpoint("payments", "eu-connect", "eu-platform")).
		Build()
	router, err := NewRouter(kube, nil, prometheus.NewRegistry(), logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	sources := func(connection string, region v1alpha1.Region) *mirrorSources {
		return &mirrorSources{kube: kube, router: router, connection: connection, region: string(region)}
	}
	ctx := context.Background()

	accounts := []struct {
		connection string
		region     v1alpha1.Region
		want       []mirror.Account
	}{
		{"us-platform", v1alpha1.RegionUS, []mirror.Account{{ID: "acct_us_platform", Platform: true}, {ID: "acct_us_tenant", Tenant: "shop/us-tenant"}}},
		{"eu-platform", v1alpha1.RegionEU, []mirror.Account{{ID: "acct_eu_platform", Platform: true}, {ID: "acct_eu_tenant", Tenant: "shop/eu-tenant"}}},
		{"us-platform", v1alpha1.RegionEU, nil}, // a US connection has no EU account
		{"eu-platform", v1alpha1.RegionUS, nil},
	}
	for _, tc := range accounts {
		got, err := sources(tc.connection, tc.region).Accounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Errorf("accounts of the %s mirror of %s = %+v, want %+v", tc.region, tc.connection, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("accounts of the %s mirror of %s = %+v, want %+v", tc.region, tc.connection, got, tc.want)
			}
		}
	}

	owners := []struct {
		endpoint, account string
		want              mirror.EventOwner
		wantErr           string
	}{
		{"payments/eu-connect", "acct_eu_tenant", mirror.EventOwner{Connection: "eu-platform", Tenant: "shop/eu-tenant", Region: "eu", Account: "acct_eu_tenant"}, ""},
		{"payments/us-connect", "acct_us_tenant", mirror.EventOwner{Connection: "us-platform", Tenant: "shop/us-tenant", Region: "us", Account: "acct_us_tenant"}, ""},
		{"payments/us-connect", "", mirror.EventOwner{Connection: "us-platform", Region: "us", Account: "acct_us_platform"}, ""},
		// The EU tenant's account seen through the US connection's endpoint is no tenant of that
		// connection: undecidable, never placed in the US region.
		{"payments/us-connect", "acct_eu_tenant", mirror.EventOwner{}, "no StripeTenant of connection us-platform"},
		{"payments/eu-connect", "acct_unknown", mirror.EventOwner{}, "no StripeTenant"},
		{"payments/gone", "", mirror.EventOwner{}, "endpoint payments/gone"},
	}
	for _, tc := range owners {
		got, err := sources("us-platform", v1alpha1.RegionUS).OwnerOf(ctx, tc.endpoint, tc.account)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got.Region != "" {
				t.Errorf("OwnerOf(%s, %s) = %+v, %v; want no region and an error with %q", tc.endpoint, tc.account, got, err, tc.wantErr)
			}
		case err != nil || got != tc.want:
			t.Errorf("OwnerOf(%s, %s) = %+v, %v; want %+v", tc.endpoint, tc.account, got, err, tc.want)
		}
	}
}

// TestFillMirrorStatus pins the mirror's conditions: Ready while events are applied (False with the
// database's error), BackfillComplete once every listing of every account is complete (True with no
// account at all, False while listing or failing, with the progress).
func TestFillMirrorStatus(t *testing.T) {
	cases := []struct {
		name                    string
		snap                    *mirror.Snapshot
		problem                 string
		wantReady, wantBackfill string
		wantInBackfill          string
	}{
		{"no database", nil, "read Secret shop/db: not found", v1alpha1.ReasonDatabaseUnavailable, v1alpha1.ReasonBackfilling, "waiting"},
		{"backfilling", &mirror.Snapshot{Accounts: 3, AccountsComplete: 1, Listings: 12, ListingsTotal: 30, BackfillRows: 1200},
			"", v1alpha1.ReasonMirroring, v1alpha1.ReasonBackfilling, "12 of 30 listings"},
		{"backfill failing", &mirror.Snapshot{Accounts: 3, Listings: 12, ListingsTotal: 30, Health: mirror.Health{BackfillErr: "429"}},
			"", v1alpha1.ReasonMirroring, v1alpha1.ReasonBackfillFailing, "429"},
		{"backfilled", &mirror.Snapshot{Accounts: 3, AccountsComplete: 3, Listings: 30, ListingsTotal: 30, BackfillRows: 5000, Pages: 60},
			"", v1alpha1.ReasonMirroring, v1alpha1.ReasonBackfilled, "5000 rows in 60 pages"},
		{"no account yet", &mirror.Snapshot{}, "", v1alpha1.ReasonMirroring, v1alpha1.ReasonBackfilled, "0 accounts"},
		{"database failing", &mirror.Snapshot{Listings: 1, ListingsTotal: 1, Health: mirror.Health{DatabaseErr: "connection refused"}},
			"", v1alpha1.ReasonDatabaseUnavailable, v1alpha1.ReasonBackfilled, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &v1alpha1.StripeMirror{}
			m.Generation = 2
			fillMirrorStatus(m, tc.snap, tc.problem)
			ready := meta.FindStatusCondition(m.Status.Conditions, v1alpha1.ConditionReady)
			backfill := meta.FindStatusCondition(m.Status.Conditions, v1alpha1.ConditionBackfillComplete)
			if ready == nil || ready.Reason != tc.wantReady || ready.ObservedGeneration != 2 {
				t.Errorf("Ready = %+v, want reason %s at generation 2", ready, tc.wantReady)
			}
			if backfill == nil || backfill.Reason != tc.wantBackfill || !strings.Contains(backfill.Message, tc.wantInBackfill) {
				t.Errorf("BackfillComplete = %+v, want reason %s with %q", backfill, tc.wantBackfill, tc.wantInBackfill)
			}
			if tc.snap != nil && len(m.Status.Tables) != len(v1alpha1.AllMirrorObjectTypes()) {
				t.Errorf("tables = %v, want one per kept type", m.Status.Tables)
			}
		})
	}
}
