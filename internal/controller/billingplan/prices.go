package billingplan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// priceShape is what Stripe never changes on a price: amount, currency and recurrence. Two prices with
// equal shapes charge the same; a spec whose shape differs from Stripe's needs a new price.
type priceShape struct {
	Currency       string
	Type           string // one_time or recurring
	Amount         string // canonical decimal unit amount; empty for tiered prices
	TiersMode      string
	Tiers          []tierShape
	Interval       string
	IntervalCount  int64
	UsageType      string
	AggregateUsage string
	// TaxBehavior is part of the shape only once it is inclusive or exclusive: Stripe lets it be set
	// once, from unspecified, and never changed after.
	TaxBehavior string
}

type tierShape struct {
	UpTo       int64 // 0: infinity (the last tier)
	UnitAmount string
	FlatAmount string
}

// shapeOfSpec canonicalises a spec price, filling Stripe's defaults (interval count 1, licensed usage,
// sum aggregation for metered usage) so that a spec that omits them equals what Stripe returns.
func shapeOfSpec(p v1alpha1.Price) priceShape {
	s := priceShape{Currency: p.Currency, Type: "one_time", Amount: decimal(p.UnitAmount, p.UnitAmountDecimal)}
	if len(p.Tiers) > 0 {
		s.Amount = ""
		s.TiersMode = string(p.TiersMode)
		for _, t := range p.Tiers {
			tier := tierShape{UnitAmount: decimal(t.UnitAmount, t.UnitAmountDecimal), FlatAmount: decimal(t.FlatAmount, t.FlatAmountDecimal)}
			if t.UpTo != nil {
				tier.UpTo = *t.UpTo
			}
			s.Tiers = append(s.Tiers, tier)
		}
	}
	if r := p.Recurring; r != nil {
		s.Type = "recurring"
		s.Interval = string(r.Interval)
		s.IntervalCount = int64(r.IntervalCount)
		s.UsageType = string(r.UsageType)
		s.AggregateUsage = string(r.AggregateUsage)
	}
	if p.TaxBehavior == "inclusive" || p.TaxBehavior == "exclusive" {
		s.TaxBehavior = string(p.TaxBehavior)
	}
	return normalise(s)
}

// shapeOfStripe canonicalises a Stripe price the same way.
func shapeOfStripe(p stripeapi.Price) priceShape {
	s := priceShape{Currency: p.Currency, Type: p.Type, TiersMode: p.TiersMode}
	if p.BillingScheme == "tiered" || len(p.Tiers) > 0 {
		for _, t := range p.Tiers {
			s.Tiers = append(s.Tiers, tierShape{UpTo: t.UpTo, UnitAmount: decimal(&t.UnitAmount, &t.UnitAmountDecimal), FlatAmount: decimal(&t.FlatAmount, &t.FlatAmountDecimal)})
		}
	} else {
		s.Amount = decimal(p.UnitAmount, &p.UnitAmountDecimal)
	}
	if r := p.Recurring; r != nil {
		s.Interval, s.IntervalCount, s.UsageType, s.AggregateUsage = r.Interval, r.IntervalCount, r.UsageType, r.AggregateUsage
	}
	if p.TaxBehavior == "inclusive" || p.TaxBehavior == "exclusive" {
		s.TaxBehavior = p.TaxBehavior
	}
	return normalise(s)
}

func normalise(s priceShape) priceShape {
	if s.Type == "" {
		s.Type = "one_time"
	}
	if s.Type == "recurring" {
		if s.IntervalCount == 0 {
			s.IntervalCount = 1
		}
		if s.UsageType == "" {
			s.UsageType = "licensed"
		}
		switch {
		case s.UsageType == "metered" && s.AggregateUsage == "":
			s.AggregateUsage = "sum"
		case s.UsageType == "licensed":
			s.AggregateUsage = ""
		}
	}
	for i := range s.Tiers {
		if s.Tiers[i].FlatAmount == "0" {
			s.Tiers[i].FlatAmount = ""
		}
		if s.Tiers[i].UnitAmount == "0" {
			s.Tiers[i].UnitAmount = ""
		}
	}
	return s
}

// fits reports whether a Stripe price (have) charges what the spec (want) asks, or can be brought to
// it in place. A tax behaviour the spec leaves unset is not a difference (the spec does not care, and a
// price whose tax behaviour Stripe fixed must not be replaced for it), and neither is one Stripe still
// holds as unspecified (Stripe lets it be set once, in place: see mutableChanges).
func (want priceShape) fits(have priceShape) bool {
	return want.Currency == have.Currency && want.Type == have.Type && want.Amount == have.Amount &&
		want.TiersMode == have.TiersMode && slices.Equal(want.Tiers, have.Tiers) && want.Interval == have.Interval &&
		want.IntervalCount == have.IntervalCount && want.UsageType == have.UsageType &&
		want.AggregateUsage == have.AggregateUsage &&
		(want.TaxBehavior == "" || have.TaxBehavior == "" || want.TaxBehavior == have.TaxBehavior)
}

// decimal renders an amount in the smallest currency unit canonically ("1250", "12.5"), so an integer
// amount and the decimal string Stripe echoes for it compare equal.
func decimal(amount *int64, amountDecimal *string) string {
	switch {
	case amountDecimal != nil && *amountDecimal != "":
		d := strings.TrimSpace(*amountDecimal)
		if strings.Contains(d, ".") {
			d = strings.TrimRight(strings.TrimRight(d, "0"), ".")
		}
		if d == "" {
			d = "0"
		}
		return d
	case amount != nil:
		return strconv.FormatInt(*amount, 10)
	default:
		return ""
	}
}

// priceChanges are the in-place updates Stripe allows on a price, as a diff against what it holds.
type priceChanges struct {
	params stripeapi.PriceUpdateParams
	fields []string
}

// mutableChanges compares the fields Stripe lets a price change in place.
func mutableChanges(want v1alpha1.Price, have stripeapi.Price) priceChanges {
	var c priceChanges
	if want.Nickname != have.Nickname {
		c.params.Nickname = &want.Nickname
		c.fields = append(c.fields, "nickname")
	}
	if active := wantActive(want.Active); active != have.Active {
		c.params.Active = &active
		c.fields = append(c.fields, "active")
	}
	if want.LookupKey != have.LookupKey {
		c.params.LookupKey = &want.LookupKey
		// Another price of the account may hold the key (an older version made outside the operator):
		// Stripe moves it only when asked to.
		c.params.TransferLookupKey = want.LookupKey != ""
		c.fields = append(c.fields, "lookupKey")
	}
	if tb := string(want.TaxBehavior); tb != "" && tb != have.TaxBehavior && (have.TaxBehavior == "" || have.TaxBehavior == "unspecified") {
		c.params.TaxBehavior = &tb
		c.fields = append(c.fields, "taxBehavior")
	}
	if md := metadataChanges(want.Metadata, have.Metadata); md != nil {
		c.params.Metadata = md
		c.fields = append(c.fields, "metadata")
	}
	return c
}

// metadataChanges returns the metadata update that makes have's user keys equal want (Stripe merges:
// a key set to "" is removed), or nil when they already match. The operator's own tag keys are left
// alone.
func metadataChanges(want v1alpha1.Metadata, have map[string]string) map[string]string {
	changes := map[string]string{}
	for k, v := range want {
		if have[k] != v {
			changes[k] = v
		}
	}
	for k := range have {
		if _, kept := want[k]; !kept && !strings.HasPrefix(k, stripeapi.MetadataKeyPrefix) {
			changes[k] = ""
		}
	}
	if len(changes) == 0 {
		return nil
	}
	return changes
}

func wantActive(active *bool) bool { return active == nil || *active }

// describe lists the names of what differs, for events and the Synced message.
func describe(parts []string) string {
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

func priceLabel(key, field string) string { return fmt.Sprintf("price %s: %s", key, field) }
