package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stripe/stripe-mock/embedded"
	"github.com/stripe/stripe-mock/server"
	"github.com/stripe/stripe-mock/spec"
)

// Rule: the spec overlay adds exactly one thing to stripe-mock's 2023-10-16
// spec — the `controller` property of the POST /v1/accounts request body,
// as the fragment has it — so the spec the requests are checked against can
// never widen silently. Everything else, the update endpoint included, is
// the spec as stripe-mock ships it.
func TestSpecOverlayAddsOnlyController(t *testing.T) {
	base, err := server.LoadSpec(embedded.OpenAPISpec, "")
	if err != nil {
		t.Fatal(err)
	}
	overlaid, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if base.Info.Version != "2023-10-16" {
		t.Fatalf("the overlay is for the 2023-10-16 spec; stripe-mock ships %s", base.Info.Version)
	}
	baseBody, err := overlaySchema(base)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := baseBody.Properties[overlayProperty]; ok {
		t.Fatal("stripe-mock's own spec declares controller: the overlay is obsolete, delete it")
	}
	body, err := overlaySchema(overlaid)
	if err != nil {
		t.Fatal(err)
	}
	frag, err := overlayFragment()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(body.Properties[overlayProperty], frag) {
		t.Fatalf("controller is not the fragment:\n got  %v\n want %v", body.Properties[overlayProperty], frag)
	}
	// Take the one addition away: what is left must be stripe-mock's spec,
	// byte for byte as parsed.
	delete(body.Properties, overlayProperty)
	if where := specDiff(base, overlaid); where != "" {
		t.Fatalf("the overlay changed more than %s %s %s: %s differs", overlayVerb, overlayPath, overlayProperty, where)
	}
	if err := applySpecOverlay(overlaid); err != nil {
		t.Fatalf("re-applying to a spec without controller: %v", err)
	}
	if err := applySpecOverlay(overlaid); err == nil || !strings.Contains(err.Error(), "obsolete") {
		t.Fatalf("applying over an existing controller must fail as obsolete; got %v", err)
	}
}

// specDiff names the first part of two specs that differs, or "".
func specDiff(a, b *spec.Spec) string {
	if !reflect.DeepEqual(a.Info, b.Info) {
		return "info"
	}
	for _, name := range specKeys(a.Components.Schemas, b.Components.Schemas) {
		if !reflect.DeepEqual(a.Components.Schemas[name], b.Components.Schemas[name]) {
			return "components.schemas." + name
		}
	}
	for _, path := range specKeys(a.Paths, b.Paths) {
		for _, verb := range specKeys(a.Paths[path], b.Paths[path]) {
			if !reflect.DeepEqual(a.Paths[path][verb], b.Paths[path][verb]) {
				return fmt.Sprintf("paths[%s].%s", path, verb)
			}
		}
	}
	if !reflect.DeepEqual(a, b) {
		return "the spec"
	}
	return ""
}

func specKeys[K ~string, V any](a, b map[K]V) []K {
	seen := map[K]bool{}
	var out []K
	for _, m := range []map[K]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// fragmentLeaves lists the form names of the fragment's scalar properties
// with their enum values, e.g. controller[fees][payer] → account,
// application.
func fragmentLeaves(t *testing.T) map[string][]string {
	t.Helper()
	var node struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	out := map[string][]string{}
	var walk func(raw json.RawMessage, name string)
	walk = func(raw json.RawMessage, name string) {
		var n struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Enum       []string                   `json:"enum"`
		}
		if err := json.Unmarshal(raw, &n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(n.Properties) == 0 {
			out[name] = n.Enum
			return
		}
		for k, v := range n.Properties {
			walk(v, name+"["+k+"]")
		}
	}
	if err := json.Unmarshal(specOverlayControllerJSON, &node); err != nil {
		t.Fatal(err)
	}
	for k, v := range node.Properties {
		walk(v, overlayProperty+"["+k+"]")
	}
	return out
}

// Rule: the fragment is v0.203.0's controller (fees.payer, losses.payments,
// requirement_collection, stripe_dashboard.type, nothing more), every value
// it declares passes the spec check on account create — nested keys
// included, which the emulator's unknown-parameter walk checks on top of
// stripe-mock — and what it does not declare is refused as on Stripe.
// Update still has no controller (it is fixed at creation).
func TestSpecOverlayControllerIsAcceptedOnCreateOnly(t *testing.T) {
	leaves := fragmentLeaves(t)
	want := map[string][]string{
		"controller[fees][payer]":            {"account", "application"},
		"controller[losses][payments]":       {"application", "stripe"},
		"controller[requirement_collection]": {"application", "stripe"},
		"controller[stripe_dashboard][type]": {"express", "full", "none"},
	}
	if !reflect.DeepEqual(leaves, want) {
		t.Fatalf("fragment properties:\n got  %v\n want %v", leaves, want)
	}
	b, err := sharedSpec()
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name, path, form string
		param, code      string // "" = accepted
	}
	var cases []tc
	for _, name := range sortedKeys(leaves) {
		for _, v := range leaves[name] {
			cases = append(cases, tc{name: name + "=" + v, path: "/v1/accounts", form: name + "=" + v})
		}
	}
	cases = append(cases,
		tc{"all four together", "/v1/accounts", "controller[fees][payer]=application&controller[losses][payments]=application" +
			"&controller[requirement_collection]=application&controller[stripe_dashboard][type]=none", "", ""},
		tc{"unknown nested key", "/v1/accounts", "controller[fees][who]=account", "controller[fees][who]", "parameter_unknown"},
		tc{"unknown controller key", "/v1/accounts", "controller[application][loss_liable]=true", "controller[application]", "parameter_unknown"},
		tc{"read-only type", "/v1/accounts", "controller[type]=application", "controller[type]", "parameter_unknown"},
		tc{"read-only is_controller", "/v1/accounts", "controller[is_controller]=true", "controller[is_controller]", "parameter_unknown"},
		tc{"legacy fee payer is not a create value", "/v1/accounts", "controller[fees][payer]=application_express", "controller[fees][payer]", ""},
		tc{"bad dashboard", "/v1/accounts", "controller[stripe_dashboard][type]=platinum", "controller[stripe_dashboard][type]", ""},
		tc{"a scalar controller", "/v1/accounts", "controller=stripe", "controller", ""},
		tc{"not on update", "/v1/accounts/acct_1Example", "controller[fees][payer]=account", "controller", "parameter_unknown"},
		tc{"not on update, nested", "/v1/accounts/acct_1Example", "controller[stripe_dashboard][type]=none", "controller", "parameter_unknown"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(c.form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			e := b.checkSpec(r, []byte(c.form))
			if c.param == "" {
				if e != nil {
					t.Fatalf("refused: %d %s (param %q)", e.Status, e.Message, e.Param)
				}
				return
			}
			if e == nil {
				t.Fatal("accepted; want a refusal")
			}
			if e.Status != http.StatusBadRequest || e.Param != c.param || e.Code != c.code {
				t.Fatalf("got %d param=%q code=%q (%s); want 400 param=%q code=%q", e.Status, e.Param, e.Code, e.Message, c.param, c.code)
			}
		})
	}
}
