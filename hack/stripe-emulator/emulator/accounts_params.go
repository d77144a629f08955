package emulator

import (
	"sort"
	"strings"
)

// applyAccountParams applies the parameters create and update share to
// acct. prof is the account's controller properties; started says whether
// Connect onboarding has started (an account link was created or details
// were submitted), after which Stripe lets business_type, company and
// individual change only where the platform collects requirements
// (API reference, "Update an account": "only be updated for accounts where
// controller.requirement_collection is application, which includes Custom
// accounts"). It returns the requirement fields the parameters provide.
func applyAccountParams(p Params, acct Object, prof controllerProps, started bool) ([]string, error) {
	var provided []string
	collects := prof.platformCollects()
	if !collects && started {
		for _, f := range []string{"business_type", "company", "individual"} {
			if p.Has(f) {
				return nil, InvalidRequest(f, "Once Connect Onboarding has started (an Account Link or Account Session "+
					"was created), `%s` can only be updated for accounts where controller.requirement_collection is "+
					"application, which includes Custom accounts; this account's is `%s`.", f, prof.RequirementCollection)
			}
		}
	}
	if p.Has("tos_acceptance") && !collects {
		// Only a platform that collects requirements may attest that the
		// account accepted the services agreement ("A value of
		// application means that your platform can ... attest that the
		// account has seen and accepted the Stripe service agreement
		// using the API"); Stripe collects it from the others (Standard
		// and Express accounts).
		return nil, InvalidRequest("tos_acceptance",
			"You cannot accept the Terms of Service on behalf of Standard and Express connected accounts, "+
				"or of any account where Stripe collects requirements (controller.requirement_collection=stripe).")
	}
	if v, ok := p.String("email"); ok {
		acct["email"] = nullIfEmpty(v)
	}
	if v, ok := p.String("business_type"); ok && v != "" {
		acct["business_type"] = v
		provided = append(provided, "business_type")
	}
	if v, ok := p.String("default_currency"); ok {
		cur, err := normalizeCurrency("default_currency", v)
		if err != nil {
			return nil, err
		}
		acct["default_currency"] = cur
	}
	if bp, ok := p.Sub("business_profile"); ok {
		got, err := applyBusinessProfile(bp, acct.Map("business_profile"))
		if err != nil {
			return nil, err
		}
		provided = append(provided, got...)
	}
	if s, ok := p.Sub("settings"); ok {
		if err := applySettings(s, acct.Map("settings"), acct.Str("country")); err != nil {
			return nil, err
		}
	}
	if caps, ok := p.Sub("capabilities"); ok {
		if err := applyCapabilities(caps, acct); err != nil {
			return nil, err
		}
	}
	if tos, ok := p.Sub("tos_acceptance"); ok {
		t := acct.Map("tos_acceptance")
		if d, ok, err := tos.Int("date"); err != nil {
			return nil, err
		} else if ok {
			t["date"] = d
			provided = append(provided, "tos_acceptance.date")
		}
		if ip, ok := tos.String("ip"); ok && ip != "" {
			t["ip"] = ip
			provided = append(provided, "tos_acceptance.ip")
		}
		if ua, ok := tos.String("user_agent"); ok {
			t["user_agent"] = nullIfEmpty(ua)
		}
		if sa, ok := tos.String("service_agreement"); ok {
			t["service_agreement"] = sa
		}
	}
	// Identity details are not rendered by the emulator (see README, left
	// out) but count as provided requirement fields.
	for _, f := range []string{"company", "individual", "documents"} {
		if sub, ok := p.Raw()[f].(map[string]any); ok {
			provided = append(provided, flattenParams(f, sub)...)
		}
	}
	if p.Has("external_account") {
		provided = append(provided, "external_account")
	}
	md, err := p.ApplyMetadata(acct.Map("metadata"))
	if err != nil {
		return nil, err
	}
	acct["metadata"] = md
	sort.Strings(provided)
	return provided, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// flattenParams lists the dotted paths of the leaves under prefix.
func flattenParams(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		path := prefix + "." + k
		if sub, ok := v.(map[string]any); ok {
			out = append(out, flattenParams(path, sub)...)
		} else {
			out = append(out, path)
		}
	}
	return out
}

func applyBusinessProfile(bp Params, prof map[string]any) ([]string, error) {
	var provided []string
	for _, f := range []string{"mcc", "name", "product_description", "support_email", "support_phone", "support_url", "url"} {
		if v, ok := bp.String(f); ok {
			prof[f] = nullIfEmpty(v)
			if v != "" {
				provided = append(provided, "business_profile."+f)
			}
		}
	}
	if v, ok, err := bp.Int("estimated_worker_count"); err != nil {
		return nil, err
	} else if ok {
		prof["estimated_worker_count"] = v
	}
	if addr, ok := bp.Sub("support_address"); ok {
		a := map[string]any{}
		for _, f := range []string{"city", "country", "line1", "line2", "postal_code", "state"} {
			v, _ := addr.String(f)
			a[f] = nullIfEmpty(v)
		}
		prof["support_address"] = a
	}
	for _, f := range []string{"annual_revenue", "monthly_estimated_revenue"} {
		sub, ok := bp.Sub(f)
		if !ok {
			continue
		}
		amt, _, err := sub.Int("amount")
		if err != nil {
			return nil, err
		}
		cur, _ := sub.String("currency")
		c, cerr := normalizeCurrency(sub.Name("currency"), cur)
		if cerr != nil {
			return nil, cerr
		}
		v := map[string]any{"amount": amt, "currency": c}
		if f == "annual_revenue" {
			fy, _ := sub.String("fiscal_year_end")
			v["fiscal_year_end"] = fy
		}
		prof[f] = v
	}
	return provided, nil
}

// applyCapabilities requests (requested=true: a new capability starts
// `inactive`) or removes (requested=false) capabilities.
func applyCapabilities(caps Params, acct Object) error {
	cur := acct.Map("capabilities")
	if cur == nil {
		cur = map[string]any{}
	}
	for _, name := range caps.Keys() {
		sub, ok := caps.Sub(name)
		if !ok {
			return InvalidRequest(caps.Name(name), "Invalid hash")
		}
		req, has, err := sub.Bool("requested")
		if err != nil {
			return err
		}
		if !has {
			continue
		}
		_, exists := cur[name]
		switch {
		case req && !exists:
			cur[name] = "inactive"
		case !req && exists:
			delete(cur, name)
		}
	}
	acct["capabilities"] = cur
	return nil
}

var weekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

func applySettings(s Params, settings map[string]any, country string) error {
	for _, group := range []struct {
		name   string
		fields []string
	}{
		{"payments", []string{"statement_descriptor", "statement_descriptor_kana", "statement_descriptor_kanji"}},
		{"branding", []string{"icon", "logo", "primary_color", "secondary_color"}},
		{"card_payments", []string{"statement_descriptor_prefix", "statement_descriptor_prefix_kana", "statement_descriptor_prefix_kanji"}},
		{"bacs_debit_payments", []string{"display_name"}},
	} {
		sub, ok := s.Sub(group.name)
		if !ok {
			continue
		}
		dst, _ := settings[group.name].(map[string]any)
		if dst == nil {
			dst = map[string]any{}
			settings[group.name] = dst
		}
		for _, f := range group.fields {
			if v, ok := sub.String(f); ok {
				dst[f] = nullIfEmpty(v)
			}
		}
		if group.name == "card_payments" {
			if d, ok := sub.Sub("decline_on"); ok {
				dec, _ := dst["decline_on"].(map[string]any)
				if dec == nil {
					dec = map[string]any{}
					dst["decline_on"] = dec
				}
				for _, f := range []string{"avs_failure", "cvc_failure"} {
					if v, ok, err := d.Bool(f); err != nil {
						return err
					} else if ok {
						dec[f] = v
					}
				}
			}
		}
	}
	po, ok := s.Sub("payouts")
	if !ok {
		return nil
	}
	dst, _ := settings["payouts"].(map[string]any)
	if dst == nil {
		dst = map[string]any{"debit_negative_balances": true, "schedule": defaultPayoutSchedule(country), "statement_descriptor": nil}
		settings["payouts"] = dst
	}
	if v, ok, err := po.Bool("debit_negative_balances"); err != nil {
		return err
	} else if ok {
		dst["debit_negative_balances"] = v
	}
	if v, ok := po.String("statement_descriptor"); ok {
		dst["statement_descriptor"] = nullIfEmpty(v)
	}
	if sch, ok := po.Sub("schedule"); ok {
		cur, _ := dst["schedule"].(map[string]any)
		next, err := applyPayoutSchedule(sch, cur, country)
		if err != nil {
			return err
		}
		dst["schedule"] = next
	}
	return nil
}

// applyPayoutSchedule validates settings[payouts][schedule] as Stripe's
// reference documents it: interval daily/weekly/monthly/manual;
// weekly_anchor required and applicable only when weekly, monthly_anchor
// (1–31) required and applicable only when monthly; delay_days an integer
// or `minimum` (the lowest value for the account's country; not below it),
// kept as it was when the interval is manual. The anchor of the other
// interval is not shown.
func applyPayoutSchedule(p Params, cur map[string]any, country string) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range cur {
		out[k] = v
	}
	interval, hasInterval := p.String("interval")
	if !hasInterval {
		interval = strOf(out["interval"])
	}
	if interval == "" {
		interval = "daily"
	}
	minDelay := defaultPayoutSchedule(country)["delay_days"].(int64)
	if v, ok := p.String("delay_days"); ok {
		if v == "minimum" {
			out["delay_days"] = minDelay
		} else {
			d, _, err := p.Int("delay_days")
			if err != nil {
				return nil, err
			}
			if d < minDelay {
				return nil, InvalidRequest(p.Name("delay_days"),
					"The minimum delay_days for accounts in %s is %d; you passed %d.", country, minDelay, d)
			}
			out["delay_days"] = d
		}
	}
	if _, ok := out["delay_days"]; !ok {
		out["delay_days"] = minDelay
	}
	weekly, hasWeekly := p.String("weekly_anchor")
	monthly, hasMonthly, err := p.Int("monthly_anchor")
	if err != nil {
		return nil, err
	}
	if hasWeekly && interval != "weekly" {
		return nil, InvalidRequest(p.Name("weekly_anchor"),
			"weekly_anchor can only be set when interval is weekly (interval is %s).", interval)
	}
	if hasMonthly && interval != "monthly" {
		return nil, InvalidRequest(p.Name("monthly_anchor"),
			"monthly_anchor can only be set when interval is monthly (interval is %s).", interval)
	}
	delete(out, "weekly_anchor")
	delete(out, "monthly_anchor")
	switch interval {
	case "weekly":
		if !hasWeekly {
			if prev := strOf(cur["weekly_anchor"]); prev != "" && strOf(cur["interval"]) == "weekly" {
				weekly = prev
			} else {
				return nil, MissingParam(p.Name("weekly_anchor"))
			}
		}
		if !contains(weekdays, strings.ToLower(weekly)) {
			return nil, InvalidRequest(p.Name("weekly_anchor"), "Invalid weekly_anchor: must be one of %s", strings.Join(weekdays, ", "))
		}
		out["weekly_anchor"] = strings.ToLower(weekly)
	case "monthly":
		if !hasMonthly {
			if prev, ok := cur["monthly_anchor"].(int64); ok && strOf(cur["interval"]) == "monthly" {
				monthly = prev
			} else {
				return nil, MissingParam(p.Name("monthly_anchor"))
			}
		}
		if monthly < 1 || monthly > 31 {
			return nil, InvalidRequest(p.Name("monthly_anchor"),
				"monthly_anchor must be a day of the month between 1 and 31; you passed %d.", monthly)
		}
		out["monthly_anchor"] = monthly
	}
	out["interval"] = interval
	return out, nil
}
