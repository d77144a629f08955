package emulator

import (
	"net/http"
	"net/url"
	"time"
)

// Account links (POST /v1/account_links): single-use URLs to Stripe's
// hosted onboarding. Stripe documents them as expiring a few minutes after
// creation (its examples: expires_at = created + 300) and as not
// retrievable; creating one starts Connect onboarding, after which Standard
// and Express accounts can no longer change business_type, company or
// individual through the API.

// accountLinkTTL is how long an account link stays valid.
const accountLinkTTL = 300 * time.Second

func registerAccountLinks(e *Emulator) {
	e.Router().Handle(http.MethodPost, "/v1/account_links", createAccountLink)
}

func createAccountLink(c *Call) (any, error) {
	p := c.Params()
	id, _ := p.String("account")
	if id == "" {
		return nil, MissingParam("account")
	}
	typ, _ := p.String("type")
	if typ == "" {
		return nil, MissingParam("type")
	}
	if id == c.emu.platform {
		return nil, InvalidRequest("account", "You cannot create an account link for your own account; account links are for connected accounts.")
	}
	acct, err := c.lookupAccount(id)
	if err != nil {
		return nil, err
	}
	if typ == "account_update" && acct.Str("type") != "custom" {
		// Reference: account_update links exist only for connected
		// accounts where the platform collects requirements (Custom
		// accounts), not for accounts with a Stripe-hosted Dashboard.
		return nil, InvalidRequest("type", "You cannot create `account_update` type Account Links for %s accounts; "+
			"they are only available for accounts where the platform is responsible for collecting requirements "+
			"(Custom accounts). Use `account_onboarding`.", acct.Str("type"))
	}
	if p.Has("collect") && p.Has("collection_options") {
		return nil, Exclusive("collect", "collection_options")
	}
	for _, f := range []string{"refresh_url", "return_url"} {
		v, ok := p.String(f)
		if !ok {
			continue
		}
		u, perr := url.Parse(v)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, InvalidRequest(f, "Not a valid URL")
		}
	}
	if err := c.markOnboardingStarted(id); err != nil {
		return nil, err
	}
	letter := map[string]string{"standard": "s", "express": "e", "custom": "c"}[acct.Str("type")]
	if letter == "" {
		letter = "s"
	}
	now := c.Now()
	return Object{
		"object":     "account_link",
		"created":    now.Unix(),
		"expires_at": now.Add(accountLinkTTL).Unix(),
		"url":        "https://connect.stripe.com/setup/" + letter + "/" + id + "/" + randomString(12),
	}, nil
}
