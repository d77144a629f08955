package emulator

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

func (e *env) account(t *testing.T, id string) *stripe.Account {
	t.Helper()
	a, err := e.sc.Accounts.GetByID(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Rule: onboarding goes inactive → pending (details submitted, Stripe
// verifying) → active (verified: requirements cleared, charges and payouts
// enabled), with account.updated and capability.updated at each step and
// request.id null (Stripe's own change).
func TestOnboardingLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.newAccount(t, expressAccount())
	if _, err := e.SubmitOnboarding(a.ID); err != nil {
		t.Fatal(err)
	}
	got := e.account(t, a.ID)
	if !got.DetailsSubmitted || got.Capabilities.CardPayments != "pending" || got.ChargesEnabled ||
		len(got.Requirements.CurrentlyDue) != 0 || len(got.Requirements.PendingVerification) == 0 ||
		got.Requirements.DisabledReason != "requirements.pending_verification" {
		t.Fatalf("submitted: %+v %+v", got.Capabilities, got.Requirements)
	}
	if _, err := e.CompleteOnboarding(a.ID); err != nil {
		t.Fatal(err)
	}
	got = e.account(t, a.ID)
	if !got.ChargesEnabled || !got.PayoutsEnabled || !got.DetailsSubmitted || got.Capabilities.CardPayments != "active" ||
		got.Capabilities.Transfers != "active" || len(got.Requirements.PendingVerification) != 0 || got.Requirements.DisabledReason != "" {
		t.Fatalf("complete: %+v", got)
	}
	evs := e.events(t, a.ID)
	counts := map[string]int{}
	for _, ev := range evs {
		counts[ev.Str("type")]++
		if ev.Map("request")["id"] != nil || ev.Str("account") != a.ID {
			t.Fatalf("event: %v", ev)
		}
	}
	if counts["account.updated"] != 2 || counts["capability.updated"] != 4 {
		t.Fatalf("events: %v", counts)
	}
}

// Rule: requirements past their deadline disable the account (charges and
// payouts off, disabled_reason requirements.past_due); currently due with
// a future deadline keeps it enabled; future requirements never disable.
func TestRequirementsDue(t *testing.T) {
	deadline := testEpoch.Add(72 * time.Hour)
	for _, tc := range []struct {
		name       string
		due        RequirementsDue
		enabled    bool
		reason     string
		inFuture   bool
		wantDeadln int64
	}{
		{"currently due, deadline ahead", RequirementsDue{Fields: []string{"individual.verification.document"}, Deadline: deadline}, true, "", false, deadline.Unix()},
		{"past due", RequirementsDue{Fields: []string{"individual.verification.document"}, PastDue: true, Deadline: testEpoch}, false, "requirements.past_due", false, testEpoch.Unix()},
		{"future requirements", RequirementsDue{Fields: []string{"company.tax_id"}, Future: true, Deadline: deadline}, true, "", true, 0},
		{"explicit disabled_reason", RequirementsDue{Fields: []string{"business_profile.url"}, DisabledReason: "under_review"}, false, "under_review", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			a := e.newAccount(t, expressAccount())
			if _, err := e.CompleteOnboarding(a.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.SetRequirementsDue(a.ID, tc.due); err != nil {
				t.Fatal(err)
			}
			got := e.account(t, a.ID)
			if got.ChargesEnabled != tc.enabled || got.PayoutsEnabled != tc.enabled || string(got.Requirements.DisabledReason) != tc.reason {
				t.Fatalf("charges=%v payouts=%v reason=%q", got.ChargesEnabled, got.PayoutsEnabled, got.Requirements.DisabledReason)
			}
			if tc.inFuture {
				if len(got.FutureRequirements.CurrentlyDue) != 1 || got.FutureRequirements.CurrentDeadline != deadline.Unix() || len(got.Requirements.CurrentlyDue) != 0 {
					t.Fatalf("future: %+v", got.FutureRequirements)
				}
				return
			}
			if got.Requirements.CurrentDeadline != tc.wantDeadln || len(got.Requirements.CurrentlyDue) != 1 ||
				(tc.due.PastDue != (len(got.Requirements.PastDue) == 1)) {
				t.Fatalf("requirements: %+v", got.Requirements)
			}
			if !tc.enabled && got.Capabilities.CardPayments == "active" {
				t.Fatalf("capability still active: %+v", got.Capabilities)
			}
			// Providing the field through the API clears it (for
			// requirements the platform can provide).
			if tc.due.Fields[0] == "business_profile.url" {
				got, err := e.sc.Accounts.Update(a.ID, &stripe.AccountParams{BusinessProfile: &stripe.AccountBusinessProfileParams{URL: stripe.String("https://shop.example.com")}})
				if err != nil || len(got.Requirements.CurrentlyDue) != 0 {
					t.Fatalf("after providing: %v %+v", err, got.Requirements)
				}
			}
		})
	}
}

// Rule: a custom account whose platform provides every due field has its
// details submitted and its capabilities pending verification.
func TestCustomAccountProvidedByPlatform(t *testing.T) {
	e := newEnv(t, Options{})
	p := expressAccount()
	p.Type = stripe.String("custom")
	p.BusinessType = stripe.String("individual")
	a := e.newAccount(t, p)
	got, err := e.sc.Accounts.Update(a.ID, &stripe.AccountParams{
		BusinessProfile: &stripe.AccountBusinessProfileParams{MCC: stripe.String("5734"), URL: stripe.String("https://shop.example.com")},
		TOSAcceptance:   &stripe.AccountTOSAcceptanceParams{Date: stripe.Int64(testEpoch.Unix()), IP: stripe.String("192.0.2.1")},
		ExternalAccount: &stripe.AccountExternalAccountParams{Token: stripe.String("btok_us_verified")},
		Individual: &stripe.PersonParams{FirstName: stripe.String("Jane"), LastName: stripe.String("Doe"), Email: stripe.String("j@example.com"),
			Phone: stripe.String("+15555550100"), SSNLast4: stripe.String("0000"),
			DOB:     &stripe.PersonDOBParams{Day: stripe.Int64(1), Month: stripe.Int64(1), Year: stripe.Int64(1990)},
			Address: &stripe.AddressParams{Line1: stripe.String("1 Main"), City: stripe.String("SF"), State: stripe.String("CA"), PostalCode: stripe.String("94111")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !got.DetailsSubmitted || len(got.Requirements.CurrentlyDue) != 0 || got.Capabilities.CardPayments != "pending" || got.TOSAcceptance.IP != "192.0.2.1" {
		t.Fatalf("account: %+v %+v", got.Requirements, got.Capabilities)
	}
}

// Rule: after the account holder deauthorizes the platform, the platform
// gets account.application.deauthorized and loses access.
func TestDeauthorizedAccountLosesAccess(t *testing.T) {
	e := newEnv(t, Options{})
	sp := expressAccount()
	sp.Type = stripe.String("standard")
	a := e.newAccount(t, sp)
	if err := e.DeauthorizeAccount(a.ID); err != nil {
		t.Fatal(err)
	}
	evs := e.events(t, a.ID)
	if len(evs) != 1 || evs[0].Str("type") != "account.application.deauthorized" || evs[0].Str("account") != a.ID {
		t.Fatalf("events: %v", evs)
	}
	r := e.do(t, "GET", "/v1/products", "", "Stripe-Account", a.ID)
	if r.status != http.StatusForbidden || r.errField("code") != "account_invalid" {
		t.Fatalf("after deauthorization: %d %s", r.status, r.body)
	}
}

// Rule: the control operations are also JSON endpoints under /_emulator/.
func TestConnectControlHTTP(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.newAccount(t, expressAccount())
	for _, tc := range []struct{ method, op, body string }{
		{"POST", "accounts/" + a.ID + "/onboarding", `{"stage":"complete"}`},
		{"POST", "accounts/" + a.ID + "/balance", `{"amount":1500,"currency":"usd"}`},
		{"POST", "accounts/" + a.ID + "/requirements", `{"fields":["individual.id_number"],"past_due":true,"deadline":"2024-03-01T00:00:00Z"}`},
		{"POST", "connect", `{"live_mode_deletion":true}`},
		{"POST", "platform", `{"display_name":"Demo"}`},
		{"POST", "webhooks/config", `{"retry":["10ms"],"duplicate_rate":0.5,"seed":9}`},
		{"GET", "webhooks/summary", ``},
	} {
		var in any
		if tc.body != "" {
			in = json.RawMessage(tc.body)
		}
		if status, out := e.control(t, tc.method, tc.op, in); status != 200 {
			t.Fatalf("%s %s: %d %v", tc.method, tc.op, status, out)
		}
	}
	got := e.account(t, a.ID)
	if got.ChargesEnabled || got.Requirements.DisabledReason != "requirements.past_due" || got.Requirements.CurrentDeadline != testEpoch.Add(-12*time.Hour).Unix() {
		t.Fatalf("account: %+v", got.Requirements)
	}
	if bal, _ := e.AccountBalance(a.ID); bal["usd"] != 1500 {
		t.Fatalf("balance %v", bal)
	}
	if _, err := e.sc.Accounts.Del(a.ID, nil); err == nil {
		t.Fatal("live-mode rules: a funded account was deleted")
	}
	if o := e.WebhookOptions(); len(o.Retry) != 1 || o.Retry[0] != 10*time.Millisecond || o.DuplicateRate != 0.5 || o.Seed != 9 {
		t.Fatalf("webhook options: %+v", o)
	}
	if p, _ := e.sc.Accounts.Get(); p.Settings.Dashboard.DisplayName != "Demo" {
		t.Fatalf("platform: %+v", p.Settings.Dashboard)
	}
	if status, out := e.control(t, "POST", "accounts/acct_nope/onboarding", json.RawMessage(`{}`)); status != 404 {
		t.Fatalf("unknown account: %d %v", status, out)
	}
}
