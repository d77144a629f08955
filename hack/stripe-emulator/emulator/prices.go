package emulator

import "net/http"

func registerPrices(e *Emulator) {
	e.AddResource(&Resource{
		Object: "price", Noun: "price", IDPrefix: "price", Path: "/v1/prices",
		Expandable: map[string]string{"product": "product"},
		// Stripe leaves these out of a price unless they are expanded.
		Includable: []string{"tiers", "currency_options"},
		Search: map[string]SearchField{
			"active":     {Type: SearchBool},
			"currency":   {Type: SearchToken},
			"lookup_key": {Type: SearchString},
			"metadata":   {Type: SearchMetadata},
			"product":    {Type: SearchString},
			"type":       {Type: SearchToken},
		},
	})
	r := e.Router()
	r.Handle(http.MethodPost, "/v1/prices", createPrice)
	r.Handle(http.MethodGet, "/v1/prices", listPrices)
	r.Handle(http.MethodGet, "/v1/prices/search", func(c *Call) (any, error) { return c.Search("price") })
	r.Handle(http.MethodGet, "/v1/prices/{price}", retrieveByPath("price", "price"))
	r.Handle(http.MethodPost, "/v1/prices/{price}", updatePrice)
	// Prices have no DELETE endpoint on Stripe: they are archived with
	// active=false. A DELETE therefore gets the spec check's 404.
}

func createPrice(c *Call) (any, error) {
	p := c.Params()
	productID, hasProduct := p.String("product")
	pd, hasData := p.Sub("product_data")
	switch {
	case hasProduct && hasData:
		return nil, Exclusive("product", "product_data")
	case !hasProduct && !hasData:
		return nil, MissingParam("product")
	case hasProduct:
		if _, err := c.Lookup("product", productID, "product"); err != nil {
			return nil, err
		}
	}
	var newProduct Object
	if hasData {
		prod, err := productFromData(c, pd)
		if err != nil {
			return nil, err
		}
		newProduct, productID = prod, prod.ID()
	}
	price, err := buildPrice(c, p, productID)
	if err != nil {
		return nil, err
	}
	transfer, _, terr := p.Bool("transfer_lookup_key")
	if terr != nil {
		return nil, terr
	}
	if err := claimLookupKey(c, price, transfer); err != nil {
		return nil, err
	}
	if newProduct != nil {
		if err := c.Create(newProduct); err != nil {
			return nil, err
		}
	}
	if err := c.Create(price); err != nil {
		return nil, err
	}
	return c.Render(price)
}

// productFromData builds the product a price's product_data describes.
func productFromData(c *Call, pd Params) (Object, error) {
	name, ok := pd.String("name")
	if !ok || name == "" {
		return nil, MissingParam(pd.Name("name"))
	}
	prod := c.NewObject("product")
	if id, ok := pd.String("id"); ok && id != "" {
		if _, exists := c.Get("product", id); exists {
			return nil, InvalidRequestCode("resource_already_exists", pd.Name("id"), "Product already exists.")
		}
		prod["id"] = id
	}
	for k, v := range map[string]any{
		"active": true, "default_price": nil, "description": nil, "features": []any{}, "images": []any{},
		"metadata": map[string]any{}, "name": name, "package_dimensions": nil, "shippable": nil,
		"statement_descriptor": nil, "tax_code": nil, "unit_label": nil, "updated": prod["created"], "url": nil,
	} {
		prod[k] = v
	}
	if err := applyProductParams(pd, prod); err != nil {
		return nil, err
	}
	return prod, nil
}

// claimLookupKey enforces that a lookup key names at most one price in the
// account: a key already in use is refused, unless transfer_lookup_key moves
// it (the old price then loses it, with its own price.updated event).
func claimLookupKey(c *Call, price Object, transfer bool) error {
	key := price.Str("lookup_key")
	if key == "" {
		return nil
	}
	var holder Object
	c.Scan("price", func(o Object) bool {
		if o.Str("lookup_key") == key && o.ID() != price.ID() {
			holder = o.Clone()
			return false
		}
		return true
	})
	if holder == nil {
		return nil
	}
	if !transfer {
		return InvalidRequest("lookup_key", "A price (`%s`) already uses that lookup key.", holder.ID())
	}
	moved := holder.Clone()
	moved["lookup_key"] = nil
	_, err := c.Save(holder, moved)
	return err
}

// updatePrice changes only what Stripe lets change on a price: active,
// metadata, nickname, lookup_key, tax_behavior (once, from unspecified) and
// currency_options. Amount, currency and recurrence are fixed for life;
// the spec check refuses those parameters before this runs.
func updatePrice(c *Call) (any, error) {
	p := c.Params()
	old, err := c.Lookup("price", c.PathParam("price"), "price")
	if err != nil {
		return nil, err
	}
	price := old.Clone()
	if v, ok, err := p.Bool("active"); err != nil {
		return nil, err
	} else if ok {
		if !v && old.Bool("active") {
			if prod, found := c.Get("product", price.Str("product")); found && prod.Str("default_price") == price.ID() {
				return nil, InvalidRequest("active", "This price cannot be archived because it is the default price of its product.")
			}
		}
		price["active"] = v
	}
	if v, ok := p.String("nickname"); ok {
		price["nickname"] = nilIfEmpty(v)
	}
	md, merr := p.ApplyMetadata(price.Map("metadata"))
	if merr != nil {
		return nil, merr
	}
	price["metadata"] = md
	if v, ok := p.String("tax_behavior"); ok {
		cur := price.Str("tax_behavior")
		if v != cur && cur != "" && cur != "unspecified" {
			return nil, InvalidRequest("tax_behavior",
				"This price's tax_behavior is already `%s`; once specified as either inclusive or exclusive, it cannot be changed.", cur)
		}
		price["tax_behavior"] = v
		if own, ok := price.Map("currency_options")[price.Str("currency")].(map[string]any); ok {
			own["tax_behavior"] = v
		}
	}
	if p.IsEmpty("currency_options") {
		price["currency_options"] = map[string]any{price.Str("currency"): ownCurrencyOption(price)}
	} else if sub, ok := p.Sub("currency_options"); ok {
		opts := price.Map("currency_options")
		for _, cur := range sub.Keys() {
			o, err := buildCurrencyOption(sub, cur, price)
			if err != nil {
				return nil, err
			}
			code, _ := normalizeCurrency(sub.Name(cur), cur)
			opts[code] = o
		}
	}
	if v, ok := p.String("lookup_key"); ok {
		price["lookup_key"] = nilIfEmpty(v)
		transfer, _, terr := p.Bool("transfer_lookup_key")
		if terr != nil {
			return nil, terr
		}
		if err := claimLookupKey(c, price, transfer); err != nil {
			return nil, err
		}
	}
	if _, err := c.Save(old, price); err != nil {
		return nil, err
	}
	return c.Render(price)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func listPrices(c *Call) (any, error) {
	p := c.Params()
	active, hasActive, err := p.Bool("active")
	if err != nil {
		return nil, err
	}
	currency, hasCurrency := p.String("currency")
	product, hasProduct := p.String("product")
	typ, hasType := p.String("type")
	var lookupKeys map[string]bool
	if p.Has("lookup_keys") {
		keys := p.Strings("lookup_keys")
		if len(keys) > 10 {
			return nil, InvalidRequest("lookup_keys", "You can specify up to 10 lookup_keys.")
		}
		lookupKeys = map[string]bool{}
		for _, k := range keys {
			lookupKeys[k] = true
		}
	}
	var interval, usage string
	if rp, ok := p.Sub("recurring"); ok {
		interval, _ = rp.String("interval")
		usage, _ = rp.String("usage_type")
	}
	created, cerr := parseCreatedFilter(p)
	if cerr != nil {
		return nil, cerr
	}
	return c.List("price", func(o Object) bool {
		rec := o.Map("recurring")
		return (!hasActive || o.Bool("active") == active) &&
			(!hasCurrency || o.Str("currency") == currency) &&
			(!hasProduct || o.Str("product") == product) &&
			(!hasType || o.Str("type") == typ) &&
			(lookupKeys == nil || lookupKeys[o.Str("lookup_key")]) &&
			(interval == "" || (rec != nil && rec["interval"] == interval)) &&
			(usage == "" || (rec != nil && rec["usage_type"] == usage)) &&
			created.match(o.Int("created"))
	})
}
