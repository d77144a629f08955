package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
)

// Pins `kubectl stripe status` of every kind against the real operator: a plan shows its product
// and price ids, a connection its platform account and key's Secret, an endpoint its Stripe id and
// signing Secret, a sink the relay's counts (its dead letters get the replay command), a mirror the
// relay's cursor, rows per table, backfill and revalidation (the Secret of its database URL by name,
// never the URL), a tenant on a connection that does not exist says so, a tenant whose spec cannot
// work says Terminal with what to fix; unknown objects and kinds are errors.
func TestStatusOfEachKind(t *testing.T) {
	r := controllertest.NewRig(t, env, controllertest.RigOptions{})
	ctx := context.Background()
	plan := r.Plan("pro", controllertest.Monthly("monthly", 2900))
	r.Create(plan)
	typo := r.Tenant("typo")
	typo.Spec.BillingEmail = "billing@typo.example"
	typo.Spec.Subscription = &v1alpha1.TenantSubscription{PlanRef: v1alpha1.LocalObjectReference{Name: "pro"}, PriceKey: "yearly"}
	r.Create(typo)
	missing := "missing-" + r.NS
	orphan := r.Tenant("orphan")
	orphan.Spec.ConnectionRef.Name = missing
	r.Create(orphan)
	endpoint := &v1alpha1.StripeWebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "hooks"},
		Spec: v1alpha1.StripeWebhookEndpointSpec{
			ManagedSpec:   v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: r.Connection}},
			URL:           "https://relay.cloudip.example/stripe/hooks",
			EnabledEvents: []string{"account.updated", "invoice.paid"},
		},
	}
	r.Create(endpoint)
	sink := &v1alpha1.StripeEventSink{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "orders"},
		Spec: v1alpha1.StripeEventSinkSpec{
			ManagedSpec:      v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: r.Connection}},
			URL:              "https://ledger.cloudip.example/stripe",
			Region:           v1alpha1.RegionUS,
			SigningSecretRef: v1alpha1.LocalSecretKeySelector{Name: "orders-signing", Key: "secret"},
		},
	}
	r.Create(sink)
	// What the relay writes of a sink whose receiver gave up on three events.
	sink.Status = v1alpha1.StripeEventSinkStatus{Delivered: 5, DeadLettered: 3, ManagedStatus: v1alpha1.ManagedStatus{ObservedGeneration: sink.Generation,
		Conditions: []metav1.Condition{{Type: "Ready", Status: "True", Reason: v1alpha1.ReasonDelivering, Message: "5 delivered, 0 pending, 3 dead letters", ObservedGeneration: sink.Generation, LastTransitionTime: metav1.Now()}}}}
	if err := env.Client.Status().Update(ctx, sink); err != nil {
		t.Fatal(err)
	}
	// Mirrors, their status set as the relay writes it (no relay or PostgreSQL runs): one healthy, one
	// still backfilling, one whose database cannot be reached. Their URL's Secret must not be printed.
	const databaseURL = "postgres://mirror:hunter2@db.cloudip.example:5432/reporting?sslmode=require"
	r.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "reporting-db"}, StringData: map[string]string{"url": databaseURL}})
	at := metav1.NewTime(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
	mirror := func(name string, types []v1alpha1.MirrorObjectType, status v1alpha1.StripeMirrorStatus) {
		m := &v1alpha1.StripeMirror{
			ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: name},
			Spec: v1alpha1.StripeMirrorSpec{
				ConnectionRef: v1alpha1.ConnectionReference{Name: r.Connection}, Region: v1alpha1.RegionUS, ObjectTypes: types,
				Database: v1alpha1.MirrorDatabase{URLSecretRef: v1alpha1.LocalSecretKeySelector{Name: "reporting-db", Key: "url"}, Schema: strings.ReplaceAll(name, "-", "_")},
			},
		}
		r.Create(m)
		m.Status = status
		m.Status.ObservedGeneration = m.Generation
		for i := range m.Status.Conditions {
			m.Status.Conditions[i].ObservedGeneration, m.Status.Conditions[i].LastTransitionTime = m.Generation, at
		}
		if err := env.Client.Status().Update(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	mirror("reporting", []v1alpha1.MirrorObjectType{v1alpha1.MirrorInvoice, v1alpha1.MirrorCustomer, v1alpha1.MirrorCharge}, v1alpha1.StripeMirrorStatus{
		ManagedStatus: v1alpha1.ManagedStatus{Conditions: []metav1.Condition{
			condition("Ready", "True", v1alpha1.ReasonMirroring, "events applied up to seq 4812, lag 2s; 5120 rows"),
			condition("BackfillComplete", "True", v1alpha1.ReasonBackfilled, "3 accounts listed from Stripe: 5000 rows in 60 pages"),
		}},
		AppliedSeq: 4812, LagSeconds: 2, LastAppliedAt: &at, Rows: 5120,
		Tables: []v1alpha1.MirrorTableStatus{{ObjectType: v1alpha1.MirrorCustomer, Rows: 120}, {ObjectType: v1alpha1.MirrorInvoice, Rows: 2000},
			{ObjectType: v1alpha1.MirrorCharge, Rows: 3000}},
		Backfill:     v1alpha1.MirrorBackfillStatus{Accounts: 3, AccountsComplete: 3, Listings: 9, ListingsTotal: 9, Pages: 60, Rows: 5000, CompletedAt: &at},
		Revalidation: v1alpha1.MirrorRevalidationStatus{LastAt: &at, Checked: 100, Repaired: 2, RepairedTotal: 7},
	})
	mirror("catching-up", nil, v1alpha1.StripeMirrorStatus{
		ManagedStatus: v1alpha1.ManagedStatus{Conditions: []metav1.Condition{
			condition("Ready", "True", v1alpha1.ReasonMirroring, "events applied up to seq 12, lag 0s; 400 rows"),
			condition("BackfillComplete", "False", v1alpha1.ReasonBackfilling, "4 of 30 listings complete (1 of 3 accounts), 400 rows so far"),
		}},
		AppliedSeq: 12, Rows: 400,
		Backfill: v1alpha1.MirrorBackfillStatus{Accounts: 3, AccountsComplete: 1, Listings: 4, ListingsTotal: 30, Pages: 4, Rows: 400},
	})
	mirror("unreachable", nil, v1alpha1.StripeMirrorStatus{ManagedStatus: v1alpha1.ManagedStatus{Conditions: []metav1.Condition{
		condition("Ready", "False", v1alpha1.ReasonDatabaseUnavailable, "dial tcp 10.0.0.5:5432: connect: connection refused"),
		condition("BackfillComplete", "False", v1alpha1.ReasonBackfilling, "waiting for the database"),
	}}})
	controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionReady, metav1.ConditionTrue, "")
	controllertest.WaitForCondition(t, env.Client, endpoint, v1alpha1.ConditionReady, metav1.ConditionTrue, "")
	controllertest.WaitForCondition(t, env.Client, typo, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonTerminal)
	controllertest.WaitForCondition(t, env.Client, orphan, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonConnectionNotReady)
	priceID := plan.Status.Prices[0].ID

	for _, c := range []struct {
		name  string
		args  []string
		lines []string
		next  string
		// absent are what no line may hold.
		absent  []string
		wantErr string
	}{
		{
			name: "plan: product and prices", args: []string{"status", "plan/pro", "-n", r.NS},
			lines: []string{
				cols("├─ Ready", "True", "Available"),
				regexp.QuoteMeta(fmt.Sprintf("├─ Product %s: \"Plan pro\" on the platform account", plan.Status.ProductID)),
				regexp.QuoteMeta(fmt.Sprintf("│  └─ Price monthly: %s, active", priceID)),
				cols("└─ StripeConnection/"+r.Connection, "True", "Available"),
			},
			next: "next: nothing to do: ",
		},
		{
			name: "connection: the platform account and its key", args: []string{"status", "connection/" + r.Connection},
			lines: []string{
				"^StripeConnection/" + regexp.QuoteMeta(r.Connection) + "$",
				`├─ Account acct_\w+: platform account, test mode, region us`,
				regexp.QuoteMeta(fmt.Sprintf("API key: Secret %s/%s-key, key apiKey (test mode)", controllertest.SecretNamespace, r.Connection)),
			},
			next: "next: nothing to do: the key works for Stripe account",
		},
		{
			name: "endpoint: its id and signing Secret", args: []string{"status", "endpoint/hooks", "-n", r.NS},
			lines: []string{
				`├─ Endpoint we_\w+: https://relay.cloudip.example/stripe/hooks, 2 event types, the platform's events`,
				regexp.QuoteMeta("│  └─ Signing secret: Secret hooks-signing-secret, key signingSecret"),
			},
			next: "next: nothing to do: ",
		},
		{
			name: "sink: the relay's counts; dead letters to replay", args: []string{"status", "sink/orders", "-n", r.NS},
			lines: []string{
				cols("├─ Ready", "True", "Delivering", "5 delivered, 0 pending, 3 dead letters"),
				regexp.QuoteMeta("├─ Receiver: https://ledger.cloudip.example/stripe, region us, format events, every event"),
				regexp.QuoteMeta("├─ Deliveries: 5 delivered, 0 pending, 0 retrying, 3 dead letters"),
				regexp.QuoteMeta("├─ Signing secret: Secret orders-signing, key secret"),
			},
			next: fmt.Sprintf("next: 3 dead letters: once the receiver takes them, replay them with `kubectl stripe replay sink/orders -n %s --from 720h` (the last 30 days)", r.NS),
		},
		{
			name: "mirror: cursor, rows per table, backfill, revalidation", args: []string{"status", "mirror/reporting", "-n", r.NS},
			lines: []string{
				"^StripeMirror/reporting: namespace " + regexp.QuoteMeta(r.NS) + "$",
				cols("├─ Ready", "True", "Mirroring", "events applied up to seq 4812, lag 2s; 5120 rows"),
				cols("├─ BackfillComplete", "True", "Backfilled", "3 accounts listed from Stripe: 5000 rows in 60 pages"),
				regexp.QuoteMeta("├─ Database: schema reporting, region us, customer, invoice, charge"),
				regexp.QuoteMeta("│  └─ URL: Secret reporting-db, key url"),
				regexp.QuoteMeta("├─ Cursor: seq 4812, lag 2s"),
				regexp.QuoteMeta("│  └─ last applied: 2026-05-04T10:00:00Z"),
				regexp.QuoteMeta("├─ Rows: 5120 in 3 tables"),
				regexp.QuoteMeta("│  ├─ customers: 120"), regexp.QuoteMeta("│  ├─ invoices: 2000"), regexp.QuoteMeta("│  └─ charges: 3000"),
				regexp.QuoteMeta("├─ Backfill: 9 of 9 listings complete (3 of 3 accounts), 60 pages, 5000 rows"),
				regexp.QuoteMeta("│  └─ completed: 2026-05-04T10:00:00Z"),
				regexp.QuoteMeta("├─ Revalidation: every 1h, 100 rows a pass"),
				regexp.QuoteMeta("│  └─ last pass 2026-05-04T10:00:00Z: 100 checked, 2 repaired (7 since the mirror was created)"),
				cols("└─ StripeConnection/"+r.Connection, "True", "Available"),
			},
			next:   "next: nothing to do: events applied up to seq 4812, lag 2s; 5120 rows",
			absent: []string{databaseURL, "hunter2"},
		},
		{
			name: "mirror backfilling: wait for BackfillComplete", args: []string{"status", "smirror/catching-up", "-n", r.NS},
			lines: []string{
				cols("├─ BackfillComplete", "False", "Backfilling", "4 of 30 listings complete (1 of 3 accounts), 400 rows so far"),
				regexp.QuoteMeta("├─ Database: schema catching_up, region us, every object type"),
				regexp.QuoteMeta("├─ Cursor: seq 12, lag 0s (caught up)"),
				regexp.QuoteMeta("├─ Rows: 400"),
				regexp.QuoteMeta("├─ Backfill: 4 of 30 listings complete (1 of 3 accounts), 4 pages, 400 rows"),
				regexp.QuoteMeta("│  └─ last pass: none yet"),
			},
			next: fmt.Sprintf("next: backfilling (4 of 30 listings complete (1 of 3 accounts), 400 rows so far): nothing to do but wait "+
				"(`kubectl wait -n %s --for=condition=BackfillComplete smirror/catching-up`)", r.NS),
		},
		{
			name: "mirror whose database is unreachable: its Secret, not its URL", args: []string{"status", "stripemirrors/unreachable", "-n", r.NS, "-o", "wide"},
			lines: []string{
				cols("├─ Ready", "False", "DatabaseUnavailable", "dial tcp 10.0.0.5:5432: connect: connection refused"),
				regexp.QuoteMeta("│  └─ URL: Secret reporting-db, key url"),
				regexp.QuoteMeta("├─ Cursor: no event applied yet"),
				regexp.QuoteMeta("├─ Backfill: not started"),
			},
			next: "next: database unavailable: dial tcp 10.0.0.5:5432: connect: connection refused; check that key url of Secret reporting-db " +
				"(spec.database.urlSecretRef) holds a working URL and that the relay can reach the database",
			absent: []string{databaseURL, "hunter2"},
		},
		{name: "no such mirror", args: []string{"status", "mirror/nobody", "-n", r.NS}, wantErr: `StripeMirror "nobody" not found in namespace ` + r.NS},
		{
			name: "tenant on a connection that does not exist", args: []string{"status", "tenant/orphan", "-n", r.NS},
			lines: []string{cols("├─ Synced", "False", "ConnectionNotReady"), cols("└─ StripeConnection/"+missing, "Missing", "NotFound", "no such StripeConnection")},
			next:  fmt.Sprintf("next: connection not Ready: StripeConnection/%s does not exist: create it, or fix spec.connectionRef", missing),
		},
		{
			name: "tenant whose price key the plan lacks: Terminal", args: []string{"status", "tenant/typo", "-n", r.NS},
			lines: []string{
				cols("├─ Synced", "False", "Terminal"),
				cols("BillingPlan/pro", "True", "Available"), regexp.QuoteMeta("price key yearly: no such price in the plan's status (its keys: monthly)"),
			},
			next: `next: Terminal: fix the spec (nothing is retried until it changes): BillingPlan "pro" has no price key "yearly"`,
		},
		{name: "no such tenant", args: []string{"status", "tenant/nobody", "-n", r.NS}, wantErr: `StripeTenant "nobody" not found in namespace ` + r.NS},
		{name: "not a kind of ours", args: []string{"status", "pod/x"}, wantErr: `unknown kind "pod"`},
		{name: "bad output", args: []string{"status", "plan/pro", "-n", r.NS, "-o", "yaml"}, wantErr: `--output "yaml": want text, wide or json`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := plugin(t, c.args...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("kubectl stripe %s\n%s", strings.Join(c.args, " "), out)
			matchLines(t, out, c.lines...)
			for _, a := range c.absent {
				if strings.Contains(out, a) {
					t.Errorf("the output holds %q:\n%s", a, out)
				}
			}
			if got := nextLine(t, out); !strings.HasPrefix(got, c.next) {
				t.Errorf("next line:\n got %s\nwant %s…", got, c.next)
			}
		})
	}
}
