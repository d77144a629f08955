package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudip/stripe-operator/internal/testenv"
)

// demoKey is the API key the demo's Secret holds (config/samples/local/01-key-secret.yaml); the
// emulator takes any sk_test_ key.
const demoKey = "sk_test_cloudip_demo"

// eventDemo shows Stripe's events reaching the operator: a product renamed in the emulator's Dashboard
// is renamed back through the product.updated event the emulator delivers to the relay, whose id the
// operator names in its Kubernetes event. Nothing polls: the plan's resync is 10 hours away.
type eventDemo struct {
	emulatorBase string // http://127.0.0.1:12111
	namespace    string
	plan         string
	timeout      time.Duration
}

func demoDashboardEdit(ctx context.Context, env *testenv.Env, d eventDemo) error {
	step("the webhook endpoints the operator made for the connection (spec.webhooks), delivering to the relay")
	if err := kubectl(ctx, env, "wait", "--for=condition=Ready", "stripewebhookendpoints", "--all", "-n", d.namespace, "--timeout="+seconds(d.timeout)); err != nil {
		_ = kubectl(ctx, env, "describe", "stripewebhookendpoints", "-n", d.namespace) // what they are waiting for
		return err
	}
	if err := kubectl(ctx, env, "get", "stripewebhookendpoints", "-n", d.namespace); err != nil {
		return err
	}
	productID, err := kubectlOutput(ctx, env, "get", "billingplan", d.plan, "-n", d.namespace, "-o", "jsonpath={.status.productID}")
	if err != nil {
		return err
	}
	want, err := d.productName(ctx, productID)
	if err != nil {
		return err
	}
	edited := want + " (renamed in the Dashboard)"
	step(fmt.Sprintf("a person renames product %s in the Stripe Dashboard (the emulator's): %q -> %q", productID, want, edited))
	if err := d.dashboardEdit(ctx, productID, map[string]any{"name": edited}); err != nil {
		return err
	}
	start := time.Now()
	for {
		name, err := d.productName(ctx, productID)
		if err != nil {
			return err
		}
		if name == want {
			break
		}
		if time.Since(start) > d.timeout {
			return fmt.Errorf("product %s still named %q after %s", productID, name, d.timeout)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Printf("  renamed back to %q %.1f s later: Stripe's product.updated event -> relay (verified, stored) -> operator's feed -> BillingPlan %s/%s reconciled\n",
		want, time.Since(start).Seconds(), d.namespace, d.plan)
	step("kubectl get events -n " + d.namespace + " --field-selector reason=StripeEvent (the Stripe event's id in the operator's event)")
	return kubectl(ctx, env, "get", "events", "-n", d.namespace, "--field-selector", "reason=StripeEvent", "-o", "custom-columns=OBJECT:.involvedObject.name,REASON:.reason,MESSAGE:.message")
}

func (d eventDemo) productName(ctx context.Context, id string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.emulatorBase+"/v1/products/"+id, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+demoKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("read product %s: %w", id, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var product struct {
		Name string `json:"name"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("read product %s: %s", id, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&product); err != nil {
		return "", fmt.Errorf("read product %s: %w", id, err)
	}
	return product.Name, nil
}

// dashboardEdit is the emulator's POST /_emulator/dashboard: the object's update endpoint, as the
// Dashboard calls it (no idempotency key), emitting the same event.
func (d eventDemo) dashboardEdit(ctx context.Context, id string, params map[string]any) error {
	return postJSON(ctx, d.emulatorBase+"/_emulator/dashboard", map[string]any{"id": id, "params": params})
}
