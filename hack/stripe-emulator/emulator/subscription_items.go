package emulator

import "net/http"

// Subscription items live embedded in their subscription (`items`, a list
// object) and, as a copy, in their own collection so that
// /v1/subscription_items can find them. The subscription is authoritative;
// storeItems keeps the copies in step. Stripe emits no events for items:
// their changes show in customer.subscription.updated.

// maxSubscriptionItems is Stripe's limit: "A list of up to 20 subscription
// items".
const maxSubscriptionItems = 20

func registerSubscriptionItems(e *Emulator) {
	e.AddResource(&Resource{Object: "subscription_item", Noun: "subscription_item", IDPrefix: "si", Path: "/v1/subscription_items"})
	r := e.Router()
	r.Handle(http.MethodGet, "/v1/subscription_items", func(c *Call) (any, error) {
		subID, ok := c.Params().String("subscription")
		if !ok {
			return nil, MissingParam("subscription")
		}
		return c.List("subscription_item", func(o Object) bool { return o.Str("subscription") == subID })
	})
	r.Handle(http.MethodGet, "/v1/subscription_items/{item}", func(c *Call) (any, error) {
		item, err := c.Lookup("subscription_item", c.PathParam("item"), "item")
		if err != nil {
			return nil, err
		}
		return c.Render(item)
	})
	r.Handle(http.MethodPost, "/v1/subscription_items", func(c *Call) (any, error) {
		subID, ok := c.Params().String("subscription")
		if !ok {
			return nil, MissingParam("subscription")
		}
		sub, err := c.Lookup("subscription", subID, "subscription")
		if err != nil {
			return nil, err
		}
		return itemEndpoint(c, sub, "", false)
	})
	r.Handle(http.MethodPost, "/v1/subscription_items/{item}", func(c *Call) (any, error) {
		item, err := c.Lookup("subscription_item", c.PathParam("item"), "item")
		if err != nil {
			return nil, err
		}
		sub, _ := c.Get("subscription", item.Str("subscription"))
		return itemEndpoint(c, sub, item.ID(), false)
	})
	r.Handle(http.MethodDelete, "/v1/subscription_items/{item}", func(c *Call) (any, error) {
		item, err := c.Lookup("subscription_item", c.PathParam("item"), "item")
		if err != nil {
			return nil, err
		}
		sub, _ := c.Get("subscription", item.Str("subscription"))
		return itemEndpoint(c, sub, item.ID(), true)
	})
}

// itemEndpoint runs a /v1/subscription_items write as the subscription
// update it is (same rules, prorations and events) and answers with the
// item.
func itemEndpoint(c *Call, sub Object, itemID string, deleted bool) (any, error) {
	p := c.Params()
	if err := refuseUnsupported(p, "price_data", "tax_rates", "billing_thresholds", "clear_usage"); err != nil {
		return nil, err
	}
	item := map[string]any{}
	for _, k := range []string{"price", "quantity", "metadata"} {
		if v, ok := p.Raw()[k]; ok {
			item[k] = v
		}
	}
	if itemID != "" {
		item["id"] = itemID
	}
	if deleted {
		item["deleted"] = "true"
	}
	raw := map[string]any{"items": []any{item}}
	for _, k := range []string{"proration_behavior", "proration_date", "payment_behavior", "off_session"} {
		if v, ok := p.Raw()[k]; ok {
			raw[k] = v
		}
	}
	updated, err := applySubscriptionUpdate(c, sub, NewParams(raw))
	if err != nil {
		return nil, err
	}
	if deleted {
		return Object{"id": itemID, "object": "subscription_item", "deleted": true}, nil
	}
	items := listData(updated, "items")
	for _, it := range items {
		if it.ID() == itemID {
			return c.Render(it)
		}
	}
	return c.Render(items[len(items)-1])
}

// itemPrice returns the stored price of an item (it has the tiers the
// embedded copy leaves out).
func itemPrice(c *Call, item Object) Object {
	id, _ := item.Map("price")["id"].(string)
	if p, ok := c.Get("price", id); ok {
		return p
	}
	return Object(item.Map("price"))
}

func itemPriceID(item Object) string { s, _ := item.Map("price")["id"].(string); return s }

func itemQuantity(item Object) int64 { return item.Int("quantity") }

// checkSubscriptionPrice applies Stripe's rules for a subscription item's
// price: it exists, is active and is recurring.
func checkSubscriptionPrice(c *Call, id, param string) (Object, error) {
	price, err := c.Lookup("price", id, param)
	if err != nil {
		return nil, err
	}
	if !price.Bool("active") {
		return nil, InvalidRequest(param, "The price specified is inactive. This field only accepts active prices.")
	}
	if price.Str("type") != "recurring" {
		return nil, InvalidRequest(param, "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.")
	}
	return price, nil
}

func isMetered(price Object) bool {
	rec := price.Map("recurring")
	return rec != nil && rec["usage_type"] == "metered"
}

// readQuantity reads an item's quantity: licensed prices default to 1,
// metered prices take none (usage is reported instead).
func readQuantity(ip Params, price Object, current any) (any, error) {
	q, ok, err := ip.Int("quantity")
	if err != nil {
		return nil, err
	}
	if isMetered(price) {
		if ok {
			return nil, InvalidRequest(ip.Name("quantity"), "Quantity should not be specified where usage_type is `metered`. Remove quantity from `%s`.", ip.prefix)
		}
		return nil, nil
	}
	if !ok {
		if current != nil {
			return current, nil
		}
		return int64(1), nil
	}
	if q < 0 {
		return nil, InvalidRequest(ip.Name("quantity"), "This value must be greater than or equal to 0.")
	}
	return q, nil
}

func newSubscriptionItem(c *Call, subID string, price Object, quantity any, md map[string]any) Object {
	item := c.NewObject("subscription_item")
	delete(item, "livemode") // subscription items have no livemode
	for k, v := range map[string]any{
		"billing_thresholds": nil, "metadata": md, "price": priceSnapshot(c, price), "quantity": quantity,
		"subscription": subID, "tax_rates": []any{},
	} {
		item[k] = v
	}
	return item
}

// buildCreateItems reads the items[] of a subscription create.
func buildCreateItems(c *Call, p Params, subID string) ([]Object, error) {
	list := p.SubList("items")
	if len(list) == 0 {
		return nil, MissingParam("items")
	}
	var items []Object
	for _, ip := range list {
		if err := refuseUnsupported(ip, "price_data", "tax_rates", "billing_thresholds"); err != nil {
			return nil, err
		}
		id, ok := ip.String("price")
		if !ok {
			return nil, MissingParam(ip.Name("price"))
		}
		price, err := checkSubscriptionPrice(c, id, ip.Name("price"))
		if err != nil {
			return nil, err
		}
		qty, err := readQuantity(ip, price, nil)
		if err != nil {
			return nil, err
		}
		md, merr := ip.ApplyMetadata(nil)
		if merr != nil {
			return nil, merr
		}
		items = append(items, newSubscriptionItem(c, subID, price, qty, md))
	}
	return items, checkItemSet(items, "items")
}

// mergeItems applies the items[] of an update to sub's items: an entry
// with an id changes that item (price, quantity, metadata) or removes it
// (deleted); one without an id adds an item; items not mentioned stay.
func mergeItems(c *Call, sub Object, p Params) ([]Object, error) {
	items := listData(sub, "items")
	for i := range items {
		items[i] = items[i].Clone()
	}
	for _, ip := range p.SubList("items") {
		if err := refuseUnsupported(ip, "price_data", "tax_rates", "billing_thresholds", "clear_usage"); err != nil {
			return nil, err
		}
		deleted, _, berr := ip.Bool("deleted")
		if berr != nil {
			return nil, berr
		}
		var err error
		id, hasID := ip.String("id")
		if !hasID {
			if deleted {
				return nil, MissingParam(ip.Name("id"))
			}
			priceID, ok := ip.String("price")
			if !ok {
				return nil, MissingParam(ip.Name("price"))
			}
			price, err := checkSubscriptionPrice(c, priceID, ip.Name("price"))
			if err != nil {
				return nil, err
			}
			qty, err := readQuantity(ip, price, nil)
			if err != nil {
				return nil, err
			}
			md, merr := ip.ApplyMetadata(nil)
			if merr != nil {
				return nil, merr
			}
			items = append(items, newSubscriptionItem(c, sub.ID(), price, qty, md))
			continue
		}
		idx := -1
		for i, it := range items {
			if it.ID() == id {
				idx = i
			}
		}
		if idx < 0 {
			return nil, NoSuchObject("subscription_item", id, ip.Name("id"))
		}
		if deleted {
			items = append(items[:idx], items[idx+1:]...)
			continue
		}
		item := items[idx]
		price := itemPrice(c, item)
		if priceID, ok := ip.String("price"); ok && priceID != price.ID() {
			if price, err = checkSubscriptionPrice(c, priceID, ip.Name("price")); err != nil {
				return nil, err
			}
			item["price"] = priceSnapshot(c, price)
		}
		current := item["quantity"]
		if isMetered(price) {
			current = nil
		} else if current == nil {
			current = int64(1)
		}
		if item["quantity"], err = readQuantity(ip, price, current); err != nil {
			return nil, err
		}
		md, merr := ip.ApplyMetadata(item.Map("metadata"))
		if merr != nil {
			return nil, merr
		}
		item["metadata"] = md
	}
	return items, checkItemSet(items, "items")
}

// checkItemSet enforces the rules over all of a subscription's items: one
// to 20 of them, no price twice, one currency and one billing interval.
func checkItemSet(items []Object, param string) error {
	if len(items) == 0 {
		return InvalidRequest(param, "A subscription must have at least one item.")
	}
	if len(items) > maxSubscriptionItems {
		return InvalidRequest(param, "A subscription can have at most %d items.", maxSubscriptionItems)
	}
	seen := map[string]bool{}
	first := items[0].Map("price")
	firstRec, _ := asMap(first["recurring"])
	for _, it := range items {
		pr := it.Map("price")
		id, _ := pr["id"].(string)
		if seen[id] {
			return InvalidRequest(param, "Cannot add multiple subscription items with the same price: %s", id)
		}
		seen[id] = true
		if pr["currency"] != first["currency"] {
			return InvalidRequest(param, "Currency and interval fields must match across all plans on this subscription. Found mismatch in currency field.")
		}
		rec, _ := asMap(pr["recurring"])
		if rec["interval"] != firstRec["interval"] || rec["interval_count"] != firstRec["interval_count"] {
			return InvalidRequest(param, "Currency and interval fields must match across all plans on this subscription. Found mismatch in interval field.")
		}
	}
	return nil
}

// itemsInterval returns the billing interval of a set of items.
func itemsInterval(items []Object) (string, int64) {
	rec, _ := asMap(items[0].Map("price")["recurring"])
	interval, _ := rec["interval"].(string)
	count, _ := rec["interval_count"].(int64)
	if count == 0 {
		count = 1
	}
	return interval, count
}

// storeItems makes items sub's items: embedded in sub (not yet saved) and
// mirrored in the subscription_item collection.
func storeItems(c *Call, sub Object, items []Object) error {
	keep := map[string]bool{}
	for _, it := range items {
		keep[it.ID()] = true
		if _, exists := c.Get("subscription_item", it.ID()); exists {
			if err := c.Update("subscription_item", it); err != nil {
				return err
			}
		} else if err := c.Insert("subscription_item", it); err != nil {
			return err
		}
	}
	for _, old := range scanAll(c, "subscription_item", func(o Object) bool { return o.Str("subscription") == sub.ID() }) {
		if !keep[old.ID()] {
			if err := c.Delete("subscription_item", old.ID()); err != nil {
				return err
			}
		}
	}
	sub["items"] = embeddedList("/v1/subscription_items?subscription="+sub.ID(), objectsToAny(items))
	return nil
}
