package main

import (
	"fmt"
	"sort"
	"strings"
)

// Kinds of payments.cloudip.io/v1alpha1.
const (
	kindTenant     = "StripeTenant"
	kindPlan       = "BillingPlan"
	kindConnection = "StripeConnection"
	kindEndpoint   = "StripeWebhookEndpoint"
	kindSink       = "StripeEventSink"
	kindReplay     = "StripeEventReplay"
	kindMirror     = "StripeMirror"
)

// shortNames are the words the plugin writes in the commands it suggests (tenant/acme).
var shortNames = map[string]string{
	kindTenant: "tenant", kindPlan: "plan", kindConnection: "connection",
	kindEndpoint: "endpoint", kindSink: "sink", kindReplay: "replay",
	kindMirror: "mirror",
}

// kindAliases are what a person may type for each kind: the plugin's short word, kubectl's resource
// names (singular and plural) and the CRDs' short names.
var kindAliases = map[string][]string{
	kindTenant:     {"tenant", "tenants", "stripetenant", "stripetenants", "stenant"},
	kindPlan:       {"plan", "plans", "billingplan", "billingplans", "bplan"},
	kindConnection: {"connection", "connections", "conn", "stripeconnection", "stripeconnections", "sconn"},
	kindEndpoint:   {"endpoint", "endpoints", "webhookendpoint", "stripewebhookendpoint", "stripewebhookendpoints", "swebhook"},
	kindSink:       {"sink", "sinks", "eventsink", "stripeeventsink", "stripeeventsinks", "ssink"},
	kindReplay:     {"replay", "replays", "stripeeventreplay", "stripeeventreplays", "sreplay"},
	kindMirror:     {"mirror", "mirrors", "stripemirror", "stripemirrors", "smirror"},
}

// objectRef is a KIND/NAME a person typed, resolved to its kind.
type objectRef struct {
	Kind string
	Name string
}

// kindOf resolves what a person typed for a kind ("tenant", "stripetenants.payments.cloudip.io").
func kindOf(typed string) (string, error) {
	word := strings.TrimSuffix(strings.ToLower(typed), ".payments.cloudip.io")
	for kind, aliases := range kindAliases {
		for _, alias := range aliases {
			if word == alias {
				return kind, nil
			}
		}
	}
	known := make([]string, 0, len(shortNames))
	for _, short := range shortNames {
		known = append(known, short)
	}
	sort.Strings(known)
	return "", fmt.Errorf("unknown kind %q: want one of %s", typed, strings.Join(known, ", "))
}

// parseRef reads KIND/NAME, or KIND NAME as two arguments, the way kubectl does.
func parseRef(args []string) (objectRef, error) {
	var kindWord, name string
	switch {
	case len(args) == 1 && strings.Contains(args[0], "/"):
		kindWord, name, _ = strings.Cut(args[0], "/")
	case len(args) == 2 && !strings.Contains(args[0], "/"):
		kindWord, name = args[0], args[1]
	default:
		return objectRef{}, fmt.Errorf("want KIND/NAME (e.g. tenant/acme), got %q", strings.Join(args, " "))
	}
	if name == "" || strings.Contains(name, "/") {
		return objectRef{}, fmt.Errorf("want KIND/NAME (e.g. tenant/acme), got %q", strings.Join(args, " "))
	}
	kind, err := kindOf(kindWord)
	if err != nil {
		return objectRef{}, err
	}
	return objectRef{Kind: kind, Name: name}, nil
}

// nameOf reads NAME or KIND/NAME of the one kind a command takes (link: tenants, replay: sinks).
func nameOf(arg, want string) (string, error) {
	if !strings.Contains(arg, "/") {
		return arg, nil
	}
	ref, err := parseRef([]string{arg})
	if err != nil {
		return "", err
	}
	if ref.Kind != want {
		return "", fmt.Errorf("%s is a %s, want a %s", arg, ref.Kind, want)
	}
	return ref.Name, nil
}
