package billingplan

import (
	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// maxArchivedPrices bounds status.archivedPrices: the history is for people, and an object's status
// must not grow without end.
const maxArchivedPrices = 50

// pricePlan is what it takes to make a product's prices match the spec.
type pricePlan struct {
	// current maps each spec key to the Stripe price that already serves it (nil: it must be created).
	current map[string]*stripeapi.Price
	// creates are spec prices with no price of their shape yet, in spec order.
	creates []v1alpha1.Price
	// updates change prices in place (only the fields Stripe allows).
	updates []priceUpdate
	// archives deactivate prices the spec no longer wants: removed keys and replaced versions.
	archives []priceArchive
	// diff names every difference, for events and conditions.
	diff []string
}

type priceUpdate struct {
	key     string
	price   stripeapi.Price
	changes priceChanges
}

type priceArchive struct {
	key   string
	price stripeapi.Price
}

func (p pricePlan) empty() bool {
	return len(p.creates) == 0 && len(p.updates) == 0 && len(p.archives) == 0
}

// priceComponent is the tag that ties a Stripe price to its key inside the plan.
func priceComponent(key string) string { return "price:" + key }

// ownership tells which observed prices belong to the plan, and under which key: a price is the plan's
// when it carries the plan's UID tag (its key in the component tag), or when the status recorded it
// (prices adopted with the product carry no tags: adopting writes nothing).
type ownership struct {
	uid      string
	statusBy map[string]string // price id -> key, from status
}

func newOwnership(uid string, status v1alpha1.BillingPlanStatus) ownership {
	o := ownership{uid: uid, statusBy: map[string]string{}}
	for _, p := range status.ArchivedPrices {
		o.statusBy[p.ID] = p.Key
	}
	for _, p := range status.Prices {
		o.statusBy[p.ID] = p.Key
	}
	return o
}

// keyOf returns the plan key a price serves, or "" for a price that is not the plan's.
func (o ownership) keyOf(p stripeapi.Price) string {
	if p.Metadata[stripeapi.MetadataKeyUID] == o.uid {
		if component := p.Metadata[stripeapi.MetadataKeyComponent]; len(component) > len("price:") {
			return component[len("price:"):]
		}
	}
	return o.statusBy[p.ID]
}

// planPrices matches the observed prices (newest first, as Stripe lists them) to the spec.
//
// For each spec key it looks, in order, for: a price of the plan with that key and the spec's shape
// (active first: an archived one is reactivated rather than duplicated); then, for an adopted product,
// an unowned active price of the same shape and lookup key. A key with no match needs a new price; if
// an older version serves the key, the new one takes its lookup key and the older one is archived.
// Every active price of the plan that no key claimed is archived.
func planPrices(spec []v1alpha1.Price, observed []stripeapi.Price, owners ownership) pricePlan {
	plan := pricePlan{current: map[string]*stripeapi.Price{}}
	claimed := map[string]bool{}

	for _, want := range spec {
		shape := shapeOfSpec(want)
		match := findPrice(observed, claimed, func(p stripeapi.Price) bool {
			return owners.keyOf(p) == want.Key && shape.fits(shapeOfStripe(p))
		})
		if match == nil {
			match = findPrice(observed, claimed, func(p stripeapi.Price) bool {
				return p.Active && owners.keyOf(p) == "" && p.LookupKey == want.LookupKey && shape.fits(shapeOfStripe(p))
			})
		}
		if match == nil {
			plan.current[want.Key] = nil
			plan.creates = append(plan.creates, want)
			plan.diff = append(plan.diff, priceLabel(want.Key, "new price"))
			continue
		}
		claimed[match.ID] = true
		plan.current[want.Key] = match
		if changes := mutableChanges(want, *match); len(changes.fields) > 0 {
			plan.updates = append(plan.updates, priceUpdate{key: want.Key, price: *match, changes: changes})
			plan.diff = append(plan.diff, priceLabel(want.Key, describe(changes.fields)))
		}
	}
	for _, p := range observed {
		if key := owners.keyOf(p); key != "" && p.Active && !claimed[p.ID] {
			plan.archives = append(plan.archives, priceArchive{key: key, price: p})
			plan.diff = append(plan.diff, priceLabel(key, "archive "+p.ID))
		}
	}
	return plan
}

// findPrice returns the first unclaimed price that fits, preferring active ones.
func findPrice(observed []stripeapi.Price, claimed map[string]bool, fits func(stripeapi.Price) bool) *stripeapi.Price {
	var inactive *stripeapi.Price
	for i := range observed {
		p := &observed[i]
		if claimed[p.ID] || !fits(*p) {
			continue
		}
		if p.Active {
			return p
		}
		if inactive == nil {
			inactive = p
		}
	}
	return inactive
}

// priceStatuses renders the current prices, in spec order.
func priceStatuses(spec []v1alpha1.Price, current map[string]*stripeapi.Price) []v1alpha1.PriceStatus {
	statuses := make([]v1alpha1.PriceStatus, 0, len(spec))
	for _, want := range spec {
		if p := current[want.Key]; p != nil {
			statuses = append(statuses, v1alpha1.PriceStatus{Key: want.Key, ID: p.ID, LookupKey: p.LookupKey, Active: p.Active})
		}
	}
	return statuses
}

// appendArchived records archived prices in the bounded history, once each.
func appendArchived(history []v1alpha1.ArchivedPrice, archived ...v1alpha1.ArchivedPrice) []v1alpha1.ArchivedPrice {
	for _, a := range archived {
		seen := false
		for _, h := range history {
			seen = seen || h.ID == a.ID
		}
		if !seen {
			history = append(history, a)
		}
	}
	if len(history) > maxArchivedPrices {
		history = history[len(history)-maxArchivedPrices:]
	}
	return history
}
