package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// The tenant part of the demo: the sample StripeTenant (config/samples/local/04-stripetenant.yaml)
// walked through onboarding with the commands a person types. Only the tenant's own part, filling in
// Stripe's hosted onboarding, is played by the emulator's control API; the operator is told nothing
// and notices on its own bounded recheck (until the webhook relay lands).

// tenantDemo names the tenant the demo walks through.
type tenantDemo struct {
	namespace, name string
	timeout         time.Duration // each wait
}

func (t tenantDemo) ref() string { return "stripetenant/" + t.name }

// onboarding is what the account holder does in Stripe's hosted onboarding: submit the details, and
// Stripe verifies them.
type onboarding interface {
	submit(ctx context.Context, account string) error
	complete(ctx context.Context, account string) error
	describe() string
}

// inProcess drives the emulator the demo started, through its Go control API.
type inProcess struct{ emu *emulator.Emulator }

func (c inProcess) submit(_ context.Context, account string) error {
	_, err := c.emu.SubmitOnboarding(account)
	return err
}

func (c inProcess) complete(_ context.Context, account string) error {
	_, err := c.emu.CompleteOnboarding(account)
	return err
}

func (inProcess) describe() string {
	return "the emulator's control API: SubmitOnboarding, then CompleteOnboarding"
}

// overHTTP drives an emulator started elsewhere (-external-emulator) through the same operations
// over HTTP: POST /_emulator/accounts/{id}/onboarding {"stage": "submitted" | "complete"}.
type overHTTP struct{ base string }

func (c overHTTP) submit(ctx context.Context, account string) error {
	return c.onboarding(ctx, account, "submitted")
}

func (c overHTTP) complete(ctx context.Context, account string) error {
	return c.onboarding(ctx, account, "complete")
}

func (c overHTTP) describe() string {
	return "the emulator's control API at " + c.base + "/_emulator/accounts/{id}/onboarding: stage submitted, then complete"
}

func (c overHTTP) onboarding(ctx context.Context, account, stage string) error {
	return postJSON(ctx, c.base+"/_emulator/accounts/"+account+"/onboarding", map[string]string{"stage": stage})
}

// postJSON posts body to one of the emulator's control endpoints and wants a 200.
func postJSON(ctx context.Context, url string, body any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, strings.TrimSpace(string(answer)))
	}
	return nil
}

// demoTenant waits for the tenant's objects, shows it mid-onboarding, asks for a link, finishes
// onboarding in the emulator and waits for charges, then shows the tenant and its subscription.
func demoTenant(ctx context.Context, env *testenv.Env, control onboarding, t tenantDemo) error {
	d := tenantSteps{ctx: ctx, env: env, t: t, ns: []string{"-n", t.namespace}, wait: "--timeout=" + seconds(t.timeout)}
	for _, stage := range []func() error{d.midOnboarding, d.link, func() error { return d.finishOnboarding(control) }, d.subscription} {
		if err := stage(); err != nil {
			return err
		}
	}
	return nil
}

// tenantSteps are the stages of the tenant's demo, each what a person would type.
type tenantSteps struct {
	ctx  context.Context
	env  *testenv.Env
	t    tenantDemo
	ns   []string
	wait string
}

func (d tenantSteps) kubectl(args ...string) error {
	return kubectl(d.ctx, d.env, append(d.ns, args...)...)
}

func (d tenantSteps) get(jsonpath string) (string, error) {
	return kubectlOutput(d.ctx, d.env, append(d.ns, "get", d.t.ref(), "-o", "jsonpath="+jsonpath)...)
}

func conditionMessage(conditionType string) string {
	return fmt.Sprintf(`{.status.conditions[?(@.type=="%s")].message}`, conditionType)
}

// midOnboarding waits for the tenant's Stripe objects and describes it: what is due, how to get a link.
func (d tenantSteps) midOnboarding() error {
	step(fmt.Sprintf("kubectl wait -n %s --for=condition=Synced %s %s (its account, customer and subscription are created)", d.t.namespace, d.t.ref(), d.wait))
	if err := d.kubectl("wait", "--for=condition=Synced", d.t.ref(), d.wait); err != nil {
		return err
	}
	step(fmt.Sprintf("kubectl describe -n %s %s (mid-onboarding: what is due, and how to get a link)", d.t.namespace, d.t.ref()))
	return d.kubectl("describe", d.t.ref())
}

// link asks for an onboarding link with the annotation and shows where it went.
func (d tenantSteps) link() error {
	t := d.t
	requestedAt := time.Now().UTC().Format(time.RFC3339)
	annotation := v1alpha1.AnnotationOnboardingLinkRequested + "=" + requestedAt
	step(fmt.Sprintf("kubectl annotate -n %s %s --overwrite %s (ask for an onboarding link, as the OnboardingComplete message says)", t.namespace, t.ref(), annotation))
	if err := d.kubectl("annotate", t.ref(), "--overwrite", annotation); err != nil {
		return err
	}
	answered := "jsonpath={.status.onboardingLink.requestedAt}=" + requestedAt
	step(fmt.Sprintf("kubectl wait -n %s --for='%s' %s %s", t.namespace, answered, t.ref(), d.wait))
	if err := d.kubectl("wait", "--for="+answered, t.ref(), d.wait); err != nil {
		return err
	}
	refused, err := d.get("{.status.onboardingLink.refused}")
	if err != nil {
		return fmt.Errorf("read the link's status: %w", err)
	}
	if refused != "" {
		return fmt.Errorf("the link request was refused: %q", refused)
	}
	step(fmt.Sprintf("kubectl get -n %s %s -o jsonpath='{.status.onboardingLink}' (status says where the link is and until when, never the link)", t.namespace, t.ref()))
	link, err := d.get("{.status.onboardingLink}")
	if err != nil {
		return err
	}
	fmt.Println(link)
	secret, err := d.get("{.status.onboardingLink.secretName}")
	if err != nil {
		return err
	}
	for _, view := range []struct{ template, note string }{
		{`{{range $key, $_ := .data}}{{$key}} {{end}}{{"\n"}}`, " (the Secret's keys)"},
		{`type={{.data.type | base64decode}} expiresAt={{.data.expiresAt | base64decode}}{{"\n"}}`, ""},
		{`{{.data.url | base64decode}}{{"\n"}}`, " (the link itself: a bearer credential, whoever holds it fills in the tenant's account; shown only because this is the emulator's)"},
	} {
		step(fmt.Sprintf("kubectl get -n %s secret/%s -o go-template='%s'%s", t.namespace, secret, view.template, view.note))
		if err := d.kubectl("get", "secret/"+secret, "-o", "go-template="+view.template); err != nil {
			return err
		}
	}
	step(fmt.Sprintf("kubectl get -n %s %s -o jsonpath='%s'", t.namespace, t.ref(), conditionMessage(v1alpha1.ConditionOnboardingComplete)))
	message, err := d.get(conditionMessage(v1alpha1.ConditionOnboardingComplete))
	if err != nil {
		return err
	}
	fmt.Println(message)
	return nil
}

// finishOnboarding is the tenant and Stripe finishing onboarding; Stripe's account.updated event, through the
// relay, tells the operator (its own recheck, while events flow, is 10 min away).
func (d tenantSteps) finishOnboarding(control onboarding) error {
	t := d.t
	account, err := d.get("{.status.accountID}")
	if err != nil {
		return fmt.Errorf("read status.accountID: %w", err)
	}
	if account == "" {
		return fmt.Errorf("no status.accountID")
	}
	step(fmt.Sprintf("the tenant fills in Stripe's hosted onboarding for %s, and Stripe verifies it (%s)", account, control.describe()))
	if err := control.submit(d.ctx, account); err != nil {
		return fmt.Errorf("submit onboarding: %w", err)
	}
	if err := control.complete(d.ctx, account); err != nil {
		return fmt.Errorf("complete onboarding: %w", err)
	}
	step(fmt.Sprintf("kubectl wait -n %s --for=condition=ChargesEnabled %s %s (Stripe's account.updated event reaches the operator through the relay; its own recheck is the safety net)", t.namespace, t.ref(), d.wait))
	started := time.Now()
	if err := d.kubectl("wait", "--for=condition=ChargesEnabled", t.ref(), d.wait); err != nil {
		return err
	}
	fmt.Printf("kubectl wait returned after %.1f s\n", time.Since(started).Seconds())
	return nil
}

// subscription shows the tenants, the subscription's state, and the ids a reconnect adopts.
func (d tenantSteps) subscription() error {
	t := d.t
	step(fmt.Sprintf("kubectl get -n %s stripetenants -o wide", t.namespace))
	if err := d.kubectl("get", "stripetenants", "-o", "wide"); err != nil {
		return err
	}
	step(fmt.Sprintf("kubectl get -n %s %s -o jsonpath='{.status.subscriptionStatus}' and the SubscriptionActive condition", t.namespace, t.ref()))
	status, err := d.get("{.status.subscriptionStatus}")
	if err != nil {
		return err
	}
	message, err := d.get(conditionMessage(v1alpha1.ConditionSubscriptionActive))
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s\n", status, message)
	if status != "trialing" && status != "active" {
		return fmt.Errorf("the tenant's subscription is %q, want trialing or active", status)
	}
	step(fmt.Sprintf("kubectl get -n %s %s -o jsonpath='{.metadata.annotations}' (the ids that adopt this tenant's Stripe objects on a fresh cluster: README, reconnect)", t.namespace, t.ref()))
	annotations, err := d.get("{.metadata.annotations}")
	if err != nil {
		return err
	}
	fmt.Println(annotations)
	return nil
}
