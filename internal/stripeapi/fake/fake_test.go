package fake

import (
	"context"
	"errors"
	"testing"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

func TestFake(t *testing.T) {
	c := &Client{
		FakeGetProduct: func(_ context.Context, id string) (*stripeapi.Product, error) {
			return &stripeapi.Product{ID: id}, nil
		},
	}
	var api stripeapi.Interface = c
	tenant := api.ForAccount("acct_1")
	if tenant.AccountID() != "acct_1" || api.AccountID() != "" {
		t.Errorf("AccountID: view %q, parent %q", tenant.AccountID(), api.AccountID())
	}
	if p, err := tenant.GetProduct(context.Background(), "prod_1"); err != nil || p.ID != "prod_1" {
		t.Errorf("view lost the parent's fakes: %v, %v", p, err)
	}
	if _, err := api.GetPrice(context.Background(), "price_1"); !errors.Is(err, ErrNotImplemented) {
		t.Errorf("unset method: err = %v", err)
	}
	c.FakeGetBalance = func(context.Context) (*stripeapi.Balance, error) {
		return &stripeapi.Balance{Available: map[string]int64{"eur": 0}}, nil
	}
	if b, err := tenant.GetBalance(context.Background()); err == nil {
		t.Errorf("a view made before the field was set sees it: %+v", b)
	}
	if b, err := api.ForAccount("acct_1").GetBalance(context.Background()); err != nil || !b.IsZero() {
		t.Errorf("GetBalance: %+v, %v", b, err)
	}
	var chosen string
	c.FakeForAccount = func(id string) stripeapi.Interface { chosen = id; return c }
	api.ForAccount("acct_2")
	if chosen != "acct_2" {
		t.Errorf("FakeForAccount not used")
	}
}
