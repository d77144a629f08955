package emulator

import (
	"net/http"
	"strings"
)

// Invoices (made by subscriptions; invoice_lifecycle.go) and invoice items
// (prorations). Creating invoices or invoice items directly
// (POST /v1/invoices, POST /v1/invoiceitems) is not emulated.

func registerInvoices(e *Emulator) {
	e.AddResource(&Resource{
		Object: "invoice", Noun: "invoice", IDPrefix: "in", Path: "/v1/invoices",
		Expandable: map[string]string{"charge": "charge", "customer": "customer", "subscription": "subscription",
			"default_payment_method": "payment_method"},
		Search: map[string]SearchField{
			"created":      {Type: SearchNumeric},
			"currency":     {Type: SearchToken},
			"customer":     {Type: SearchString},
			"metadata":     {Type: SearchMetadata},
			"number":       {Type: SearchString},
			"status":       {Type: SearchToken},
			"subscription": {Type: SearchString},
			"total":        {Type: SearchNumeric},
		},
	})
	e.AddResource(&Resource{
		Object: "invoiceitem", Noun: "invoiceitem", IDPrefix: "ii", Path: "/v1/invoiceitems",
		Expandable: map[string]string{"customer": "customer", "invoice": "invoice", "subscription": "subscription"},
	})
	r := e.Router()
	r.Handle(http.MethodGet, "/v1/invoices", listInvoices)
	r.Handle(http.MethodGet, "/v1/invoices/search", func(c *Call) (any, error) { return c.Search("invoice") })
	r.Handle(http.MethodGet, "/v1/invoices/{invoice}", func(c *Call) (any, error) {
		inv, err := c.Lookup("invoice", c.PathParam("invoice"), "invoice")
		if err != nil {
			return nil, err
		}
		return c.Render(inv)
	})
	r.Handle(http.MethodPost, "/v1/invoices/{invoice}", updateInvoice)
	r.Handle(http.MethodGet, "/v1/invoices/{invoice}/lines", invoiceLines)
	r.Handle(http.MethodPost, "/v1/invoices/{invoice}/pay", payInvoice)
	r.Handle(http.MethodPost, "/v1/invoices/{invoice}/void", func(c *Call) (any, error) {
		return closeInvoice(c, "void", "voided_at", "invoice.voided", "open", "uncollectible")
	})
	r.Handle(http.MethodPost, "/v1/invoices/{invoice}/mark_uncollectible", func(c *Call) (any, error) {
		return closeInvoice(c, "uncollectible", "marked_uncollectible_at", "invoice.marked_uncollectible", "open")
	})
	r.Handle(http.MethodGet, "/v1/invoiceitems", func(c *Call) (any, error) {
		p := c.Params()
		customer, hasCustomer := p.String("customer")
		invoice, hasInvoice := p.String("invoice")
		pending, hasPending, err := p.Bool("pending")
		if err != nil {
			return nil, err
		}
		created, cerr := parseCreatedFilter(p)
		if cerr != nil {
			return nil, cerr
		}
		return c.List("invoiceitem", func(o Object) bool {
			return (!hasCustomer || o.Str("customer") == customer) && (!hasInvoice || o.Str("invoice") == invoice) &&
				(!hasPending || (o["invoice"] == nil) == pending) && created.match(o.Int("created"))
		})
	})
	r.Handle(http.MethodGet, "/v1/invoiceitems/{invoiceitem}", func(c *Call) (any, error) {
		ii, err := c.Lookup("invoiceitem", c.PathParam("invoiceitem"), "invoiceitem")
		if err != nil {
			return nil, err
		}
		return c.Render(ii)
	})
	r.Handle(http.MethodDelete, "/v1/invoiceitems/{invoiceitem}", func(c *Call) (any, error) {
		ii, err := c.Lookup("invoiceitem", c.PathParam("invoiceitem"), "invoiceitem")
		if err != nil {
			return nil, err
		}
		if ii["invoice"] != nil {
			return nil, InvalidRequest("invoiceitem", "This invoice item is already on an invoice (%s) and cannot be deleted.", ii.Str("invoice"))
		}
		if err := c.Remove(ii); err != nil {
			return nil, err
		}
		return Object{"id": ii.ID(), "object": "invoiceitem", "deleted": true}, nil
	})
}

func listInvoices(c *Call) (any, error) {
	p := c.Params()
	customer, hasCustomer := p.String("customer")
	sub, hasSub := p.String("subscription")
	status, hasStatus := p.String("status")
	method, hasMethod := p.String("collection_method")
	ranges := map[string]createdFilter{}
	for _, k := range []string{"created", "due_date"} {
		if !p.Has(k) {
			continue
		}
		f, err := parseCreatedFilter(NewParams(map[string]any{"created": p.Raw()[k]}))
		if err != nil {
			return nil, err
		}
		ranges[k] = f
	}
	return c.List("invoice", func(o Object) bool {
		for k, f := range ranges {
			if !f.match(o.Int(k)) {
				return false
			}
		}
		return (!hasCustomer || o.Str("customer") == customer) && (!hasSub || o.Str("subscription") == sub) &&
			(!hasStatus || o.Str("status") == status) && (!hasMethod || o.Str("collection_method") == method)
	})
}

// updateInvoice changes what may change on a finalized invoice: metadata,
// description, footer.
func updateInvoice(c *Call) (any, error) {
	p := c.Params()
	old, err := c.Lookup("invoice", c.PathParam("invoice"), "invoice")
	if err != nil {
		return nil, err
	}
	for _, k := range p.Keys() {
		switch k {
		case "metadata", "description", "footer", "expand":
		default:
			return nil, refuseUnsupported(p, k)
		}
	}
	inv := old.Clone()
	for _, f := range []string{"description", "footer"} {
		if v, ok := p.String(f); ok {
			inv[f] = nilIfEmpty(v)
		}
	}
	md, merr := p.ApplyMetadata(inv.Map("metadata"))
	if merr != nil {
		return nil, merr
	}
	inv["metadata"] = md
	if _, err := c.Save(old, inv); err != nil {
		return nil, err
	}
	return c.Render(inv)
}

// invoiceLines pages through an invoice's lines.
func invoiceLines(c *Call) (any, error) {
	inv, err := c.Lookup("invoice", c.PathParam("invoice"), "invoice")
	if err != nil {
		return nil, err
	}
	limit, after, before, err := pageParams(c.Params())
	if err != nil {
		return nil, err
	}
	lines := listData(inv, "lines")
	start, end := 0, len(lines)
	for i, l := range lines {
		if after != "" && l.ID() == after {
			start = i + 1
		}
		if before != "" && l.ID() == before {
			end = i
		}
	}
	if before != "" {
		start = max(0, end-int(limit))
	}
	page := lines[start:min(end, start+int(limit))]
	out := embeddedList("/v1/invoices/"+inv.ID()+"/lines", objectsToAny(page))
	out["has_more"] = start+len(page) < len(lines) && before == "" || before != "" && start > 0
	return Object(out), nil
}

// payInvoice is POST /v1/invoices/{id}/pay: an open (or uncollectible)
// invoice is charged now with `payment_method` (which must be the
// customer's) or the default one, or marked paid_out_of_band. A paid
// subscription invoice that is the subscription's latest makes an incomplete
// or past_due subscription active. A declined card answers 402; the failed
// attempt is not recorded (the emulator undoes a request that fails).
func payInvoice(c *Call) (any, error) {
	p := c.Params()
	if err := refuseUnsupported(p, "forgive", "mandate", "source"); err != nil {
		return nil, err
	}
	inv, err := c.Lookup("invoice", c.PathParam("invoice"), "invoice")
	if err != nil {
		return nil, err
	}
	switch inv.Str("status") {
	case "paid":
		return nil, InvalidRequest("", "Invoice is already paid")
	case "void":
		return nil, InvalidRequest("", "This invoice has been voided and cannot be paid.")
	case "draft":
		if inv, err = finalizeInvoice(c, inv); err != nil {
			return nil, err
		}
	}
	cus, err := c.Lookup("customer", inv.Str("customer"), "customer")
	if err != nil {
		return nil, err
	}
	oob, _, berr := p.Bool("paid_out_of_band")
	if berr != nil {
		return nil, berr
	}
	if oob && inv.Str("status") != "paid" {
		if inv, err = markInvoicePaid(c, inv, nil, true); err != nil {
			return nil, err
		}
	}
	if inv.Str("status") != "paid" {
		var pm Object
		if id, ok := p.String("payment_method"); ok {
			if pm, err = customerPaymentMethod(c, cus, id, "payment_method"); err != nil {
				return nil, err
			}
		} else {
			sub, _ := c.Get("subscription", inv.Str("subscription"))
			pm = paymentMethodFor(c, cus, sub)
		}
		if pm == nil {
			return nil, noPaymentMethodError()
		}
		paid, outcome, cardErr, err := collectInvoice(c, inv, pm, true)
		if err != nil {
			return nil, err
		}
		if outcome == paymentDeclined {
			return nil, cardErr
		}
		inv = paid
	}
	if err := afterInvoicePaid(c, inv); err != nil {
		return nil, err
	}
	return c.Render(inv)
}

// closeInvoice moves an invoice to a final status (void, uncollectible)
// from one of the statuses it may leave, with its event.
func closeInvoice(c *Call, status, transition, event string, from ...string) (any, error) {
	old, err := c.Lookup("invoice", c.PathParam("invoice"), "invoice")
	if err != nil {
		return nil, err
	}
	if !contains(from, old.Str("status")) {
		return nil, InvalidRequest("", "You can only mark invoices with status %s as %s; this invoice is %s.",
			strings.Join(from, " or "), status, old.Str("status"))
	}
	inv := old.Clone()
	inv["status"] = status
	inv.Map("status_transitions")[transition] = c.Now().Unix()
	if status == "void" {
		inv["amount_remaining"] = int64(0)
	}
	if err := c.Update("invoice", inv); err != nil {
		return nil, err
	}
	if err := c.Emit(event, inv, Diff(old, inv)); err != nil {
		return nil, err
	}
	return c.Render(inv)
}
