package main

import (
	"strings"
	"testing"
)

// Pins what a person may type for an object: KIND/NAME or KIND NAME, with the plugin's short
// words, kubectl's resource names (plural, with the group) and the CRDs' short names; anything else
// is refused with the kinds it takes.
func TestParseRef(t *testing.T) {
	for _, c := range []struct {
		args    []string
		want    objectRef
		wantErr string
	}{
		{args: []string{"tenant/acme"}, want: objectRef{kindTenant, "acme"}},
		{args: []string{"stripetenants.payments.cloudip.io/acme"}, want: objectRef{kindTenant, "acme"}},
		{args: []string{"StripeTenant/acme"}, want: objectRef{kindTenant, "acme"}},
		{args: []string{"stenant", "acme"}, want: objectRef{kindTenant, "acme"}},
		{args: []string{"plan/pro"}, want: objectRef{kindPlan, "pro"}},
		{args: []string{"bplan/pro"}, want: objectRef{kindPlan, "pro"}},
		{args: []string{"connection/platform-us"}, want: objectRef{kindConnection, "platform-us"}},
		{args: []string{"sconn/platform-us"}, want: objectRef{kindConnection, "platform-us"}},
		{args: []string{"endpoint/hooks"}, want: objectRef{kindEndpoint, "hooks"}},
		{args: []string{"swebhook/hooks"}, want: objectRef{kindEndpoint, "hooks"}},
		{args: []string{"sink/orders"}, want: objectRef{kindSink, "orders"}},
		{args: []string{"replay/orders-replay-x"}, want: objectRef{kindReplay, "orders-replay-x"}},
		{args: []string{"mirror/stripe-eu"}, want: objectRef{kindMirror, "stripe-eu"}},
		{args: []string{"smirror/stripe-eu"}, want: objectRef{kindMirror, "stripe-eu"}},
		{args: []string{"stripemirrors.payments.cloudip.io/stripe-eu"}, want: objectRef{kindMirror, "stripe-eu"}},
		{args: []string{"mirrors", "stripe-eu"}, want: objectRef{kindMirror, "stripe-eu"}},
		{args: []string{"acme"}, wantErr: "want KIND/NAME"},
		{args: []string{"tenant/"}, wantErr: "want KIND/NAME"},
		{args: []string{"tenant/a/b"}, wantErr: "want KIND/NAME"},
		{args: []string{"tenant/acme", "extra"}, wantErr: "want KIND/NAME"},
		{args: []string{"pod/acme"}, wantErr: `unknown kind "pod": want one of connection, endpoint, mirror, plan, replay, sink, tenant`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			got, err := parseRef(c.args)
			switch {
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one with %q", err, c.wantErr)
			case c.wantErr == "" && err != nil:
				t.Fatal(err)
			case got != c.want:
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// Pins that link and replay take NAME or KIND/NAME of their one kind, and refuse another kind.
func TestNameOf(t *testing.T) {
	for _, c := range []struct {
		arg, kind, want, wantErr string
	}{
		{arg: "acme", kind: kindTenant, want: "acme"},
		{arg: "tenant/acme", kind: kindTenant, want: "acme"},
		{arg: "stripeeventsink/orders", kind: kindSink, want: "orders"},
		{arg: "plan/acme", kind: kindTenant, wantErr: "plan/acme is a BillingPlan, want a StripeTenant"},
	} {
		got, err := nameOf(c.arg, c.kind)
		if (err != nil) != (c.wantErr != "") || (err != nil && err.Error() != c.wantErr) || got != c.want {
			t.Errorf("nameOf(%q, %s) = %q, %v; want %q, %q", c.arg, c.kind, got, err, c.want, c.wantErr)
		}
	}
}
