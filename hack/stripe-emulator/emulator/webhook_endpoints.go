package emulator

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
)

// Webhook endpoints (/v1/webhook_endpoints). An endpoint belongs to the
// account whose key (and Stripe-Account) created it. Its `secret` is shown
// only in the create response; the emulator keeps it, with the `connect`
// flag (which the object does not show), in a private record. Stripe has no
// webhook_endpoint.* event types (the 2023-10-16 enabled_events enum has
// none), so these endpoints emit no events.

// maxWebhookEndpoints is Stripe's documented limit per account.
const maxWebhookEndpoints = 16

// webhookSecretKind is the emulator's private record of an endpoint:
// {id, secret, connect}.
const webhookSecretKind = "emulator_webhook_secret"

func registerWebhookEndpoints(e *Emulator) {
	e.AddResource(&Resource{Object: "webhook_endpoint", Noun: "webhook endpoint", IDPrefix: "we", Path: "/v1/webhook_endpoints"})
	r := e.Router()
	r.Handle(http.MethodPost, "/v1/webhook_endpoints", createWebhookEndpoint)
	r.Handle(http.MethodGet, "/v1/webhook_endpoints", func(c *Call) (any, error) {
		return c.List("webhook_endpoint", func(Object) bool { return true })
	})
	r.Handle(http.MethodGet, "/v1/webhook_endpoints/{webhook_endpoint}", func(c *Call) (any, error) {
		we, err := c.Lookup("webhook_endpoint", c.PathParam("webhook_endpoint"), "webhook_endpoint")
		if err != nil {
			return nil, err
		}
		return c.Render(we)
	})
	r.Handle(http.MethodPost, "/v1/webhook_endpoints/{webhook_endpoint}", updateWebhookEndpoint)
	r.Handle(http.MethodDelete, "/v1/webhook_endpoints/{webhook_endpoint}", deleteWebhookEndpoint)
}

func createWebhookEndpoint(c *Call) (any, error) {
	p := c.Params()
	count := 0
	c.Scan("webhook_endpoint", func(Object) bool { count++; return true })
	if count >= maxWebhookEndpoints {
		// Stripe documents the limit of 16 endpoints per account; the
		// wording is the emulator's†.
		return nil, InvalidRequest("url", "You have reached the maximum of %d webhook endpoints on this account.", maxWebhookEndpoints)
	}
	rawURL, _ := p.String("url")
	if rawURL == "" {
		return nil, MissingParam("url")
	}
	if err := checkWebhookURL(rawURL); err != nil {
		return nil, err
	}
	events, err := webhookEvents(p)
	if err != nil {
		return nil, err
	}
	if events == nil {
		return nil, MissingParam("enabled_events")
	}
	connect, _, berr := p.Bool("connect")
	if berr != nil {
		return nil, berr
	}
	we := c.NewObject("webhook_endpoint")
	for k, v := range map[string]any{
		"api_version": nil, "application": nil, "description": nil, "enabled_events": events,
		"metadata": map[string]any{}, "status": "enabled", "url": rawURL,
	} {
		we[k] = v
	}
	if v, ok := p.String("api_version"); ok && v != "" {
		we["api_version"] = v
	}
	if v, ok := p.String("description"); ok {
		we["description"] = nullIfEmpty(v)
	}
	md, merr := p.ApplyMetadata(nil)
	if merr != nil {
		return nil, merr
	}
	we["metadata"] = md
	if err := c.Insert("webhook_endpoint", we); err != nil {
		return nil, err
	}
	secret := "whsec_" + randomString(32)
	if err := c.Insert(webhookSecretKind, Object{"id": we.ID(), "object": webhookSecretKind,
		"secret": secret, "connect": connect}); err != nil {
		return nil, err
	}
	out, rerr := c.Render(we)
	if rerr != nil {
		return nil, rerr
	}
	out["secret"] = secret // only ever in this response
	return out, nil
}

// checkWebhookURL accepts absolute http(s) URLs. Stripe requires HTTPS in
// live mode and a publicly reachable host; the emulator delivers to local
// test servers, so http and loopback hosts are accepted.
func checkWebhookURL(raw string) *Error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return InvalidRequest("url", "Invalid URL: %s. URLs must be absolute http(s) URLs.", raw)
	}
	return nil
}

// webhookEvents reads enabled_events (nil when absent), checking each
// against Stripe's list of event types (the spec check does too; this
// covers DisableSpecCheck). `*` is allowed.
func webhookEvents(p Params) ([]any, error) {
	if !p.Has("enabled_events") {
		return nil, nil
	}
	list := p.Strings("enabled_events")
	if len(list) == 0 {
		return nil, InvalidRequest("enabled_events", "You must enable at least one event type (or `*` for all).")
	}
	known := knownEventTypes()
	seen := map[string]bool{}
	out := []any{}
	for i, t := range list {
		if known != nil && !known[t] {
			return nil, InvalidRequest("enabled_events["+strconv.Itoa(i)+"]", "Invalid enabled_events[%d]: %s is not a valid event type.", i, t)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// knownEventTypes is the enabled_events enum of POST /v1/webhook_endpoints
// in the 2023-10-16 spec (nil if the spec cannot be loaded).
func knownEventTypes() map[string]bool {
	b, err := sharedSpec()
	if err != nil {
		return nil
	}
	for _, op := range b.ops {
		if op.method != http.MethodPost || !op.re.MatchString("/v1/webhook_endpoints") || op.schema == nil {
			continue
		}
		ev := op.schema.Properties["enabled_events"]
		if ev == nil || ev.Items == nil {
			return nil
		}
		out := map[string]bool{}
		for _, v := range ev.Items.Enum {
			if s, ok := v.(string); ok {
				out[s] = true
			}
		}
		return out
	}
	return nil
}

// EventTypes lists Stripe's event types (2023-10-16), sorted.
func EventTypes() []string {
	out := sortedKeys(knownEventTypes())
	sort.Strings(out)
	return out
}

func updateWebhookEndpoint(c *Call) (any, error) {
	p := c.Params()
	old, err := c.Lookup("webhook_endpoint", c.PathParam("webhook_endpoint"), "webhook_endpoint")
	if err != nil {
		return nil, err
	}
	we := old.Clone()
	if v, ok := p.String("url"); ok {
		if err := checkWebhookURL(v); err != nil {
			return nil, err
		}
		we["url"] = v
	}
	events, err := webhookEvents(p)
	if err != nil {
		return nil, err
	}
	if events != nil {
		we["enabled_events"] = events
	}
	if v, ok := p.String("description"); ok {
		we["description"] = nullIfEmpty(v)
	}
	if v, ok, err := p.Bool("disabled"); err != nil {
		return nil, err
	} else if ok {
		we["status"] = map[bool]string{true: "disabled", false: "enabled"}[v]
	}
	md, merr := p.ApplyMetadata(we.Map("metadata"))
	if merr != nil {
		return nil, merr
	}
	we["metadata"] = md
	if len(Diff(old, we)) > 0 {
		if err := c.Update("webhook_endpoint", we); err != nil {
			return nil, err
		}
	}
	return c.Render(we)
}

func deleteWebhookEndpoint(c *Call) (any, error) {
	we, err := c.Lookup("webhook_endpoint", c.PathParam("webhook_endpoint"), "webhook_endpoint")
	if err != nil {
		return nil, err
	}
	if err := c.Delete("webhook_endpoint", we.ID()); err != nil {
		return nil, err
	}
	if _, ok := c.Get(webhookSecretKind, we.ID()); ok {
		if err := c.Delete(webhookSecretKind, we.ID()); err != nil {
			return nil, err
		}
	}
	return Object{"id": we.ID(), "object": "webhook_endpoint", "deleted": true}, nil
}
