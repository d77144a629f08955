package emulator

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Helpers shared by the billing resources (customers, subscriptions,
// invoices, charges, refunds, payouts, balance transactions).

// refuseUnsupported refuses parameters that Stripe accepts (the spec check
// has let them through) but the emulator does not implement: silently
// ignoring them would let a test pass against behaviour Stripe does not
// have. The wording is the emulator's own.
func refuseUnsupported(p Params, names ...string) error {
	for _, n := range names {
		if p.Has(n) {
			return InvalidRequest(p.Name(n),
				"stripe-emulator does not implement `%s` on this endpoint yet; see hack/stripe-emulator/README.md.", p.Name(n))
		}
	}
	return nil
}

// embeddedList is a list object embedded in another object (subscription
// items, invoice lines, charge refunds), complete on one page.
func embeddedList(url string, data []any) map[string]any {
	if data == nil {
		data = []any{}
	}
	return map[string]any{"object": "list", "data": data, "has_more": false, "url": url}
}

// listData returns the objects of an embedded list, in order.
func listData(o Object, field string) []Object {
	l := o.Map(field)
	raw, _ := l["data"].([]any)
	out := make([]Object, 0, len(raw))
	for _, v := range raw {
		if m, ok := asMap(v); ok {
			out = append(out, Object(m))
		}
	}
	return out
}

func objectsToAny(objs []Object) []any {
	out := make([]any, len(objs))
	for i, o := range objs {
		out[i] = map[string]any(o)
	}
	return out
}

// currencySymbols are the symbols Stripe's descriptions use; other
// currencies are shown with their code.
var currencySymbols = map[string]string{"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$", "jpy": "¥"}

// zeroDecimal lists Stripe's zero-decimal currencies (amounts are whole
// units); only descriptions use it.
var zeroDecimal = map[string]bool{"bif": true, "clp": true, "djf": true, "gnf": true, "jpy": true, "kmf": true,
	"krw": true, "mga": true, "pyg": true, "rwf": true, "ugx": true, "vnd": true, "vuv": true, "xaf": true, "xof": true, "xpf": true}

// formatMoney renders an amount in the smallest currency unit as Stripe's
// descriptions do: $10.00.
func formatMoney(amount int64, currency string) string {
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	num := fmt.Sprintf("%d.%02d", amount/100, amount%100)
	if zeroDecimal[currency] {
		num = strconv.FormatInt(amount, 10)
	}
	if sym, ok := currencySymbols[currency]; ok {
		return sign + sym + num
	}
	return sign + num + " " + strings.ToUpper(currency)
}

// formatDay renders a date as Stripe's proration descriptions do: 15 Mar 2024.
func formatDay(unix int64) string { return time.Unix(unix, 0).UTC().Format("2 Jan 2006") }

// startOfDay is midnight UTC of the day t falls on.
func startOfDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// addInterval moves t forward by n recurring intervals. Months and years
// keep the day of month, clamped to the month's last day (a subscription
// anchored on 31 January renews on 29 February, then 31 March), which is how
// Stripe documents billing cycles.
func addInterval(t time.Time, interval string, n int64) time.Time {
	t = t.UTC()
	switch interval {
	case "day":
		return t.AddDate(0, 0, int(n))
	case "week":
		return t.AddDate(0, 0, int(7*n))
	case "year":
		n *= 12
	}
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// nextPeriodEnd returns the first billing date after `after` of a cycle
// anchored at anchor.
func nextPeriodEnd(anchor int64, interval string, count, after int64) int64 {
	a := time.Unix(anchor, 0)
	for k := int64(1); k < 100000; k++ {
		if end := addInterval(a, interval, k*count).Unix(); end > after {
			return end
		}
	}
	return addInterval(time.Unix(after, 0), interval, count).Unix()
}

// decimalValue reads an integer or decimal amount field of a price or tier.
// The decimal string was checked by readAmount when the price was created.
func decimalValue(m map[string]any, intKey, decKey string) float64 {
	if n, ok := m[intKey].(int64); ok {
		return float64(n)
	}
	if s, ok := m[decKey].(string); ok {
		f, _ := strconv.ParseFloat(s, 64)
		return f
	}
	return 0
}

// priceAmount is what quantity units of a recurring price cost for one
// full period, in the smallest currency unit: per-unit (integer or decimal
// amounts, transform_quantity) and tiered (volume or graduated) prices.
// Metered prices bill usage in arrears; without usage records they cost 0.
func priceAmount(price Object, quantity int64) int64 {
	if rec := price.Map("recurring"); rec != nil && rec["usage_type"] == "metered" {
		return 0
	}
	q := float64(quantity)
	if tq := price.Map("transform_quantity"); tq != nil {
		if div, ok := tq["divide_by"].(int64); ok && div > 0 {
			q /= float64(div)
			if tq["round"] == "down" {
				q = math.Floor(q)
			} else {
				q = math.Ceil(q)
			}
		}
	}
	if price.Str("billing_scheme") != "tiered" {
		unit := decimalValue(price, "unit_amount", "unit_amount_decimal")
		return int64(math.Round(unit * q))
	}
	tiers, _ := price["tiers"].([]any)
	var total float64
	var lower float64
	for _, raw := range tiers {
		t, _ := asMap(raw)
		upper := math.Inf(1)
		if n, ok := t["up_to"].(int64); ok {
			upper = float64(n)
		}
		unit := decimalValue(t, "unit_amount", "unit_amount_decimal")
		flat := decimalValue(t, "flat_amount", "flat_amount_decimal")
		if price.Str("tiers_mode") == "volume" {
			if q <= upper {
				return int64(math.Round(unit*q + flat))
			}
			continue
		}
		if q <= lower {
			break
		}
		units := math.Min(q, upper) - lower
		total += unit*units + flat
		lower = upper
	}
	return int64(math.Round(total))
}

// priceSnapshot is a price as it appears embedded in another object
// (subscription items, invoice lines): as the API renders it by default.
func priceSnapshot(c *Call, price Object) map[string]any {
	r, err := c.emu.renderObject(c.Tx, price, nil, 0)
	if err != nil {
		return map[string]any(price)
	}
	return map[string]any(r)
}

// productName returns the name of a price's product, for descriptions.
func productName(c *Call, price Object) string {
	if prod, ok := c.Get("product", price.Str("product")); ok {
		return prod.Str("name")
	}
	return price.Str("product")
}

// saveQuiet stores a changed object without an event: for fields Stripe
// changes without announcing (a customer's next_invoice_sequence).
func saveQuiet(c *Call, obj Object) error { return c.Update(obj.Kind(), obj) }

// saveSubscription stores a changed subscription and emits
// customer.subscription.updated (its event is not named after the object)
// with the changed fields as previous_attributes. No change, no event.
func saveSubscription(c *Call, old, updated Object) error {
	prev := Diff(old, updated)
	if len(prev) == 0 {
		return nil
	}
	if err := c.Update(updated.Kind(), updated); err != nil {
		return err
	}
	return c.Emit("customer.subscription.updated", updated, prev)
}

// controlTx runs fn as the emulator itself acting in account ("" = the
// platform): the control API's billing operations (renewals, simulated
// charges, payouts) are things Stripe does on its own, so they run in one
// store transaction like an API request, emit events the same way, and are
// not counted as API requests.
func (e *Emulator) controlTx(account, op string, fn func(c *Call) error) error {
	acct := account
	if acct == "" {
		acct = e.platform
	}
	connected := acct != e.platform
	if connected {
		known := false
		_ = e.store.Read(e.platform, e.clock.Now(), func(tx *Tx) error {
			_, known = tx.Get("account", acct)
			return nil
		})
		if !known {
			return newError(http.StatusForbidden, TypeInvalidRequest, "account_invalid", "",
				fmt.Sprintf("No such connected account of this platform: '%s'", acct))
		}
	}
	// No request id: events of what Stripe does on its own carry
	// request.id null.
	req := &Request{
		Method: http.MethodPost, Path: controlPrefix + op, Pattern: controlPrefix + op,
		Params: NewParams(nil), Account: acct, Connected: connected, FromDashboard: true,
	}
	return e.store.Write(acct, e.clock.Now(), func(tx *Tx) error {
		return fn(&Call{Tx: tx, Req: req, emu: e})
	})
}

// oldestFirst reverses what scanAll returns (newest first, in insertion
// order) into creation order.
func oldestFirst(objs []Object) {
	for i, j := 0, len(objs)-1; i < j; i, j = i+1, j-1 {
		objs[i], objs[j] = objs[j], objs[i]
	}
}

// scanAll collects copies of every object of kind that keep accepts, newest
// first.
func scanAll(c *Call, kind string, keep func(Object) bool) []Object {
	var out []Object
	c.Scan(kind, func(o Object) bool {
		if keep == nil || keep(o) {
			out = append(out, o.Clone())
		}
		return true
	})
	return out
}

// accountProfile returns the country, default currency and display name of
// the account a call runs in (the platform's profile, or the connected
// account's), for the fields invoices and balances show.
func accountProfile(c *Call) (country, currency string, name any) {
	country, currency = "US", "usd"
	if c.Account == c.emu.platform {
		p := c.emu.Platform()
		return defaultString(p.Country, country), defaultString(p.DefaultCurrency, currency), nilIfEmpty(p.DisplayName)
	}
	acct, ok := c.GetIn(c.emu.platform, "account", c.Account)
	if !ok {
		return country, currency, nil
	}
	if bp := acct.Map("business_profile"); bp != nil {
		name = bp["name"]
	}
	return defaultString(acct.Str("country"), country), defaultString(acct.Str("default_currency"), currency), name
}
