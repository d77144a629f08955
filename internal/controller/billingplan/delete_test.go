package billingplan

import (
	"context"
	"testing"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeapi/fake"
)

// Pins what deletion does in Stripe, which never deletes a price and refuses to delete a product that
// has prices: archive every active price and the product; delete only a product that never had one.
func TestDelete(t *testing.T) {
	cases := map[string]struct {
		product      stripeapi.Product
		prices       []stripeapi.Price
		wantArchived []string // price ids
		wantProduct  string   // "archived", "deleted" or "untouched"
	}{
		"product with prices: archive both": {
			product:      stripeapi.Product{ID: "prod_1", Active: true},
			prices:       []stripeapi.Price{{ID: "price_a", Active: true}, {ID: "price_b", Active: false}},
			wantArchived: []string{"price_a"}, wantProduct: "archived",
		},
		"product that never had a price: delete it": {
			product: stripeapi.Product{ID: "prod_1", Active: true}, wantProduct: "deleted",
		},
		"already archived: nothing to write": {
			product: stripeapi.Product{ID: "prod_1", Active: false},
			prices:  []stripeapi.Price{{ID: "price_a", Active: false}}, wantProduct: "untouched",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var archived []string
			productState := "untouched"
			stripe := &fake.Client{
				FakeUpdatePrice: func(_ context.Context, id string, p stripeapi.PriceUpdateParams) (*stripeapi.Price, error) {
					if p.Active == nil || *p.Active || p.IdempotencyKey == "" {
						t.Errorf("price %s: want an archive with an idempotency key, got %+v", id, p)
					}
					archived = append(archived, id)
					return &stripeapi.Price{ID: id}, nil
				},
				FakeUpdateProduct: func(_ context.Context, id string, p stripeapi.ProductUpdateParams) (*stripeapi.Product, error) {
					if p.Active == nil || *p.Active {
						t.Errorf("product update %+v is not an archive", p)
					}
					productState = "archived"
					return &stripeapi.Product{ID: id}, nil
				},
				FakeDeleteProduct: func(context.Context, string) error {
					productState = "deleted"
					return nil
				},
			}
			e := &external{stripe: stripe, product: &tc.product, prices: tc.prices, pass: managed.NewPass(stripe, stripeapi.Tags{UID: "uid"}, 1, "p")}
			if _, err := e.Delete(context.Background(), &v1alpha1.BillingPlan{}); err != nil {
				t.Fatal(err)
			}
			check(t, "archived prices", archived, tc.wantArchived)
			if productState != tc.wantProduct {
				t.Errorf("product %s, want %s", productState, tc.wantProduct)
			}
		})
	}
}
