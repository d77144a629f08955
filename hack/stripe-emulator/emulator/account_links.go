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
	prof := controllerOf(acct)
	if typ == "account_update" && (!prof.platformCollects() || prof.Dashboard != "none") {
		// Reference: "You can create Account Links of type
		// account_update only for connected accounts where your platform
		// is responsible for collecting requirements, including Custom
		// accounts. You can't create them for accounts that have access
		// to a Stripe-hosted Dashboard."
		return nil, InvalidRequest("type", "You cannot create `account_update` type Account Links for this account "+
			"(controller.requirement_collection=%s, stripe_dashboard.type=%s); they are only available for accounts "+
			"where the platform is responsible for collecting requirements, including Custom accounts. "+
			"Use `account_onboarding`.", prof.RequirementCollection, prof.Dashboard)
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
	// The emulator's URL shape: s/e/c by the Dashboard the account has.
	letter := map[string]string{"full": "s", "express": "e", "none": "c"}[prof.Dashboard]
	now := c.Now()
	return Object{
		"object":     "account_link",
		"created":    now.Unix(),
		"expires_at": now.Add(accountLinkTTL).Unix(),
		"url":        "https://connect.stripe.com/setup/" + letter + "/" + id + "/" + randomString(12),
	}, nil
}
