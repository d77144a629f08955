package emulator

import (
	"fmt"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

// Rule 5: lists are newest first and page with limit, starting_after and
// ending_before; has_more and url are set; stripe-go's iterator walks them.
func TestListPagination(t *testing.T) {
	e := newEnv(t, Options{})
	var ids []string // creation order
	for i := 0; i < 7; i++ {
		ids = append(ids, e.newProduct(t, fmt.Sprintf("p%d", i), nil).ID)
	}
	newest := func(i int) string { return ids[len(ids)-1-i] }

	r := e.do(t, "GET", "/v1/products", "limit=3")
	data := r.obj["data"].([]any)
	if r.obj["object"] != "list" || r.obj["url"] != "/v1/products" || r.obj["has_more"] != true || len(data) != 3 {
		t.Fatalf("first page: %s", r.body)
	}
	for i, d := range data {
		if d.(map[string]any)["id"] != newest(i) {
			t.Fatalf("page not newest first: %s", r.body)
		}
	}
	r = e.do(t, "GET", "/v1/products", "limit=3&starting_after="+newest(5))
	if d := r.obj["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != newest(6) || r.obj["has_more"] != false {
		t.Fatalf("last page: %s", r.body)
	}
	// ending_before gives the objects just newer than the cursor, still
	// newest first.
	r = e.do(t, "GET", "/v1/products", "limit=2&ending_before="+newest(3))
	if d := r.obj["data"].([]any); len(d) != 2 || d[0].(map[string]any)["id"] != newest(1) ||
		d[1].(map[string]any)["id"] != newest(2) || r.obj["has_more"] != true {
		t.Fatalf("ending_before page: %s", r.body)
	}

	it := e.sc.Products.List(&stripe.ProductListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(2)}})
	n := 0
	for it.Next() {
		if it.Product().ID != newest(n) {
			t.Fatalf("iterator order at %d", n)
		}
		n++
	}
	if it.Err() != nil || n != 7 {
		t.Fatalf("iterator saw %d: %v", n, it.Err())
	}
	// Backwards with ending_before, as stripe-go iterates it.
	bit := e.sc.Products.List(&stripe.ProductListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(2), EndingBefore: stripe.String(ids[0])}})
	n = 0
	for bit.Next() {
		n++
	}
	if bit.Err() != nil || n != 6 {
		t.Fatalf("backward iterator saw %d: %v", n, bit.Err())
	}
}

// Rule 5: list parameters Stripe refuses.
func TestListParameterErrors(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.newProduct(t, "p", nil)
	cases := []struct {
		query, param, msg string
		status            int
	}{
		{"limit=0", "limit", "This value must be greater than or equal to 1.", 400},
		{"limit=101", "limit", "This value must be less than or equal to 100.", 400},
		{"starting_after=prod_gone", "starting_after", "No such product: 'prod_gone'", 404},
		{"starting_after=" + p.ID + "&ending_before=" + p.ID, "starting_after", "You may only specify one of these parameters: starting_after, ending_before.", 400},
		{"expand[]=default_price", "expand", "This property cannot be expanded (default_price). You may want to try expanding 'data.default_price' instead.", 400},
	}
	for _, tc := range cases {
		r := e.do(t, "GET", "/v1/products", tc.query)
		if r.status != tc.status || r.errField("param") != tc.param || r.errField("message") != tc.msg {
			t.Errorf("%s: %d %s", tc.query, r.status, r.body)
		}
	}
}

// Rule 5: the filters Stripe documents for product, price and event lists.
func TestListFilters(t *testing.T) {
	e := newEnv(t, Options{})
	gold := e.newProduct(t, "gold", nil)
	silver := e.newProduct(t, "silver", nil)
	if _, err := e.sc.Products.Update(silver.ID, &stripe.ProductParams{Active: stripe.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	m := e.newPrice(t, &stripe.PriceParams{Product: stripe.String(gold.ID), Currency: stripe.String("usd"), UnitAmount: stripe.Int64(1000),
		LookupKey: stripe.String("gold-monthly"), Recurring: &stripe.PriceRecurringParams{Interval: stripe.String("month")}})
	y := e.newPrice(t, &stripe.PriceParams{Product: stripe.String(gold.ID), Currency: stripe.String("eur"), UnitAmount: stripe.Int64(9000),
		LookupKey: stripe.String("gold-yearly"), Recurring: &stripe.PriceRecurringParams{Interval: stripe.String("year")}})
	once := e.newPrice(t, &stripe.PriceParams{Product: stripe.String(silver.ID), Currency: stripe.String("usd"), UnitAmount: stripe.Int64(50)})
	if _, err := e.sc.Prices.Update(once.ID, &stripe.PriceParams{Active: stripe.Bool(false)}); err != nil {
		t.Fatal(err)
	}

	ids := func(path, query string) []string {
		r := e.do(t, "GET", path, query)
		if r.status != 200 {
			t.Fatalf("%s?%s: %d %s", path, query, r.status, r.body)
		}
		var out []string
		for _, d := range r.obj["data"].([]any) {
			out = append(out, d.(map[string]any)["id"].(string))
		}
		return out
	}
	cases := []struct {
		path, query string
		want        []string
	}{
		{"/v1/products", "active=true", []string{gold.ID}},
		{"/v1/products", "active=false", []string{silver.ID}},
		{"/v1/products", "ids[]=" + silver.ID + "&ids[]=prod_other", []string{silver.ID}},
		{"/v1/prices", "product=" + gold.ID, []string{y.ID, m.ID}},
		{"/v1/prices", "active=false", []string{once.ID}},
		{"/v1/prices", "currency=eur", []string{y.ID}},
		{"/v1/prices", "type=one_time", []string{once.ID}},
		{"/v1/prices", "recurring[interval]=month", []string{m.ID}},
		{"/v1/prices", "lookup_keys[0]=gold-yearly&lookup_keys[1]=gold-monthly", []string{y.ID, m.ID}},
		{"/v1/prices", "created[gte]=" + fmt.Sprint(testEpoch.Unix()), []string{once.ID, y.ID, m.ID}},
		{"/v1/prices", "created[gt]=" + fmt.Sprint(testEpoch.Unix()), nil},
		{"/v1/events", "type=price.created", nil}, // filled below
	}
	for _, tc := range cases[:len(cases)-1] {
		if got := ids(tc.path, tc.query); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s?%s = %v, want %v", tc.path, tc.query, got, tc.want)
		}
	}
	if got := ids("/v1/events", "type=price.created"); len(got) != 3 {
		t.Errorf("events type=price.created: %v", got)
	}
	if got := ids("/v1/events", "types[]=product.created&types[]=product.updated"); len(got) != 3 {
		t.Errorf("events types[]: %v", got)
	}
	if got := ids("/v1/events", "type=price.*"); len(got) != 4 {
		t.Errorf("events type=price.*: %v", got)
	}
	// expand[]=data.product expands each item.
	r := e.do(t, "GET", "/v1/prices", "product="+silver.ID+"&expand[]=data.product")
	if prod := r.obj["data"].([]any)[0].(map[string]any)["product"].(map[string]any); prod["name"] != "silver" {
		t.Fatalf("data.product not expanded: %s", r.body)
	}
}
