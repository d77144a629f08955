package emulator

import (
	"net/http"
	"strconv"
)

func registerProducts(e *Emulator) {
	e.AddResource(&Resource{
		Object: "product", Noun: "product", IDPrefix: "prod", Path: "/v1/products",
		Expandable: map[string]string{"default_price": "price"},
		Search: map[string]SearchField{
			"active":      {Type: SearchBool},
			"description": {Type: SearchString},
			"metadata":    {Type: SearchMetadata},
			"name":        {Type: SearchString},
			"shippable":   {Type: SearchBool},
			"url":         {Type: SearchString},
		},
	})
	r := e.Router()
	r.Handle(http.MethodPost, "/v1/products", createProduct)
	r.Handle(http.MethodGet, "/v1/products", listProducts)
	r.Handle(http.MethodGet, "/v1/products/search", func(c *Call) (any, error) { return c.Search("product") })
	r.Handle(http.MethodGet, "/v1/products/{id}", retrieveByPath("product", "id"))
	r.Handle(http.MethodPost, "/v1/products/{id}", updateProduct)
	r.Handle(http.MethodDelete, "/v1/products/{id}", deleteProduct)
}

func createProduct(c *Call) (any, error) {
	p := c.Params()
	name, ok := p.String("name")
	if !ok {
		return nil, MissingParam("name")
	}
	prod := c.NewObject("product")
	if id, ok := p.String("id"); ok && id != "" {
		if _, exists := c.Get("product", id); exists {
			return nil, InvalidRequestCode("resource_already_exists", "id", "Product already exists.")
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
	if err := applyProductParams(p, prod); err != nil {
		return nil, err
	}
	var defaultPrice Object
	if dp, ok := p.Sub("default_price_data"); ok {
		price, err := buildPrice(c, dp, prod.ID())
		if err != nil {
			return nil, err
		}
		if !price.Bool("active") {
			return nil, InvalidRequest("default_price_data", "A product's default price must be active.")
		}
		prod["default_price"] = price.ID()
		defaultPrice = price
	}
	if err := c.Create(prod); err != nil {
		return nil, err
	}
	if defaultPrice != nil {
		if err := c.Create(defaultPrice); err != nil {
			return nil, err
		}
	}
	return c.Render(prod)
}

// applyProductParams sets the fields create and update share; "" unsets a
// nullable field, as on Stripe.
func applyProductParams(p Params, prod Object) error {
	if v, ok, err := p.Bool("active"); err != nil {
		return err
	} else if ok {
		prod["active"] = v
	}
	if v, ok := p.String("name"); ok {
		if v == "" {
			return InvalidRequest("name", "You must provide a non-empty name.")
		}
		prod["name"] = v
	}
	for _, f := range []string{"description", "statement_descriptor", "tax_code", "unit_label", "url"} {
		if v, ok := p.String(f); ok {
			if v == "" {
				prod[f] = nil
			} else {
				prod[f] = v
			}
		}
	}
	if v, ok, err := p.Bool("shippable"); err != nil {
		return err
	} else if ok {
		prod["shippable"] = v
	}
	if p.Has("images") {
		imgs := []any{}
		for _, s := range p.Strings("images") {
			imgs = append(imgs, s)
		}
		if len(imgs) > 8 {
			return InvalidRequest("images", "A product can have at most 8 images.")
		}
		prod["images"] = imgs
	}
	if p.Has("features") {
		feats := []any{}
		for _, f := range p.SubList("features") {
			name, _ := f.String("name")
			if name == "" {
				return MissingParam(f.Name("name"))
			}
			feats = append(feats, map[string]any{"name": name})
		}
		if len(feats) > 15 {
			return InvalidRequest("features", "A product can have at most 15 features.")
		}
		prod["features"] = feats
	}
	if p.IsEmpty("package_dimensions") {
		prod["package_dimensions"] = nil
	} else if pd, ok := p.Sub("package_dimensions"); ok {
		dims := map[string]any{}
		for _, k := range []string{"height", "length", "weight", "width"} {
			s, ok := pd.String(k)
			if !ok {
				return MissingParam(pd.Name(k))
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return InvalidRequest(pd.Name(k), "Invalid decimal: %s", s)
			}
			dims[k] = f
		}
		prod["package_dimensions"] = dims
	}
	md, err := p.ApplyMetadata(prod.Map("metadata"))
	if err != nil {
		return err
	}
	prod["metadata"] = md
	return nil
}

func updateProduct(c *Call) (any, error) {
	p := c.Params()
	old, err := c.Lookup("product", c.PathParam("id"), "id")
	if err != nil {
		return nil, err
	}
	prod := old.Clone()
	if err := applyProductParams(p, prod); err != nil {
		return nil, err
	}
	if v, ok := p.String("default_price"); ok {
		if v == "" {
			prod["default_price"] = nil
		} else {
			price, err := c.Lookup("price", v, "default_price")
			if err != nil {
				return nil, err
			}
			if price.Str("product") != prod.ID() {
				return nil, InvalidRequest("default_price",
					"The price `%s` belongs to product `%s`; a product's default price must be one of its own prices.", v, price.Str("product"))
			}
			if !price.Bool("active") {
				return nil, InvalidRequest("default_price", "The price `%s` is archived; a product's default price must be active.", v)
			}
			prod["default_price"] = v
		}
	}
	if len(Diff(old, prod)) > 0 {
		prod["updated"] = c.Now().Unix()
		if _, err := c.Save(old, prod); err != nil {
			return nil, err
		}
	}
	return c.Render(prod)
}

func deleteProduct(c *Call) (any, error) {
	prod, err := c.Lookup("product", c.PathParam("id"), "id")
	if err != nil {
		return nil, err
	}
	hasPrices := false
	c.Scan("price", func(o Object) bool {
		hasPrices = o.Str("product") == prod.ID()
		return !hasPrices
	})
	if hasPrices {
		return nil, InvalidRequest("", "This product cannot be deleted because it has one or more user-created prices.")
	}
	if err := c.Remove(prod); err != nil {
		return nil, err
	}
	return Object{"id": prod.ID(), "object": "product", "deleted": true}, nil
}

func listProducts(c *Call) (any, error) {
	p := c.Params()
	active, hasActive, err := p.Bool("active")
	if err != nil {
		return nil, err
	}
	shippable, hasShippable, err := p.Bool("shippable")
	if err != nil {
		return nil, err
	}
	url, hasURL := p.String("url")
	var ids map[string]bool
	if p.Has("ids") {
		ids = map[string]bool{}
		for _, id := range p.Strings("ids") {
			ids[id] = true
		}
	}
	created, cerr := parseCreatedFilter(p)
	if cerr != nil {
		return nil, cerr
	}
	return c.List("product", func(o Object) bool {
		return (!hasActive || o.Bool("active") == active) &&
			(!hasShippable || o.Bool("shippable") == shippable) &&
			(!hasURL || o.Str("url") == url) &&
			(ids == nil || ids[o.ID()]) &&
			created.match(o.Int("created"))
	})
}
