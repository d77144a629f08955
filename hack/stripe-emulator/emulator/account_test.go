package emulator

import (
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

// Rule: GET /v1/account returns the key's own (platform) account, a fully
// onboarded standard account.
func TestPlatformAccountIsTheKeysAccount(t *testing.T) {
	e := newEnv(t, Options{Platform: PlatformProfile{Country: "gb", DefaultCurrency: "GBP", Email: "ops@example.com", DisplayName: "Acme"}})
	for name, get := range map[string]func() (*stripe.Account, error){
		"GET /v1/account":          func() (*stripe.Account, error) { return e.sc.Accounts.Get() },
		"GET /v1/accounts/{self}":  func() (*stripe.Account, error) { return e.sc.Accounts.GetByID(e.PlatformAccount(), nil) },
		"Stripe-Account: platform": func() (*stripe.Account, error) { return getAccountAs(e, e.PlatformAccount()) },
	} {
		t.Run(name, func(t *testing.T) {
			a, err := get()
			if err != nil {
				t.Fatal(err)
			}
			if a.ID != e.PlatformAccount() || a.Object != "account" || a.Type != stripe.AccountTypeStandard ||
				a.Country != "GB" || a.DefaultCurrency != "gbp" || a.Email != "ops@example.com" ||
				a.Settings == nil || a.Settings.Dashboard == nil || a.Settings.Dashboard.DisplayName != "Acme" ||
				!a.ChargesEnabled || !a.PayoutsEnabled || !a.DetailsSubmitted {
				t.Fatalf("platform account: %+v", a)
			}
			if a.Requirements == nil || len(a.Requirements.CurrentlyDue) != 0 || a.Requirements.DisabledReason != "" {
				t.Fatalf("requirements: %+v", a.Requirements)
			}
		})
	}
}

// Rule: the platform defaults are a US account in usd.
func TestPlatformAccountDefaults(t *testing.T) {
	e := newEnv(t, Options{})
	a, err := e.sc.Accounts.Get()
	if err != nil {
		t.Fatal(err)
	}
	if a.Country != "US" || a.DefaultCurrency != "usd" || a.Email == "" || a.Settings.Dashboard.DisplayName == "" {
		t.Fatalf("defaults: %+v", a)
	}
}

// Rule: with Stripe-Account, GET /v1/account is the connected account, and
// a key cannot read an account it has no access to (403 account_invalid).
func TestOwnAccountUnderStripeAccount(t *testing.T) {
	e := newEnv(t, Options{})
	acct := seedConnectedAccount(t, e.Emulator)
	a, err := getAccountAs(e, acct)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != acct {
		t.Fatalf("got %s, want %s", a.ID, acct)
	}
	_, err = e.sc.Accounts.GetByID("acct_nothere", nil)
	wantStripeErr(t, err, 403, "invalid_request_error", "account_invalid", "",
		"The provided key 'sk_test_*********ests' does not have access to account 'acct_nothere' (or that account does not exist). Application access may have been revoked.")
	p := &stripe.AccountParams{}
	p.SetStripeAccount(acct)
	_, err = e.sc.Accounts.GetByID(e.PlatformAccount(), p)
	wantStripeErr(t, err, 403, "invalid_request_error", "account_invalid", "", "")
}

func getAccountAs(e *env, acct string) (*stripe.Account, error) {
	p := &stripe.AccountParams{}
	p.SetStripeAccount(acct)
	return e.sc.Accounts.GetByID(acct, p)
}
