// Package billingplan manages a BillingPlan's Stripe product and prices, on the platform account or on
// its tenant's connected account. It is one adapter of the generic reconciler in package managed.
package billingplan

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// productComponent tags the product among the plan's Stripe objects.
const productComponent = "product"

// Event reasons for the writes this adapter makes beyond the product's create (which the generic
// reconciler reports). Distinct reasons keep each write visible: events of one reason are folded.
const (
	eventUpdatedProduct = "UpdatedProduct"
	eventCreatedPrice   = "CreatedPrice"
	eventUpdatedPrice   = "UpdatedPrice"
	eventArchivedPrice  = "ArchivedPrice"
)

// Connecter decides where a plan's objects live and builds its ExternalClient.
type Connecter struct {
	Kube client.Reader
}

// Connect scopes the client to the tenant's connected account when the plan has a tenantRef: the
// account is decided before Observe, so a "not found" can never mean "asked the wrong account".
func (c Connecter) Connect(ctx context.Context, obj managed.Object, pass *managed.Pass) (managed.ExternalClient, error) {
	plan := obj.(*v1alpha1.BillingPlan)
	stripe := pass.Stripe
	plan.Status.AccountID = ""
	if plan.Spec.TenantRef != nil {
		tenant, err := c.tenant(ctx, plan)
		if err != nil {
			return nil, err
		}
		if tenant.Status.AccountID == "" {
			return nil, managed.WaitingFor("StripeTenant %q has no connected account yet", tenant.Name)
		}
		stripe = stripe.ForAccount(tenant.Status.AccountID)
		plan.Status.AccountID = tenant.Status.AccountID
	}
	return &external{stripe: stripe, pass: pass}, nil
}

func (c Connecter) tenant(ctx context.Context, plan *v1alpha1.BillingPlan) (*v1alpha1.StripeTenant, error) {
	var tenant v1alpha1.StripeTenant
	key := types.NamespacedName{Namespace: plan.Namespace, Name: plan.Spec.TenantRef.Name}
	if err := c.Kube.Get(ctx, key, &tenant); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, managed.ReferentMissing("StripeTenant %q does not exist (spec.tenantRef)", key.Name)
		}
		return nil, fmt.Errorf("get StripeTenant %s: %w", key, err)
	}
	return &tenant, nil
}

// external is the plan's ExternalClient for one pass. Observe keeps what it read (the product, its
// prices) so Create and Update work from it without reading Stripe again.
type external struct {
	stripe stripeapi.Interface
	pass   *managed.Pass // tags, events and idempotency keys

	product *stripeapi.Product
	prices  []stripeapi.Price
}

// Observe reads the product (by id, or by its tags after an interrupted create) and all its prices.
func (e *external) Observe(ctx context.Context, obj managed.Object) (managed.Observation, error) {
	plan := obj.(*v1alpha1.BillingPlan)
	product, err := e.findProduct(ctx, plan)
	if err != nil || product == nil {
		return managed.Observation{}, err
	}
	prices, err := e.stripe.ListPrices(ctx, stripeapi.PriceListParams{ProductID: product.ID})
	if err != nil {
		return managed.Observation{}, err
	}
	e.product, e.prices = product, prices

	plan.Status.ProductID = product.ID
	productDiff := productChanges(plan.Spec.Product, *product)
	prices2 := planPrices(plan.Spec.Prices, prices, newOwnership(string(plan.UID), plan.Status))
	plan.Status.Prices = priceStatuses(plan.Spec.Prices, prices2.current)
	diff := append(productDiff.fields, prices2.diff...)
	return managed.Observation{
		Exists:     true,
		UpToDate:   len(productDiff.fields) == 0 && prices2.empty(),
		ExternalID: product.ID,
		Diff:       describe(diff),
	}, nil
}

func (e *external) findProduct(ctx context.Context, plan *v1alpha1.BillingPlan) (*stripeapi.Product, error) {
	if id, known := managed.KnownExternalID(plan); known {
		product, err := e.stripe.GetProduct(ctx, id)
		if stripeapi.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return product, nil
	}
	if !managed.IsCreatePending(plan) {
		return nil, nil // nothing was ever created for this plan
	}
	found, err := e.stripe.FindProductsByTags(ctx, e.productTags(), stripeapi.FindOptions{CreatedSince: plan.CreationTimestamp.Time})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, nil
	}
	return &found[len(found)-1], nil // the oldest: the first create, should two ever exist
}

// Create creates the product only; Update, called next, creates the prices.
func (e *external) Create(ctx context.Context, obj managed.Object) (managed.Created, error) {
	plan := obj.(*v1alpha1.BillingPlan)
	spec := plan.Spec.Product
	product, err := e.stripe.CreateProduct(ctx, stripeapi.ProductCreateParams{
		IdempotencyKey:      e.pass.CreateKey("create-product"),
		Tags:                e.productTags(),
		Metadata:            spec.Metadata,
		Name:                spec.Name,
		Description:         spec.Description,
		TaxCode:             spec.TaxCode,
		UnitLabel:           spec.UnitLabel,
		StatementDescriptor: spec.StatementDescriptor,
		Active:              spec.Active,
	})
	if err != nil {
		return managed.Created{}, err
	}
	e.product, e.prices = product, nil
	plan.Status.ProductID = product.ID
	return managed.Created{ID: product.ID}, nil
}

// Update changes the product in place, creates the prices the spec adds or re-shapes, updates prices in
// place where Stripe allows, and archives what the spec no longer wants, in that order: a new version
// takes the lookup key before the old one is archived, so the key always resolves.
func (e *external) Update(ctx context.Context, obj managed.Object) error {
	plan := obj.(*v1alpha1.BillingPlan)

	if changes := productChanges(plan.Spec.Product, *e.product); len(changes.fields) > 0 {
		changes.params.IdempotencyKey = e.pass.UpdateKey("update-product", changes.params)
		product, err := e.stripe.UpdateProduct(ctx, e.product.ID, changes.params)
		if err != nil {
			return err
		}
		e.product = product
		e.pass.Record(eventUpdatedProduct, "updated product %s: %s", product.ID, describe(changes.fields))
	}

	prices := planPrices(plan.Spec.Prices, e.prices, newOwnership(string(plan.UID), plan.Status))
	// One event per kind of write and pass, naming every price: events of one object and reason are
	// folded into a series, which would hide all but the first.
	var created, updated, archivedNotes []string
	defer func() {
		e.recordAll(eventCreatedPrice, "created", created)
		e.recordAll(eventUpdatedPrice, "updated", updated)
		e.recordAll(eventArchivedPrice, "archived", archivedNotes)
	}()
	for _, want := range prices.creates {
		price, err := e.stripe.CreatePrice(ctx, e.priceCreateParams(want))
		if err != nil {
			return fmt.Errorf("price key %q: %w", want.Key, err)
		}
		prices.current[want.Key] = price
		e.prices = append([]stripeapi.Price{*price}, e.prices...)
		created = append(created, fmt.Sprintf("%s (key %q)", price.ID, want.Key))
	}
	for _, u := range prices.updates {
		u.changes.params.IdempotencyKey = e.pass.UpdateKey("update-price/"+u.price.ID, u.changes.params)
		price, err := e.stripe.UpdatePrice(ctx, u.price.ID, u.changes.params)
		if err != nil {
			return fmt.Errorf("price key %q: %w", u.key, err)
		}
		prices.current[u.key] = price
		updated = append(updated, fmt.Sprintf("%s (key %q: %s)", price.ID, u.key, describe(u.changes.fields)))
	}
	var archived []v1alpha1.ArchivedPrice
	for _, a := range prices.archives {
		if err := e.archivePrice(ctx, a.price.ID); err != nil {
			return err
		}
		archived = append(archived, v1alpha1.ArchivedPrice{Key: a.key, ID: a.price.ID})
		archivedNotes = append(archivedNotes, fmt.Sprintf("%s (key %q)", a.price.ID, a.key))
	}
	plan.Status.Prices = priceStatuses(plan.Spec.Prices, prices.current)
	plan.Status.ArchivedPrices = appendArchived(plan.Status.ArchivedPrices, archived...)
	return nil
}

// recordAll records one event for the prices a pass wrote, if any.
func (e *external) recordAll(reason, verb string, notes []string) {
	if len(notes) > 0 {
		e.pass.Record(reason, "%s price %s", verb, strings.Join(notes, ", "))
	}
}

// Delete archives every active price, then the product: Stripe never deletes a price, and refuses to
// delete a product that has prices. A product that never had one is deleted.
func (e *external) Delete(ctx context.Context, _ managed.Object) (string, error) {
	archived := 0
	for _, p := range e.prices {
		if p.Active {
			if err := e.archivePrice(ctx, p.ID); err != nil {
				return "", err
			}
			archived++
		}
	}
	if len(e.prices) == 0 {
		if err := e.stripe.DeleteProduct(ctx, e.product.ID); err != nil && !stripeapi.IsNotFound(err) {
			return "", err
		}
		return fmt.Sprintf("deleted product %s (it had no prices)", e.product.ID), nil
	}
	done := fmt.Sprintf("archived %d prices and product %s (Stripe deletes neither a price nor a product with prices)", archived, e.product.ID)
	if !e.product.Active {
		return fmt.Sprintf("archived %d prices; product %s was already archived", archived, e.product.ID), nil
	}
	inactive := false
	_, err := e.stripe.UpdateProduct(ctx, e.product.ID, stripeapi.ProductUpdateParams{
		IdempotencyKey: e.pass.UpdateKey("archive-product/" + e.product.ID),
		Active:         &inactive,
	})
	if err != nil {
		return "", err
	}
	return done, nil
}

func (e *external) archivePrice(ctx context.Context, id string) error {
	inactive := false
	_, err := e.stripe.UpdatePrice(ctx, id, stripeapi.PriceUpdateParams{
		IdempotencyKey: e.pass.UpdateKey("archive-price/" + id),
		Active:         &inactive,
	})
	return err
}

func (e *external) productTags() stripeapi.Tags {
	tags := e.pass.Tags
	tags.Component = productComponent
	return tags
}

func (e *external) priceCreateParams(want v1alpha1.Price) stripeapi.PriceCreateParams {
	tags := e.pass.Tags
	tags.Component = priceComponent(want.Key)
	shape := shapeOfSpec(want)
	params := stripeapi.PriceCreateParams{
		// The shape is in the purpose: a re-shaped price in the same generation gets its own key.
		IdempotencyKey:    e.pass.CreateKey("create-price/" + want.Key + "/" + stripeapi.Digest(shape)),
		Tags:              tags,
		Metadata:          want.Metadata,
		ProductID:         e.product.ID,
		Currency:          want.Currency,
		UnitAmount:        want.UnitAmount,
		UnitAmountDecimal: ptr.Deref(want.UnitAmountDecimal, ""),
		TaxBehavior:       string(want.TaxBehavior),
		LookupKey:         want.LookupKey,
		// An older version of this key (or a price made outside the operator) may hold the lookup key.
		TransferLookupKey: want.LookupKey != "",
		Nickname:          want.Nickname,
		Active:            want.Active,
	}
	if len(want.Tiers) > 0 {
		params.TiersMode = string(want.TiersMode)
		for _, t := range want.Tiers {
			params.Tiers = append(params.Tiers, stripeapi.PriceTier{
				UpTo:              ptr.Deref(t.UpTo, 0),
				UnitAmount:        ptr.Deref(t.UnitAmount, 0),
				FlatAmount:        ptr.Deref(t.FlatAmount, 0),
				UnitAmountDecimal: ptr.Deref(t.UnitAmountDecimal, ""),
				FlatAmountDecimal: ptr.Deref(t.FlatAmountDecimal, ""),
			})
		}
	}
	if r := want.Recurring; r != nil {
		params.Recurring = &stripeapi.Recurring{Interval: string(r.Interval), IntervalCount: int64(r.IntervalCount), UsageType: string(r.UsageType), AggregateUsage: string(r.AggregateUsage)}
	}
	return params
}
