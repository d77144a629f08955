package stripeapi

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

var connectedAccountJSON = map[string]any{
	"id": "acct_1", "object": "account", "type": "none", "country": "DE", "email": "ops@tenant.example",
	"default_currency": "eur", "business_type": "company", "created": 1700000000,
	"charges_enabled": true, "payouts_enabled": false, "details_submitted": true,
	"business_profile": map[string]any{"name": "Tenant GmbH", "url": "https://tenant.example", "mcc": "5734"},
	"capabilities":     map[string]any{"card_payments": "active", "transfers": "pending"},
	"controller": map[string]any{
		"type": "application", "is_controller": true, "requirement_collection": "application",
		"fees": map[string]any{"payer": "application"}, "losses": map[string]any{"payments": "application"},
		"stripe_dashboard": map[string]any{"type": "none"},
	},
	"requirements": map[string]any{
		"currently_due": []string{"external_account"}, "eventually_due": []string{"external_account", "company.tax_id"},
		"past_due": []string{}, "pending_verification": []string{"company.name"},
		"disabled_reason": "requirements.past_due", "current_deadline": 1700086400,
		"errors": []any{map[string]any{"code": "invalid_tax_id", "reason": "bad", "requirement": "company.tax_id"}},
	},
	"settings": map[string]any{"payouts": map[string]any{"schedule": map[string]any{
		"interval": "weekly", "delay_days": 7, "weekly_anchor": "friday",
	}}},
	"metadata": map[string]string{"cloudip_uid": "t-uid", "cloudip_kind": "StripeTenant", "cloudip_name": "team-a/t"},
}

func TestGetPlatformAccount(t *testing.T) {
	f := newFakeStripe(t)
	f.on("GET /v1/account", map[string]any{
		"id": "acct_platform", "object": "account", "country": "IE", "default_currency": "eur", "email": "p@x",
		"settings": map[string]any{"dashboard": map[string]any{"display_name": "CloudIP"}},
	})
	c := newTestClient(t, f, nil)
	got, err := c.GetPlatformAccount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &PlatformAccount{ID: "acct_platform", Country: "IE", DefaultCurrency: "eur", Email: "p@x", DisplayName: "CloudIP"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if h := f.last(t).Header.Get("Authorization"); h != "Bearer sk_test_123" {
		t.Errorf("Authorization = %q", h)
	}
	if v := f.last(t).Header.Get("Stripe-Version"); v != APIVersion {
		t.Errorf("Stripe-Version = %q, want %q", v, APIVersion)
	}
}

func TestCreateAccount(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/accounts", connectedAccountJSON)
	c := newTestClient(t, f, nil)
	tags := Tags{UID: "t-uid", NamespacedName: "team-a/t", Kind: "StripeTenant"}
	got, err := c.CreateAccount(context.Background(), AccountCreateParams{
		IdempotencyKey: IdempotencyKey("t-uid", 1, "create-account"),
		Tags:           tags,
		Controller: &AccountController{
			FeesPayer: "application", LossesPayments: "application",
			RequirementCollection: "application", StripeDashboardType: "none",
			Type: "ignored", IsController: true,
		},
		Country: "DE", Email: "ops@tenant.example", BusinessType: "company",
		BusinessProfile: &BusinessProfile{Name: "Tenant GmbH", URL: "https://tenant.example"},
		Capabilities:    []string{"card_payments", "transfers", "us_bank_account_ach_payments"},
		PayoutSchedule:  &PayoutSchedule{Interval: "weekly", DelayDays: 7, WeeklyAnchor: "friday"},
	})
	if err != nil {
		t.Fatal(err)
	}
	form := f.last(t).Form
	wantForm(t, form, map[string]string{
		"country": "DE", "email": "ops@tenant.example", "business_type": "company",
		"controller[fees][payer]": "application", "controller[losses][payments]": "application",
		"controller[requirement_collection]": "application", "controller[stripe_dashboard][type]": "none",
		"capabilities[card_payments][requested]":                "true",
		"capabilities[transfers][requested]":                    "true",
		"capabilities[us_bank_account_ach_payments][requested]": "true",
		"business_profile[name]":                                "Tenant GmbH",
		"settings[payouts][schedule][interval]":                 "weekly",
		"settings[payouts][schedule][delay_days]":               "7",
		"settings[payouts][schedule][weekly_anchor]":            "friday",
		"metadata[cloudip_uid]":                                 "t-uid",
	})
	for _, k := range []string{"type", "controller[type]", "controller[is_controller]", "business_profile[mcc]"} {
		if form.Has(k) {
			t.Errorf("sent %s = %q, want it absent", k, form.Get(k))
		}
	}

	want := &Account{
		ID: "acct_1", Type: "none", Country: "DE", Email: "ops@tenant.example", DefaultCurrency: "eur",
		BusinessType:    "company",
		BusinessProfile: BusinessProfile{Name: "Tenant GmbH", URL: "https://tenant.example", MCC: "5734"},
		Controller: &AccountController{
			FeesPayer: "application", LossesPayments: "application", RequirementCollection: "application",
			StripeDashboardType: "none", Type: "application", IsController: true,
		},
		Capabilities: map[string]string{"card_payments": "active", "transfers": "pending"},
		Requirements: AccountRequirements{
			CurrentlyDue: []string{"external_account"}, EventuallyDue: []string{"external_account", "company.tax_id"},
			PastDue: []string{}, PendingVerification: []string{"company.name"},
			DisabledReason: "requirements.past_due", CurrentDeadline: time.Unix(1700086400, 0).UTC(),
			Errors: []RequirementError{{Code: "invalid_tax_id", Reason: "bad", Requirement: "company.tax_id"}},
		},
		ChargesEnabled: true, DetailsSubmitted: true,
		PayoutSchedule: &PayoutSchedule{Interval: "weekly", DelayDays: 7, WeeklyAnchor: "friday"},
		Metadata:       map[string]string{"cloudip_uid": "t-uid", "cloudip_kind": "StripeTenant", "cloudip_name": "team-a/t"},
		Created:        time.Unix(1700000000, 0).UTC(),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("account:\n got %+v\nwant %+v", got, want)
	}
}

// Pins: DelayDaysMinimum sends delay_days=minimum (Stripe's lowest for the country), never a number.
func TestPayoutScheduleMinimumDelay(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/accounts/acct_1", connectedAccountJSON)
	c := newTestClient(t, f, nil)
	got, err := c.UpdateAccount(context.Background(), "acct_1", AccountUpdateParams{
		IdempotencyKey: "k", PayoutSchedule: &PayoutSchedule{Interval: "weekly", WeeklyAnchor: "friday", DelayDaysMinimum: true, DelayDays: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	form := f.last(t).Form
	if v := form["settings[payouts][schedule][delay_days]"]; len(v) != 1 || v[0] != "minimum" {
		t.Errorf("delay_days = %v, want [minimum]", v)
	}
	if got.PayoutSchedule == nil || got.PayoutSchedule.DelayDays != 7 || got.PayoutSchedule.DelayDaysMinimum {
		t.Errorf("read schedule %+v: want Stripe's number, DelayDaysMinimum false", got.PayoutSchedule)
	}
}

func TestUpdateAccountCapabilities(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/accounts/acct_1", connectedAccountJSON)
	c := newTestClient(t, f, nil)
	_, err := c.UpdateAccount(context.Background(), "acct_1", AccountUpdateParams{
		IdempotencyKey: "k",
		Capabilities:   map[string]bool{"transfers": true, "card_payments": false},
		Email:          strPtr("new@tenant.example"),
	})
	if err != nil {
		t.Fatal(err)
	}
	form := f.last(t).Form
	if form.Get("capabilities[transfers][requested]") != "true" || form.Get("capabilities[card_payments][requested]") != "false" {
		t.Errorf("capabilities not sent: %v", form)
	}
	if form.Get("email") != "new@tenant.example" || form.Has("country") || form.Has("metadata[cloudip_uid]") {
		t.Errorf("update sent more than asked: %v", form)
	}
}

func TestFindAccountsByTags(t *testing.T) {
	f := newFakeStripe(t)
	other := map[string]any{"id": "acct_2", "object": "account", "metadata": map[string]string{"cloudip_uid": "other"}}
	f.on("GET /v1/accounts", list("/v1/accounts", false, other, connectedAccountJSON))
	c := newTestClient(t, f, nil)
	since := time.Unix(1700000000, 0)
	got, err := c.FindAccountsByTags(context.Background(),
		Tags{UID: "t-uid", NamespacedName: "team-a/t", Kind: "StripeTenant"}, FindOptions{CreatedSince: since})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "acct_1" {
		t.Errorf("found %+v, want acct_1 only", got)
	}
	req := f.last(t)
	if gte := req.Form.Get("created[gte]"); gte != "1699996400" {
		t.Errorf("created[gte] = %q, want CreatedSince less FindClockSkew", gte)
	}
	if req.Form.Get("limit") != "100" {
		t.Errorf("limit = %q, want full pages of 100", req.Form.Get("limit"))
	}
}

func TestDeleteAccountAndLink(t *testing.T) {
	f := newFakeStripe(t)
	f.on("DELETE /v1/accounts/acct_1", map[string]any{"id": "acct_1", "object": "account", "deleted": true})
	f.on("POST /v1/account_links", map[string]any{
		"object": "account_link", "url": "https://connect.stripe.com/setup/s/x", "created": 1700000000, "expires_at": 1700000300,
	})
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	if err := c.DeleteAccount(ctx, "acct_1"); err != nil {
		t.Fatal(err)
	}
	link, err := c.CreateAccountLink(ctx, AccountLinkCreateParams{
		IdempotencyKey: "k", Account: "acct_1", Type: "account_onboarding",
		RefreshURL: "https://app.example/refresh", ReturnURL: "https://app.example/return",
	})
	if err != nil {
		t.Fatal(err)
	}
	if link.URL != "https://connect.stripe.com/setup/s/x" || link.ExpiresAt.Sub(link.Created) != 5*time.Minute {
		t.Errorf("link %+v", link)
	}
	form := f.last(t).Form
	if form.Get("account") != "acct_1" || form.Get("type") != "account_onboarding" || form.Get("return_url") == "" {
		t.Errorf("link params %v", form)
	}
	if _, err := c.CreateAccountLink(ctx, AccountLinkCreateParams{IdempotencyKey: "k"}); !IsTerminal(err) {
		t.Errorf("link without account: %v", err)
	}
}

// Pins: the link's type is account_onboarding or account_update (anything else is refused before
// sending); which requirements it collects goes as collection_options (never the deprecated collect),
// and nothing is sent when left to Stripe's defaults.
func TestAccountLinkParams(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/account_links", map[string]any{
		"object": "account_link", "url": "https://connect.stripe.com/setup/c/x", "created": 1700000000, "expires_at": 1700000300,
	})
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	base := AccountLinkCreateParams{IdempotencyKey: "k", Account: "acct_1", RefreshURL: "https://app.example/refresh", ReturnURL: "https://app.example/return"}
	for _, tc := range []struct {
		name   string
		edit   func(p *AccountLinkCreateParams)
		want   map[string]string
		absent []string
	}{
		{"onboarding, Stripe's defaults", func(p *AccountLinkCreateParams) { p.Type = AccountLinkTypeOnboarding },
			map[string]string{"type": "account_onboarding"}, []string{"collect", "collection_options[fields]", "collection_options[future_requirements]"}},
		{"update, eventually due", func(p *AccountLinkCreateParams) { p.Type = AccountLinkTypeUpdate; p.Collect = "eventually_due" },
			map[string]string{"type": "account_update", "collection_options[fields]": "eventually_due"}, []string{"collect", "collection_options[future_requirements]"}},
		{"future requirements alone", func(p *AccountLinkCreateParams) { p.Type = AccountLinkTypeOnboarding; p.FutureRequirements = "include" },
			map[string]string{"collection_options[fields]": "currently_due", "collection_options[future_requirements]": "include"}, []string{"collect"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			tc.edit(&p)
			if _, err := c.CreateAccountLink(ctx, p); err != nil {
				t.Fatal(err)
			}
			form := f.last(t).Form
			wantForm(t, form, tc.want)
			for _, k := range tc.absent {
				if form.Has(k) {
					t.Errorf("%s = %q sent", k, form.Get(k))
				}
			}
		})
	}
	sent := len(f.seen())
	for name, edit := range map[string]func(p *AccountLinkCreateParams){
		"no type":         func(*AccountLinkCreateParams) {},
		"other type":      func(p *AccountLinkCreateParams) { p.Type = "account_management" },
		"bad collect":     func(p *AccountLinkCreateParams) { p.Type = AccountLinkTypeOnboarding; p.Collect = "everything" },
		"bad future reqs": func(p *AccountLinkCreateParams) { p.Type = AccountLinkTypeOnboarding; p.FutureRequirements = "yes" },
	} {
		p := base
		edit(&p)
		if _, err := c.CreateAccountLink(ctx, p); !IsTerminal(err) || !strings.Contains(err.Error(), "refused before sending") {
			t.Errorf("%s: err = %v, want refused before sending", name, err)
		}
	}
	if len(f.seen()) != sent {
		t.Errorf("refused links reached Stripe: %d requests", len(f.seen())-sent)
	}
}
