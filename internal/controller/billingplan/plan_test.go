package billingplan

import (
	"testing"

	"k8s.io/utils/ptr"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

const planUID = "plan-uid"

func ours(id, key string, active bool, amount int64, lookup string) stripeapi.Price {
	return stripeapi.Price{
		ID: id, Active: active, Currency: "usd", UnitAmount: ptr.To(amount), Type: "recurring", LookupKey: lookup, Nickname: key,
		Recurring: &stripeapi.Recurring{Interval: "month", IntervalCount: 1, UsageType: "licensed"},
		Metadata:  map[string]string{stripeapi.MetadataKeyUID: planUID, stripeapi.MetadataKeyComponent: priceComponent(key)},
	}
}

func want(key string, amount int64, lookup string) v1alpha1.Price {
	return v1alpha1.Price{Key: key, Currency: "usd", UnitAmount: ptr.To(amount), LookupKey: lookup, Nickname: key,
		Recurring: &v1alpha1.Recurring{Interval: v1alpha1.IntervalMonth}}
}

// Pins the price planning rules: which Stripe price serves each key, and what must be created,
// updated in place or archived.
func TestPlanPrices(t *testing.T) {
	foreign := ours("price_foreign", "monthly", true, 1000, "")
	foreign.Metadata = map[string]string{}
	cases := map[string]struct {
		spec        []v1alpha1.Price
		observed    []stripeapi.Price
		status      v1alpha1.BillingPlanStatus
		wantCreates []string // keys
		wantUpdates []string // price ids
		wantArchive []string // price ids
		wantCurrent map[string]string
	}{
		"a new plan creates every price": {
			spec:        []v1alpha1.Price{want("monthly", 1000, ""), want("seats", 200, "")},
			wantCreates: []string{"monthly", "seats"},
		},
		"defaults Stripe fills in (interval count 1, licensed) are no difference": {
			spec:        []v1alpha1.Price{want("monthly", 1000, "m")},
			observed:    []stripeapi.Price{ours("price_1", "monthly", true, 1000, "m")},
			wantCurrent: map[string]string{"monthly": "price_1"},
		},
		"an amount change creates a new version and archives the old": {
			spec:        []v1alpha1.Price{want("monthly", 1500, "m")},
			observed:    []stripeapi.Price{ours("price_1", "monthly", true, 1000, "m")},
			wantCreates: []string{"monthly"}, wantArchive: []string{"price_1"},
		},
		"a nickname change updates in place": {
			spec:        []v1alpha1.Price{func() v1alpha1.Price { p := want("monthly", 1000, ""); p.Nickname = "new"; return p }()},
			observed:    []stripeapi.Price{ours("price_1", "monthly", true, 1000, "")},
			wantUpdates: []string{"price_1"}, wantCurrent: map[string]string{"monthly": "price_1"},
		},
		"a price archived by hand is reactivated, not duplicated": {
			spec:        []v1alpha1.Price{want("monthly", 1000, "")},
			observed:    []stripeapi.Price{ours("price_1", "monthly", false, 1000, "")},
			wantUpdates: []string{"price_1"},
		},
		"after a crash mid-versioning, the new version is kept and the old archived": {
			spec:        []v1alpha1.Price{want("monthly", 1500, "")},
			observed:    []stripeapi.Price{ours("price_2", "monthly", true, 1500, ""), ours("price_1", "monthly", true, 1000, "")},
			wantArchive: []string{"price_1"}, wantCurrent: map[string]string{"monthly": "price_2"},
		},
		"a key removed from the spec is archived; archived ones stay archived": {
			spec:        []v1alpha1.Price{want("monthly", 1000, "")},
			observed:    []stripeapi.Price{ours("price_2", "seats", true, 200, ""), ours("price_1", "monthly", true, 1000, ""), ours("price_0", "old", false, 5, "")},
			wantArchive: []string{"price_2"},
		},
		"an untagged price of an adopted product is matched by shape, not archived": {
			spec:        []v1alpha1.Price{want("monthly", 1000, "")},
			observed:    []stripeapi.Price{foreign},
			wantCurrent: map[string]string{"monthly": "price_foreign"},
		},
		"an untagged price recorded in status is the plan's": {
			spec:        []v1alpha1.Price{},
			observed:    []stripeapi.Price{foreign},
			status:      v1alpha1.BillingPlanStatus{Prices: []v1alpha1.PriceStatus{{Key: "monthly", ID: "price_foreign"}}},
			wantArchive: []string{"price_foreign"},
		},
		"a tax behaviour the spec leaves unset is no reason for a new price": {
			spec: []v1alpha1.Price{want("monthly", 1000, "")},
			observed: []stripeapi.Price{func() stripeapi.Price {
				p := ours("price_1", "monthly", true, 1000, "")
				p.TaxBehavior = "exclusive"
				return p
			}()},
			wantCurrent: map[string]string{"monthly": "price_1"},
		},
		"a tax behaviour the spec sets differently, once fixed, needs a new price": {
			spec: []v1alpha1.Price{func() v1alpha1.Price { p := want("monthly", 1000, ""); p.TaxBehavior = "inclusive"; return p }()},
			observed: []stripeapi.Price{func() stripeapi.Price {
				p := ours("price_1", "monthly", true, 1000, "")
				p.TaxBehavior = "exclusive"
				return p
			}()},
			wantCreates: []string{"monthly"}, wantArchive: []string{"price_1"},
		},
		"a tax behaviour still unspecified in Stripe is set in place": {
			spec:        []v1alpha1.Price{func() v1alpha1.Price { p := want("monthly", 1000, ""); p.TaxBehavior = "exclusive"; return p }()},
			observed:    []stripeapi.Price{ours("price_1", "monthly", true, 1000, "")},
			wantUpdates: []string{"price_1"}, wantCurrent: map[string]string{"monthly": "price_1"},
		},
		"decimal and integer amounts that are equal are the same shape": {
			spec: []v1alpha1.Price{{Key: "api", Currency: "usd", UnitAmountDecimal: ptr.To("12.50")}},
			observed: []stripeapi.Price{{ID: "price_d", Active: true, Currency: "usd", Type: "one_time", UnitAmountDecimal: "12.5",
				Metadata: map[string]string{stripeapi.MetadataKeyUID: planUID, stripeapi.MetadataKeyComponent: priceComponent("api")}}},
			wantCurrent: map[string]string{"api": "price_d"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			plan := planPrices(tc.spec, tc.observed, newOwnership(planUID, tc.status))
			var creates, updates, archives []string
			for _, c := range plan.creates {
				creates = append(creates, c.Key)
			}
			for _, u := range plan.updates {
				updates = append(updates, u.price.ID)
			}
			for _, a := range plan.archives {
				archives = append(archives, a.price.ID)
			}
			check(t, "creates", creates, tc.wantCreates)
			check(t, "updates", updates, tc.wantUpdates)
			check(t, "archives", archives, tc.wantArchive)
			for key, id := range tc.wantCurrent {
				if cur := plan.current[key]; cur == nil || cur.ID != id {
					t.Errorf("current[%s] = %v, want %s", key, cur, id)
				}
			}
		})
	}
}

func check(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
	}
}

// Pins which product differences are updates: set fields are managed, empty optional ones are not.
func TestProductChanges(t *testing.T) {
	have := stripeapi.Product{Name: "Gold", Description: "set in the Dashboard", Active: true, Metadata: map[string]string{stripeapi.MetadataKeyUID: planUID}}
	cases := map[string]struct {
		want       v1alpha1.Product
		wantFields int
	}{
		"same name, unmanaged description":   {want: v1alpha1.Product{Name: "Gold"}, wantFields: 0},
		"renamed":                            {want: v1alpha1.Product{Name: "Platinum"}, wantFields: 1},
		"archived in the spec":               {want: v1alpha1.Product{Name: "Gold", Active: ptr.To(false)}, wantFields: 1},
		"metadata added, tags left alone":    {want: v1alpha1.Product{Name: "Gold", Metadata: v1alpha1.Metadata{"team": "x"}}, wantFields: 1},
		"description managed once it is set": {want: v1alpha1.Product{Name: "Gold", Description: "ours"}, wantFields: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := productChanges(tc.want, have); len(got.fields) != tc.wantFields {
				t.Errorf("fields %v, want %d", got.fields, tc.wantFields)
			}
		})
	}
}
