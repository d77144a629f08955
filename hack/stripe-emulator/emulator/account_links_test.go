package emulator

import (
	"strings"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

func (e *env) newAccountLink(t *testing.T, acct, typ string) *stripe.AccountLink {
	t.Helper()
	l, err := e.sc.AccountLinks.New(&stripe.AccountLinkParams{Account: stripe.String(acct), Type: stripe.String(typ),
		RefreshURL: stripe.String("https://example.com/refresh"), ReturnURL: stripe.String("https://example.com/return")})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Rule: an account link is a URL that expires a few minutes (300 s) after
// creation, by the emulator clock.
func TestAccountLinkExpires(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.newAccount(t, expressAccount())
	l := e.newAccountLink(t, a.ID, "account_onboarding")
	if l.Object != "account_link" || l.Created != testEpoch.Unix() || l.ExpiresAt != testEpoch.Add(5*time.Minute).Unix() ||
		!strings.HasPrefix(l.URL, "https://connect.stripe.com/setup/e/"+a.ID+"/") {
		t.Fatalf("link: %+v", l)
	}
}

// Rule: link parameters are checked as Stripe checks them.
func TestAccountLinkRules(t *testing.T) {
	e := newEnv(t, Options{})
	express := e.newAccount(t, expressAccount())
	cp := expressAccount()
	cp.Type = stripe.String("custom")
	custom := e.newAccount(t, cp)
	sp := expressAccount()
	sp.Type = stripe.String("standard")
	standard := e.newAccount(t, sp)
	for _, tc := range []struct {
		name    string
		account string
		typ     string
		mutate  func(*stripe.AccountLinkParams)
		status  int
		param   string
	}{
		{"account_update for custom", custom.ID, "account_update", nil, 200, ""},
		{"no account_update for express", express.ID, "account_update", nil, 400, "type"},
		{"no account_update for standard", standard.ID, "account_update", nil, 400, "type"},
		{"onboarding for standard", standard.ID, "account_onboarding", nil, 200, ""},
		{"unknown account", "acct_missing", "account_onboarding", nil, 403, ""},
		{"not for the platform itself", e.PlatformAccount(), "account_onboarding", nil, 400, "account"},
		{"unknown type", express.ID, "account_magic", nil, 400, "type"},
		{"refresh_url must be a URL", express.ID, "account_onboarding",
			func(p *stripe.AccountLinkParams) { p.RefreshURL = stripe.String("not a url") }, 400, "refresh_url"},
		{"collect and collection_options are exclusive", express.ID, "account_onboarding", func(p *stripe.AccountLinkParams) {
			p.Collect = stripe.String("eventually_due")
			p.CollectionOptions = &stripe.AccountLinkCollectionOptionsParams{Fields: stripe.String("eventually_due")}
		}, 400, "collect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &stripe.AccountLinkParams{Account: stripe.String(tc.account), Type: stripe.String(tc.typ),
				RefreshURL: stripe.String("https://example.com/r"), ReturnURL: stripe.String("https://example.com/d")}
			if tc.mutate != nil {
				tc.mutate(p)
			}
			_, err := e.sc.AccountLinks.New(p)
			if tc.status == 200 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			se := stripeErr(t, err)
			if se.HTTPStatusCode != tc.status || se.Param != tc.param {
				t.Fatalf("got %d param=%q: %s", se.HTTPStatusCode, se.Param, se.Msg)
			}
		})
	}
}
