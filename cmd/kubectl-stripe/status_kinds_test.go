package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
)

// Pins `kubectl stripe status` of every kind against the real operator: a plan shows its product
// and price ids, a connection its platform account and key's Secret, an endpoint its Stripe id and
// signing Secret, a sink the relay's counts (its dead letters get the replay command), a tenant on a
// connection that does not exist says so, a tenant whose spec cannot work says Terminal with what
// to fix; unknown objects and kinds are errors.
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
	controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionReady, metav1.ConditionTrue, "")
	controllertest.WaitForCondition(t, env.Client, endpoint, v1alpha1.ConditionReady, metav1.ConditionTrue, "")
	controllertest.WaitForCondition(t, env.Client, typo, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonTerminal)
	controllertest.WaitForCondition(t, env.Client, orphan, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonConnectionNotReady)
	priceID := plan.Status.Prices[0].ID

	for _, c := range []struct {
		name    string
		args    []string
		lines   []string
		next    string
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
			if got := nextLine(t, out); !strings.HasPrefix(got, c.next) {
				t.Errorf("next line:\n got %s\nwant %s…", got, c.next)
			}
		})
	}
}
