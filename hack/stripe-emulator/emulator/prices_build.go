package emulator

import (
	"regexp"
	"strconv"
	"strings"
)

// Stripe's limit on a recurring interval: "Maximum of three years interval
// allowed (3 years, 36 months, or 156 weeks)" (stripe-go v76, price.go).
var maxIntervalCount = map[string]int64{"day": 1095, "week": 156, "month": 36, "year": 3}

// decimalAmount is Stripe's decimal amount format: at most 12 decimal places.
var decimalAmount = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,12})?$`)

// buildPrice validates price parameters (a price create, or a product's
// default_price_data) and returns the new price object for productID. It
// does not store it.
func buildPrice(c *Call, p Params, productID string) (Object, error) {
	cur, ok := p.String("currency")
	if !ok {
		return nil, MissingParam(p.Name("currency"))
	}
	currency, cerr := normalizeCurrency(p.Name("currency"), cur)
	if cerr != nil {
		return nil, cerr
	}
	price := c.NewObject("price")
	for k, v := range map[string]any{
		"active": true, "billing_scheme": "per_unit", "currency": currency, "custom_unit_amount": nil,
		"lookup_key": nil, "metadata": map[string]any{}, "nickname": nil, "product": productID,
		"recurring": nil, "tax_behavior": "unspecified", "tiers_mode": nil, "transform_quantity": nil,
		"type": "one_time", "unit_amount": nil, "unit_amount_decimal": nil,
	} {
		price[k] = v
	}
	if v, ok, err := p.Bool("active"); err != nil {
		return nil, err
	} else if ok {
		price["active"] = v
	}
	for _, f := range []string{"nickname", "lookup_key"} {
		if v, ok := p.String(f); ok && v != "" {
			price[f] = v
		}
	}
	if v, ok := p.String("tax_behavior"); ok {
		price["tax_behavior"] = v
	}
	md, merr := p.ApplyMetadata(nil)
	if merr != nil {
		return nil, merr
	}
	price["metadata"] = md

	if rp, ok := p.Sub("recurring"); ok {
		rec, err := buildRecurring(rp)
		if err != nil {
			return nil, err
		}
		price["recurring"], price["type"] = rec, "recurring"
	}
	if err := applyPriceAmounts(p, price); err != nil {
		return nil, err
	}
	opts, err := buildCurrencyOptions(p, price)
	if err != nil {
		return nil, err
	}
	price["currency_options"] = opts
	return price, nil
}

func buildRecurring(rp Params) (map[string]any, error) {
	interval, ok := rp.String("interval")
	if !ok {
		return nil, MissingParam(rp.Name("interval"))
	}
	maxCount, known := maxIntervalCount[interval]
	if !known {
		return nil, InvalidRequest(rp.Name("interval"), "Invalid %s: must be one of day, month, week, or year", rp.Name("interval"))
	}
	count := int64(1)
	if n, ok, err := rp.Int("interval_count"); err != nil {
		return nil, err
	} else if ok {
		if n < 1 || n > maxCount {
			return nil, InvalidRequest(rp.Name("interval_count"),
				"Invalid %s: must be between 1 and %d for interval=%s; the maximum interval is three years (3 years, 36 months, or 156 weeks).",
				rp.Name("interval_count"), maxCount, interval)
		}
		count = n
	}
	usage := "licensed"
	if u, ok := rp.String("usage_type"); ok {
		usage = u
	}
	var agg any
	if a, ok := rp.String("aggregate_usage"); ok {
		if usage != "metered" {
			return nil, InvalidRequest(rp.Name("aggregate_usage"),
				"`aggregate_usage` can only be set when `usage_type` is `metered`.")
		}
		agg = a
	} else if usage == "metered" {
		agg = "sum"
	}
	return map[string]any{"aggregate_usage": agg, "interval": interval, "interval_count": count, "usage_type": usage}, nil
}

// applyPriceAmounts enforces Stripe's billing-scheme rules: a per_unit price
// has exactly one of unit_amount, unit_amount_decimal or custom_unit_amount;
// a tiered price has tiers and tiers_mode and none of those.
func applyPriceAmounts(p Params, price Object) error {
	scheme := "per_unit"
	if s, ok := p.String("billing_scheme"); ok {
		scheme = s
	}
	price["billing_scheme"] = scheme
	hasAmount := p.Has("unit_amount") || p.Has("unit_amount_decimal") || p.Has("custom_unit_amount")
	if tq, ok := p.Sub("transform_quantity"); ok {
		if p.Has("tiers") {
			return Exclusive(p.Name("tiers"), p.Name("transform_quantity"))
		}
		div, _, err := tq.Int("divide_by")
		if err != nil {
			return err
		}
		if div < 1 {
			return InvalidRequest(tq.Name("divide_by"), "This value must be greater than or equal to 1.")
		}
		round, _ := tq.String("round")
		price["transform_quantity"] = map[string]any{"divide_by": div, "round": round}
	}
	if scheme == "tiered" {
		for _, k := range []string{"unit_amount", "unit_amount_decimal", "custom_unit_amount"} {
			if p.Has(k) {
				return InvalidRequest(p.Name(k), "You cannot specify `%s` when `billing_scheme` is `tiered`; put the amounts in `tiers`.", k)
			}
		}
		if !p.Has("tiers") {
			return MissingParam(p.Name("tiers"))
		}
		mode, ok := p.String("tiers_mode")
		if !ok {
			return MissingParam(p.Name("tiers_mode"))
		}
		tiers, err := buildTiers(p)
		if err != nil {
			return err
		}
		price["tiers"], price["tiers_mode"] = tiers, mode
		return nil
	}
	for _, k := range []string{"tiers", "tiers_mode"} {
		if p.Has(k) {
			return InvalidRequest(p.Name(k), "You can only specify `%s` when `billing_scheme` is `tiered`.", k)
		}
	}
	if !hasAmount {
		return MissingParam(p.Name("unit_amount"))
	}
	if cu, ok := p.Sub("custom_unit_amount"); ok {
		if p.Has("unit_amount") || p.Has("unit_amount_decimal") {
			return Exclusive(p.Name("unit_amount"), p.Name("custom_unit_amount"))
		}
		if price["recurring"] != nil {
			return InvalidRequest(p.Name("custom_unit_amount"), "`custom_unit_amount` is only supported for one-time prices.")
		}
		out, err := buildCustomAmount(cu)
		if err != nil {
			return err
		}
		price["custom_unit_amount"] = out
		return nil
	}
	amount, decimal, _, err := readAmount(p, "unit_amount", "unit_amount_decimal")
	if err != nil {
		return err
	}
	price["unit_amount"], price["unit_amount_decimal"] = amount, decimal
	return nil
}

// buildCustomAmount reads custom_unit_amount (pay-what-you-want).
func buildCustomAmount(cu Params) (map[string]any, error) {
	if enabled, _, err := cu.Bool("enabled"); err != nil {
		return nil, err
	} else if !enabled {
		return nil, InvalidRequest(cu.Name("enabled"), "`custom_unit_amount[enabled]` must be true when `custom_unit_amount` is given.")
	}
	out := map[string]any{"maximum": nil, "minimum": nil, "preset": nil}
	for _, k := range []string{"maximum", "minimum", "preset"} {
		if v, ok, err := cu.Int(k); err != nil {
			return nil, err
		} else if ok {
			out[k] = v
		}
	}
	return out, nil
}

// readAmount reads an integer amount or its decimal twin (exclusive), and
// returns both forms the way Stripe shows them: the decimal always, the
// integer only when the decimal is whole.
func readAmount(p Params, intKey, decKey string) (amount, decimal any, given bool, err error) {
	hasInt, hasDec := p.Has(intKey), p.Has(decKey)
	if hasInt && hasDec {
		return nil, nil, false, Exclusive(p.Name(intKey), p.Name(decKey))
	}
	switch {
	case hasInt:
		n, _, perr := p.Int(intKey)
		if perr != nil {
			return nil, nil, false, perr
		}
		if n < 0 {
			return nil, nil, false, InvalidRequest(p.Name(intKey), "This value must be greater than or equal to 0.")
		}
		return n, strconv.FormatInt(n, 10), true, nil
	case hasDec:
		s, _ := p.String(decKey)
		if !decimalAmount.MatchString(s) {
			return nil, nil, false, InvalidRequest(p.Name(decKey),
				"Invalid decimal: %s; must be a non-negative number with at most 12 decimal places", s)
		}
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		s = strings.TrimLeft(s, "0")
		if s == "" || s[0] == '.' {
			s = "0" + s
		}
		if !strings.Contains(s, ".") {
			n, perr := strconv.ParseInt(s, 10, 64)
			if perr == nil {
				return n, s, true, nil
			}
		}
		return nil, s, true, nil
	}
	return nil, nil, false, nil
}

// buildTiers validates tiers: each has an up_to and an amount, up_to grows,
// and only the last tier is unbounded (up_to=inf), which it must be.
func buildTiers(p Params) ([]any, error) {
	list := p.SubList("tiers")
	if len(list) == 0 {
		return nil, MissingParam(p.Name("tiers"))
	}
	out := make([]any, 0, len(list))
	var prev int64
	for i, t := range list {
		upRaw, ok := t.String("up_to")
		if !ok {
			return nil, MissingParam(t.Name("up_to"))
		}
		var upTo any
		last := i == len(list)-1
		if upRaw == "inf" {
			if !last {
				return nil, InvalidRequest(t.Name("up_to"), "Only the last tier can have `up_to` set to `inf`.")
			}
		} else {
			n, err := strconv.ParseInt(upRaw, 10, 64)
			if err != nil || n < 1 {
				return nil, InvalidRequest(t.Name("up_to"), "Invalid %s: must be a positive integer or `inf`", t.Name("up_to"))
			}
			if last {
				return nil, InvalidRequest(t.Name("up_to"), "The last tier must have `up_to` set to `inf`.")
			}
			if n <= prev {
				return nil, InvalidRequest(t.Name("up_to"), "Tiers must be sorted by ascending `up_to`, and each `up_to` must be unique.")
			}
			prev, upTo = n, n
		}
		ua, uad, hasUnit, err := readAmount(t, "unit_amount", "unit_amount_decimal")
		if err != nil {
			return nil, err
		}
		fa, fad, hasFlat, err := readAmount(t, "flat_amount", "flat_amount_decimal")
		if err != nil {
			return nil, err
		}
		if !hasUnit && !hasFlat {
			return nil, InvalidRequest(p.Name("tiers"), "An entry in the tiers array is missing an amount.")
		}
		out = append(out, map[string]any{
			"flat_amount": fa, "flat_amount_decimal": fad, "unit_amount": ua, "unit_amount_decimal": uad, "up_to": upTo,
		})
	}
	return out, nil
}

// buildCurrencyOptions returns currency_options: the price's own currency
// plus any extra currencies given, each with amounts of the same scheme.
func buildCurrencyOptions(p Params, price Object) (map[string]any, error) {
	opts := map[string]any{price.Str("currency"): ownCurrencyOption(price)}
	sub, ok := p.Sub("currency_options")
	if !ok {
		return opts, nil
	}
	for _, cur := range sub.Keys() {
		o, err := buildCurrencyOption(sub, cur, price)
		if err != nil {
			return nil, err
		}
		code, _ := normalizeCurrency(sub.Name(cur), cur)
		opts[code] = o
	}
	return opts, nil
}

func ownCurrencyOption(price Object) map[string]any {
	o := map[string]any{
		"custom_unit_amount": cloneValue(price["custom_unit_amount"]), "tax_behavior": price["tax_behavior"],
		"unit_amount": price["unit_amount"], "unit_amount_decimal": price["unit_amount_decimal"],
	}
	if price.Str("billing_scheme") == "tiered" {
		o["tiers"] = cloneValue(price["tiers"])
	}
	return o
}

func buildCurrencyOption(sub Params, cur string, price Object) (map[string]any, error) {
	code, cerr := normalizeCurrency(sub.Name(cur), cur)
	if cerr != nil {
		return nil, cerr
	}
	if code == price.Str("currency") {
		return nil, InvalidRequest(sub.Name(cur),
			"`currency_options` cannot include the price's own currency (%s); set its amount on the price itself.", code)
	}
	op, ok := sub.Sub(cur)
	if !ok {
		return nil, InvalidRequest(sub.Name(cur), "Invalid hash")
	}
	o := map[string]any{"custom_unit_amount": nil, "tax_behavior": "unspecified", "unit_amount": nil, "unit_amount_decimal": nil}
	if tb, ok := op.String("tax_behavior"); ok {
		o["tax_behavior"] = tb
	}
	if price.Str("billing_scheme") == "tiered" {
		if op.Has("unit_amount") || op.Has("unit_amount_decimal") {
			return nil, InvalidRequest(op.Name("unit_amount"), "A tiered price's currency options take `tiers`, not `unit_amount`.")
		}
		tiers, err := buildTiers(op)
		if err != nil {
			return nil, err
		}
		o["tiers"] = tiers
		return o, nil
	}
	if op.Has("tiers") {
		return nil, InvalidRequest(op.Name("tiers"), "You can only specify `tiers` when `billing_scheme` is `tiered`.")
	}
	amount, decimal, given, err := readAmount(op, "unit_amount", "unit_amount_decimal")
	if err != nil {
		return nil, err
	}
	if cu, ok := op.Sub("custom_unit_amount"); ok {
		if given {
			return nil, Exclusive(op.Name("unit_amount"), op.Name("custom_unit_amount"))
		}
		out, err := buildCustomAmount(cu)
		if err != nil {
			return nil, err
		}
		o["custom_unit_amount"] = out
		return o, nil
	}
	if !given {
		return nil, MissingParam(op.Name("unit_amount"))
	}
	o["unit_amount"], o["unit_amount_decimal"] = amount, decimal
	return o, nil
}
