package stripeapi

import (
	"context"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/account"
)

const resourceAccount = "account"

// PlatformAccount is the account the connection's API key belongs to.
type PlatformAccount struct {
	ID              string
	Country         string
	DefaultCurrency string
	Email           string
	// DisplayName is the Dashboard display name, or the business name.
	DisplayName string
	// Livemode is derived from the key (sk_live_/rk_live_): the account object does not carry it.
	Livemode bool
}

// Account is a Connect connected account.
type Account struct {
	ID string
	// Type is the legacy account type: standard, express, custom, or none for accounts created with
	// controller properties.
	Type            string
	Country         string
	Email           string
	DefaultCurrency string
	BusinessType    string
	BusinessProfile BusinessProfile
	// Controller is nil when Stripe did not return it.
	Controller *AccountController
	// Capabilities maps each requested capability (card_payments, transfers...) to its status:
	// active, inactive or pending.
	Capabilities     map[string]string
	Requirements     AccountRequirements
	ChargesEnabled   bool
	PayoutsEnabled   bool
	DetailsSubmitted bool
	// PayoutSchedule is nil when Stripe did not return it.
	PayoutSchedule *PayoutSchedule
	Metadata       map[string]string
	Created        time.Time
}

// BusinessProfile is the public face of a connected account's business.
type BusinessProfile struct {
	Name               string
	URL                string
	MCC                string
	ProductDescription string
	SupportEmail       string
	SupportPhone       string
	SupportURL         string
}

// AccountController says who controls a connected account. On create, only FeesPayer,
// LossesPayments, RequirementCollection and StripeDashboardType are sent; Type and IsController
// are read-only.
type AccountController struct {
	FeesPayer             string // account, application
	LossesPayments        string // application, stripe
	RequirementCollection string // application, stripe
	StripeDashboardType   string // express, full, none
	Type                  string // read-only: application, account
	IsController          bool   // read-only
}

// AccountRequirements are the facts a tenant must supply.
type AccountRequirements struct {
	CurrentlyDue        []string
	EventuallyDue       []string
	PastDue             []string
	PendingVerification []string
	DisabledReason      string
	// CurrentDeadline is zero when there is none.
	CurrentDeadline time.Time
	Errors          []RequirementError
}

// RequirementError explains why a requirement was not satisfied.
type RequirementError struct {
	Code        string
	Reason      string
	Requirement string
}

// PayoutSchedule is when a connected account is paid out.
type PayoutSchedule struct {
	Interval  string // manual, daily, weekly, monthly
	DelayDays int64
	// DelayDaysMinimum, in params, sends delay_days=minimum: the lowest delay Stripe allows for the
	// account's country (which differs by country and changes over time), instead of DelayDays.
	// Reads report the resulting number in DelayDays and leave this false.
	DelayDaysMinimum bool
	WeeklyAnchor     string // monday...sunday, for weekly
	MonthlyAnchor    int64  // 1-31, for monthly
}

// AccountCreateParams creates a connected account. Give either Type (legacy) or Controller.
type AccountCreateParams struct {
	IdempotencyKey  string
	Tags            Tags
	Metadata        map[string]string
	Type            string
	Controller      *AccountController
	Country         string
	Email           string
	BusinessType    string
	DefaultCurrency string
	BusinessProfile *BusinessProfile
	// Capabilities to request, e.g. card_payments, transfers, us_bank_account_ach_payments.
	Capabilities   []string
	PayoutSchedule *PayoutSchedule
}

// AccountUpdateParams changes a connected account; nil fields are left unchanged.
type AccountUpdateParams struct {
	IdempotencyKey string
	// Tags, when set, are (re)written, e.g. when adopting an account.
	Tags            *Tags
	Metadata        map[string]string
	Email           *string
	DefaultCurrency *string
	BusinessProfile *BusinessProfile
	// Capabilities maps a capability to true (request it) or false (unrequest it).
	Capabilities   map[string]bool
	PayoutSchedule *PayoutSchedule
}

// AccountListParams filter ListAccounts.
type AccountListParams struct {
	// CreatedSince keeps accounts created at or after this time (exactly; no skew). Zero: all.
	CreatedSince time.Time
	Limit        int
}

// GetPlatformAccount implements PlatformAPI.
func (c *Client) GetPlatformAccount(ctx context.Context) (*PlatformAccount, error) {
	var out *PlatformAccount
	err := c.call(ctx, resourceAccount, "get", "platform", func(ctx context.Context) error {
		p := &stripe.AccountParams{Params: c.params(ctx, "")}
		a := &stripe.Account{}
		// account.Client.Get takes no params, hence no context: call the backend directly.
		if err := c.backend.Call(http.MethodGet, "/v1/account", c.key, p, a); err != nil {
			return sdkErr(err)
		}
		out = &PlatformAccount{
			ID:              a.ID,
			Country:         a.Country,
			DefaultCurrency: string(a.DefaultCurrency),
			Email:           a.Email,
			Livemode:        c.livemode,
		}
		if a.Settings != nil && a.Settings.Dashboard != nil {
			out.DisplayName = a.Settings.Dashboard.DisplayName
		}
		if out.DisplayName == "" && a.BusinessProfile != nil {
			out.DisplayName = a.BusinessProfile.Name
		}
		return nil
	})
	return out, err
}

func (c *Client) accounts() account.Client { return account.Client{B: c.backend, Key: c.key} }

// CreateAccount implements AccountAPI.
func (c *Client) CreateAccount(ctx context.Context, p AccountCreateParams) (*Account, error) {
	var out *Account
	err := c.call(ctx, resourceAccount, "create", p.Email, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, &p.Tags)
		if err != nil {
			return sdkErr(err)
		}
		sp := &stripe.AccountParams{
			Params:          c.params(ctx, p.IdempotencyKey),
			Metadata:        md,
			Type:            strPtr(p.Type),
			Country:         strPtr(p.Country),
			Email:           strPtr(p.Email),
			BusinessType:    strPtr(p.BusinessType),
			DefaultCurrency: strPtr(p.DefaultCurrency),
			BusinessProfile: businessProfileParams(p.BusinessProfile),
			Controller:      controllerParams(p.Controller),
			Settings:        payoutSettingsParams(p.PayoutSchedule),
		}
		for _, name := range p.Capabilities {
			sp.AddExtra("capabilities["+name+"][requested]", "true")
		}
		a, err := c.accounts().New(sp)
		if err != nil {
			return sdkErr(err)
		}
		out = accountFromStripe(a)
		return nil
	})
	return out, err
}

// GetAccount implements AccountAPI.
func (c *Client) GetAccount(ctx context.Context, id string) (*Account, error) {
	var out *Account
	err := c.call(ctx, resourceAccount, "get", id, func(ctx context.Context) error {
		a, err := c.accounts().GetByID(id, &stripe.AccountParams{Params: c.params(ctx, "")})
		if err != nil {
			return sdkErr(err)
		}
		if a.Deleted {
			return notFound(resourceAccount)
		}
		out = accountFromStripe(a)
		return nil
	})
	return out, err
}

// UpdateAccount implements AccountAPI.
func (c *Client) UpdateAccount(ctx context.Context, id string, p AccountUpdateParams) (*Account, error) {
	var out *Account
	err := c.call(ctx, resourceAccount, "update", id, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, p.Tags)
		if err != nil {
			return err
		}
		sp := &stripe.AccountParams{
			Params:          c.params(ctx, p.IdempotencyKey),
			Metadata:        md,
			Email:           p.Email,
			DefaultCurrency: p.DefaultCurrency,
			BusinessProfile: businessProfileParams(p.BusinessProfile),
			Settings:        payoutSettingsParams(p.PayoutSchedule),
		}
		names := make([]string, 0, len(p.Capabilities))
		for name := range p.Capabilities {
			names = append(names, name)
		}
		sort.Strings(names) // a stable body for a stable idempotency key
		for _, name := range names {
			v := "false"
			if p.Capabilities[name] {
				v = "true"
			}
			sp.AddExtra("capabilities["+name+"][requested]", v)
		}
		a, err := c.accounts().Update(id, sp)
		if err != nil {
			return sdkErr(err)
		}
		out = accountFromStripe(a)
		return nil
	})
	return out, err
}

// DeleteAccount implements AccountAPI.
func (c *Client) DeleteAccount(ctx context.Context, id string) error {
	return c.call(ctx, resourceAccount, "delete", id, func(ctx context.Context) error {
		_, err := c.accounts().Del(id, &stripe.AccountParams{Params: c.params(ctx, "")})
		return sdkErr(err)
	})
}

// ListAccounts implements AccountAPI.
func (c *Client) ListAccounts(ctx context.Context, p AccountListParams) ([]Account, error) {
	return c.listAccounts(ctx, createdFrom(p.CreatedSince), p.Limit, nil)
}

// FindAccountsByTags implements AccountAPI.
func (c *Client) FindAccountsByTags(ctx context.Context, tags Tags, opts FindOptions) ([]Account, error) {
	return c.listAccounts(ctx, createdSince(opts.CreatedSince), 0, func(a Account) bool { return tags.Matches(a.Metadata) })
}

func (c *Client) listAccounts(ctx context.Context, created *stripe.RangeQueryParams, limit int, keep func(Account) bool) ([]Account, error) {
	var out []Account
	err := c.call(ctx, resourceAccount, "list", "", func(ctx context.Context) error {
		lp := &stripe.AccountListParams{ListParams: c.listParams(ctx, limit), CreatedRange: created}
		var err error
		out, err = collect(c.accounts().List(lp).Iter, limit, accountValue, keep)
		return sdkErr(err)
	})
	return out, err
}

func accountValue(a *stripe.Account) Account { return *accountFromStripe(a) }

func accountFromStripe(a *stripe.Account) *Account {
	out := &Account{
		ID:               a.ID,
		Type:             string(a.Type),
		Country:          a.Country,
		Email:            a.Email,
		DefaultCurrency:  string(a.DefaultCurrency),
		BusinessType:     string(a.BusinessType),
		Capabilities:     capabilityMap(a.Capabilities),
		ChargesEnabled:   a.ChargesEnabled,
		PayoutsEnabled:   a.PayoutsEnabled,
		DetailsSubmitted: a.DetailsSubmitted,
		Metadata:         a.Metadata,
		Created:          unixTime(a.Created),
	}
	if bp := a.BusinessProfile; bp != nil {
		out.BusinessProfile = BusinessProfile{
			Name: bp.Name, URL: bp.URL, MCC: bp.MCC, ProductDescription: bp.ProductDescription,
			SupportEmail: bp.SupportEmail, SupportPhone: bp.SupportPhone, SupportURL: bp.SupportURL,
		}
	}
	if ctl := a.Controller; ctl != nil {
		out.Controller = &AccountController{
			RequirementCollection: string(ctl.RequirementCollection),
			Type:                  string(ctl.Type),
			IsController:          ctl.IsController,
		}
		if ctl.Fees != nil {
			out.Controller.FeesPayer = string(ctl.Fees.Payer)
		}
		if ctl.Losses != nil {
			out.Controller.LossesPayments = string(ctl.Losses.Payments)
		}
		if ctl.StripeDashboard != nil {
			out.Controller.StripeDashboardType = string(ctl.StripeDashboard.Type)
		}
	}
	if r := a.Requirements; r != nil {
		out.Requirements = AccountRequirements{
			CurrentlyDue:        r.CurrentlyDue,
			EventuallyDue:       r.EventuallyDue,
			PastDue:             r.PastDue,
			PendingVerification: r.PendingVerification,
			DisabledReason:      string(r.DisabledReason),
			CurrentDeadline:     unixTime(r.CurrentDeadline),
		}
		for _, e := range r.Errors {
			if e != nil {
				out.Requirements.Errors = append(out.Requirements.Errors,
					RequirementError{Code: e.Code, Reason: e.Reason, Requirement: e.Requirement})
			}
		}
	}
	if a.Settings != nil && a.Settings.Payouts != nil && a.Settings.Payouts.Schedule != nil {
		s := a.Settings.Payouts.Schedule
		out.PayoutSchedule = &PayoutSchedule{
			Interval: string(s.Interval), DelayDays: s.DelayDays,
			WeeklyAnchor: s.WeeklyAnchor, MonthlyAnchor: s.MonthlyAnchor,
		}
	}
	return out
}

// capabilityMap turns stripe-go's struct of one field per capability into name -> status, so that
// a capability stripe-go added later needs no change here.
func capabilityMap(caps *stripe.AccountCapabilities) map[string]string {
	out := map[string]string{}
	if caps == nil {
		return out
	}
	v := reflect.ValueOf(caps).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() != reflect.String || f.String() == "" {
			continue
		}
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = f.String()
		}
	}
	return out
}

func businessProfileParams(bp *BusinessProfile) *stripe.AccountBusinessProfileParams {
	if bp == nil {
		return nil
	}
	return &stripe.AccountBusinessProfileParams{
		Name:               strPtr(bp.Name),
		URL:                strPtr(bp.URL),
		MCC:                strPtr(bp.MCC),
		ProductDescription: strPtr(bp.ProductDescription),
		SupportEmail:       strPtr(bp.SupportEmail),
		SupportPhone:       strPtr(bp.SupportPhone),
		SupportURL:         strPtr(bp.SupportURL),
	}
}

func controllerParams(ctl *AccountController) *stripe.AccountControllerParams {
	if ctl == nil {
		return nil
	}
	out := &stripe.AccountControllerParams{RequirementCollection: strPtr(ctl.RequirementCollection)}
	if ctl.FeesPayer != "" {
		out.Fees = &stripe.AccountControllerFeesParams{Payer: stripe.String(ctl.FeesPayer)}
	}
	if ctl.LossesPayments != "" {
		out.Losses = &stripe.AccountControllerLossesParams{Payments: stripe.String(ctl.LossesPayments)}
	}
	if ctl.StripeDashboardType != "" {
		out.StripeDashboard = &stripe.AccountControllerStripeDashboardParams{Type: stripe.String(ctl.StripeDashboardType)}
	}
	return out
}

func payoutSettingsParams(s *PayoutSchedule) *stripe.AccountSettingsParams {
	if s == nil {
		return nil
	}
	sched := &stripe.AccountSettingsPayoutsScheduleParams{
		Interval:     strPtr(s.Interval),
		WeeklyAnchor: strPtr(s.WeeklyAnchor),
	}
	switch {
	case s.DelayDaysMinimum:
		sched.DelayDaysMinimum = stripe.Bool(true)
	case s.DelayDays != 0:
		sched.DelayDays = stripe.Int64(s.DelayDays)
	}
	if s.MonthlyAnchor != 0 {
		sched.MonthlyAnchor = stripe.Int64(s.MonthlyAnchor)
	}
	return &stripe.AccountSettingsParams{Payouts: &stripe.AccountSettingsPayoutsParams{Schedule: sched}}
}
