package emulator

import (
	"sort"
	"strings"
)

// How a connected account's verification state is modelled.
//
// Stripe's documentation (Account object, "requirements"; Connect,
// "Handling verification") describes the moving parts:
//
//   - a requested capability is `inactive` until its requirements are
//     provided and verified, `pending` while Stripe verifies, `active` once
//     verified; charges_enabled/payouts_enabled follow;
//   - `requirements.currently_due` are fields needed to keep the account
//     enabled, `past_due` those not collected by `current_deadline` (the
//     account is then disabled, `disabled_reason: requirements.past_due`),
//     `pending_verification` those Stripe is checking, `eventually_due`
//     those needed once volume thresholds are reached;
//   - an account with no requested capability is disabled with
//     `action_required.requested_capabilities`.
//
// Which fields a country and business type need is Stripe's private
// business: the emulator uses one fixed list per business type (below,
// emulator's own†), removes fields as they are provided through the API,
// and leaves verification (pending → active) to the control API
// (SubmitOnboarding, CompleteOnboarding), as Stripe leaves it to Stripe.

// accountStateKind is the emulator's private record of a connected account
// (not an API object): whether onboarding started, and its balance.
const accountStateKind = "emulator_account_state"

// onboardingFields are the fields a new account with requested
// capabilities must provide (emulator's own list†, shaped like the fields
// Stripe reports for a US account).
func onboardingFields(businessType string) []string {
	fields := []string{
		"business_profile.mcc", "business_profile.url", "external_account",
		"tos_acceptance.date", "tos_acceptance.ip",
	}
	switch businessType {
	case "individual":
		fields = append(fields, "individual.address.city", "individual.address.line1",
			"individual.address.postal_code", "individual.address.state", "individual.dob.day",
			"individual.dob.month", "individual.dob.year", "individual.email", "individual.first_name",
			"individual.last_name", "individual.phone", "individual.ssn_last_4")
	case "company", "non_profit", "government_entity":
		fields = append(fields, "company.address.city", "company.address.line1", "company.address.postal_code",
			"company.address.state", "company.name", "company.phone", "company.tax_id")
	default:
		fields = append(fields, "business_type")
	}
	sort.Strings(fields)
	return fields
}

func strList(v any) []string {
	var out []string
	switch l := v.(type) {
	case []any:
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, l...)
	}
	return out
}

func anyList(s []string) []any {
	out := make([]any, 0, len(s))
	for _, x := range s {
		out = append(out, x)
	}
	return out
}

// satisfyRequirements removes provided fields (dotted paths such as
// business_profile.url or company.address.city; a prefix such as
// "company" satisfies every company.* field) from both requirement hashes.
func satisfyRequirements(acct Object, provided []string) {
	if len(provided) == 0 {
		return
	}
	covered := func(field string) bool {
		for _, p := range provided {
			if field == p || strings.HasPrefix(field, p+".") {
				return true
			}
		}
		return false
	}
	for _, key := range []string{"requirements", "future_requirements"} {
		req := acct.Map(key)
		if req == nil {
			continue
		}
		for _, list := range []string{"currently_due", "eventually_due", "past_due"} {
			var keep []string
			for _, f := range strList(req[list]) {
				if !covered(f) {
					keep = append(keep, f)
				}
			}
			req[list] = anyList(keep)
		}
		var errs []any
		for _, e := range toSlice(req["errors"]) {
			if m, ok := e.(map[string]any); ok && covered(strOf(m["requirement"])) {
				continue
			}
			errs = append(errs, e)
		}
		req["errors"] = nonNilSlice(errs)
	}
}

func toSlice(v any) []any { l, _ := v.([]any); return l }

func nonNilSlice(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

func strOf(v any) string { s, _ := v.(string); return s }

// requestedCapabilities returns the capability names of the account.
func requestedCapabilities(acct Object) []string {
	return sortedKeys(acct.Map("capabilities"))
}

// recomputeAccount derives what Stripe derives from the requirements and
// capabilities: disabled_reason, charges_enabled, payouts_enabled and the
// status of each capability that is not active yet.
func recomputeAccount(acct Object) {
	req := acct.Map("requirements")
	if req == nil {
		req = emptyRequirements()
		acct["requirements"] = req
	}
	caps := acct.Map("capabilities")
	currently := strList(req["currently_due"])
	pastDue := strList(req["past_due"])
	pending := strList(req["pending_verification"])
	reason := strOf(req["disabled_reason"])
	// Reasons Stripe sets by its own decision (rejection, review, a
	// platform pause) stay until cleared by the control API.
	derived := reason == "" || reason == "requirements.past_due" || reason == "requirements.pending_verification" ||
		reason == "action_required.requested_capabilities"
	if derived {
		switch {
		case len(caps) == 0:
			reason = "action_required.requested_capabilities"
		case len(pastDue) > 0:
			reason = "requirements.past_due"
		case len(pending) > 0 && !anyCapability(caps, "active"):
			reason = "requirements.pending_verification"
		default:
			reason = ""
		}
	}
	if reason == "" {
		req["disabled_reason"] = nil
	} else {
		req["disabled_reason"] = reason
	}
	if len(currently) == 0 && len(pastDue) == 0 {
		req["current_deadline"] = nil
	}
	for name, st := range caps {
		switch {
		case reason != "" && reason != "requirements.pending_verification":
			if st == "active" || st == "pending" {
				caps[name] = "inactive"
			}
		case len(currently) > 0 || len(pastDue) > 0:
			if st == "pending" {
				caps[name] = "inactive"
			}
		}
	}
	enabled := reason == ""
	charges := false
	for name, st := range caps {
		if st == "active" && (name == "card_payments" || strings.HasSuffix(name, "_payments")) {
			charges = true
		}
	}
	acct["charges_enabled"] = enabled && charges
	acct["payouts_enabled"] = enabled && acct.Bool("details_submitted") && len(pastDue) == 0 &&
		(caps["transfers"] == "active" || charges)
}

func anyCapability(caps map[string]any, status string) bool {
	for _, st := range caps {
		if st == status {
			return true
		}
	}
	return false
}

// capabilityObject renders the capability object of an account (what
// GET /v1/accounts/{account}/capabilities/{capability} returns and
// capability.updated carries).
func capabilityObject(acct Object, name string, requestedAt any) Object {
	status, _ := acct.Map("capabilities")[name].(string)
	requested := status != ""
	if !requested {
		status = "unrequested"
	}
	reqs := emptyRequirements()
	if status != "active" {
		if r := acct.Map("requirements"); r != nil {
			reqs = cloneMap(r)
		}
	}
	return Object{
		"id": name, "object": "capability", "account": acct.ID(),
		"future_requirements": cloneMap(acct.Map("future_requirements")),
		"requested":           requested, "requested_at": requestedAt, "requirements": reqs, "status": status,
	}
}

// accountState returns the private record of a connected account.
func accountState(tx *Tx, platform, id string) Object {
	st, ok := tx.GetIn(platform, accountStateKind, id)
	if !ok {
		return Object{"id": id, "object": accountStateKind, "onboarding_started": false,
			"balance": map[string]any{}, "requested_at": map[string]any{}}
	}
	return st
}

func putAccountState(tx *Tx, platform string, st Object) error {
	if _, ok := tx.GetIn(platform, accountStateKind, st.ID()); ok {
		return tx.UpdateIn(platform, accountStateKind, st)
	}
	return tx.InsertIn(platform, accountStateKind, st)
}

// saveAccount stores a changed connected account (it lives in the
// platform's scope) and emits what Stripe emits: account.updated and one
// capability.updated per capability whose status or request changed, all
// as events of the connected account (so Connect endpoints receive them
// with `account` set). No change, no event.
func (c *Call) saveAccount(old, updated Object) error {
	platform := c.emu.platform
	recomputeAccount(updated)
	prev := Diff(old, updated)
	if len(prev) == 0 {
		return nil
	}
	if err := c.UpdateIn(platform, "account", updated); err != nil {
		return err
	}
	id := updated.ID()
	st := accountState(c.Tx, platform, id)
	reqAt := st.Map("requested_at")
	oldCaps, newCaps := old.Map("capabilities"), updated.Map("capabilities")
	var changed []string
	for _, name := range sortedKeys(mergeKeys(oldCaps, newCaps)) {
		if oldCaps[name] != newCaps[name] {
			changed = append(changed, name)
			if _, had := oldCaps[name]; !had {
				reqAt[name] = c.Now().Unix()
			}
		}
	}
	if len(changed) > 0 {
		st["requested_at"] = reqAt
		if err := putAccountState(c.Tx, platform, st); err != nil {
			return err
		}
	}
	if err := c.EmitIn(id, "account.updated", updated, prev); err != nil {
		return err
	}
	for _, name := range changed {
		oldCap := capabilityObject(old, name, reqAt[name])
		newCap := capabilityObject(updated, name, reqAt[name])
		if err := c.EmitIn(id, "capability.updated", newCap, Diff(oldCap, newCap)); err != nil {
			return err
		}
	}
	return nil
}

func mergeKeys(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
