package stripetenant

import (
	"slices"
	"sort"

	"k8s.io/utils/ptr"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// accountCreateParams turns the spec into Stripe's account create. Type and controller are create-only
// (and refused at admission when changed), like the country.
func accountCreateParams(spec v1alpha1.TenantAccount) stripeapi.AccountCreateParams {
	p := stripeapi.AccountCreateParams{
		Metadata:        spec.Metadata,
		Type:            string(spec.Type),
		Controller:      controllerParams(spec.Controller),
		Country:         spec.Country,
		Email:           spec.Email,
		BusinessType:    string(spec.BusinessType),
		BusinessProfile: businessProfile(spec.BusinessProfile),
		PayoutSchedule:  payoutSchedule(spec.PayoutSchedule),
	}
	for _, c := range spec.Capabilities {
		p.Capabilities = append(p.Capabilities, string(c))
	}
	sort.Strings(p.Capabilities)
	return p
}

func controllerParams(c *v1alpha1.AccountController) *stripeapi.AccountController {
	if c == nil {
		return nil
	}
	out := &stripeapi.AccountController{RequirementCollection: c.RequirementCollection}
	if c.Fees != nil {
		out.FeesPayer = c.Fees.Payer
	}
	if c.Losses != nil {
		out.LossesPayments = c.Losses.Payments
	}
	if c.StripeDashboard != nil {
		out.StripeDashboardType = c.StripeDashboard.Type
	}
	return out
}

func businessProfile(bp *v1alpha1.BusinessProfile) *stripeapi.BusinessProfile {
	if bp == nil {
		return nil
	}
	return &stripeapi.BusinessProfile{Name: bp.Name, URL: bp.URL, MCC: bp.MCC, ProductDescription: bp.ProductDescription, SupportEmail: bp.SupportEmail}
}

// payoutSchedule asks for Stripe's minimum delay when the spec sets none: the minimum differs by
// country and changes over time, so it is Stripe's to know, not ours to hard-code.
func payoutSchedule(s *v1alpha1.PayoutSchedule) *stripeapi.PayoutSchedule {
	if s == nil {
		return nil
	}
	out := &stripeapi.PayoutSchedule{Interval: string(s.Interval), WeeklyAnchor: string(s.WeeklyAnchor), MonthlyAnchor: int64(s.MonthlyAnchor)}
	if s.Interval != "manual" {
		if s.DelayDays != nil {
			out.DelayDays = int64(*s.DelayDays)
		} else {
			out.DelayDaysMinimum = true
		}
	}
	return out
}

// accountChanges is what an account update must send to make Stripe match the spec, field by field,
// and the names of the fields that differ. Only what the spec sets is compared: what it leaves out
// belongs to the tenant (filled in during onboarding) and is never overwritten.
type accountChanges struct {
	params stripeapi.AccountUpdateParams
	fields []string
}

func diffAccount(spec v1alpha1.TenantAccount, account *stripeapi.Account) accountChanges {
	var c accountChanges
	if spec.Email != "" && spec.Email != account.Email {
		c.params.Email = ptr.To(spec.Email)
		c.fields = append(c.fields, "email")
	}
	if bp := spec.BusinessProfile; bp != nil && profileDiffers(*bp, account.BusinessProfile) {
		c.params.BusinessProfile = businessProfile(bp)
		c.fields = append(c.fields, "businessProfile")
	}
	for _, name := range spec.Capabilities {
		if _, requested := account.Capabilities[string(name)]; !requested {
			if c.params.Capabilities == nil {
				c.params.Capabilities = map[string]bool{}
			}
			c.params.Capabilities[string(name)] = true
		}
	}
	if len(c.params.Capabilities) > 0 {
		c.fields = append(c.fields, "capabilities")
	}
	if want := payoutSchedule(spec.PayoutSchedule); want != nil && !schedulesMatch(*want, account.PayoutSchedule) {
		c.params.PayoutSchedule = want
		c.fields = append(c.fields, "payoutSchedule")
	}
	if changed := metadataChanges(spec.Metadata, account.Metadata); len(changed) > 0 {
		c.params.Metadata = changed
		c.fields = append(c.fields, "metadata")
	}
	return c
}

// profileDiffers says whether a field the spec sets differs from Stripe's.
func profileDiffers(want v1alpha1.BusinessProfile, have stripeapi.BusinessProfile) bool {
	for _, f := range [][2]string{{want.Name, have.Name}, {want.URL, have.URL}, {want.MCC, have.MCC}, {want.ProductDescription, have.ProductDescription}, {want.SupportEmail, have.SupportEmail}} {
		if f[0] != "" && f[0] != f[1] {
			return true
		}
	}
	return false
}

// schedulesMatch compares a wanted schedule with Stripe's; a wanted minimum delay matches whatever
// delay Stripe chose as its minimum.
func schedulesMatch(want stripeapi.PayoutSchedule, have *stripeapi.PayoutSchedule) bool {
	if have == nil {
		return false
	}
	if want.Interval != have.Interval || (want.Interval == "weekly" && want.WeeklyAnchor != have.WeeklyAnchor) ||
		(want.Interval == "monthly" && want.MonthlyAnchor != have.MonthlyAnchor) {
		return false
	}
	return want.DelayDaysMinimum || want.Interval == "manual" || want.DelayDays == have.DelayDays
}

// metadataChanges returns the user metadata keys whose values differ (keys the spec no longer has are
// left alone: the spec owns only the keys it names, like the tags, which it never touches).
func metadataChanges(want, have map[string]string) map[string]string {
	var out map[string]string
	for k, v := range want {
		if have[k] != v {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// capabilityStatuses reports each requested capability in Stripe's words, in a stable order.
func capabilityStatuses(spec v1alpha1.TenantAccount, account *stripeapi.Account) []v1alpha1.CapabilityStatus {
	names := map[string]bool{}
	for _, c := range spec.Capabilities {
		names[string(c)] = true
	}
	for name := range account.Capabilities {
		names[name] = true
	}
	sorted := make([]string, 0, len(names))
	for name := range names {
		sorted = append(sorted, name)
	}
	slices.Sort(sorted)
	out := make([]v1alpha1.CapabilityStatus, 0, len(sorted))
	for _, name := range sorted {
		status, ok := account.Capabilities[name]
		if !ok {
			status = "unrequested"
		}
		out = append(out, v1alpha1.CapabilityStatus{Name: name, Status: status})
	}
	return out
}

// platformCollectsRequirements says whether the platform, not Stripe, collects the account's updated
// requirements: only then does Stripe offer account_update links.
func platformCollectsRequirements(spec v1alpha1.TenantAccount, account *stripeapi.Account) bool {
	if account.Controller != nil && account.Controller.RequirementCollection != "" {
		return account.Controller.RequirementCollection == "application"
	}
	if spec.Controller != nil && spec.Controller.RequirementCollection != "" {
		return spec.Controller.RequirementCollection == "application"
	}
	return account.Type == string(v1alpha1.AccountTypeCustom)
}

// stripeLiable says whether Stripe, not the platform, is liable for the account's losses (Standard
// accounts are): Stripe never deletes such an account in live mode.
func stripeLiable(account *stripeapi.Account) bool {
	if account.Type == string(v1alpha1.AccountTypeStandard) {
		return true
	}
	return account.Controller != nil && account.Controller.LossesPayments == "stripe"
}
