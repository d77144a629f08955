package emulator

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

func (e *env) searchProducts(t *testing.T, q string) []string {
	t.Helper()
	it := e.sc.Products.Search(&stripe.ProductSearchParams{SearchParams: stripe.SearchParams{Query: q, Limit: stripe.Int64(2)}})
	var out []string
	for it.Next() {
		out = append(out, it.Product().ID)
	}
	if err := it.Err(); err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	return out
}

// Rule 6: search by metadata and active, objects visible only once the
// index has caught up (search lag on the emulator clock), changes likewise.
func TestSearchLagAndMetadata(t *testing.T) {
	e := newEnv(t, Options{SearchLag: time.Minute})
	uid := e.newProduct(t, "gold", map[string]string{"k8s_uid": "u-1", "cluster": "c1"})
	e.newProduct(t, "silver", map[string]string{"k8s_uid": "u-2", "cluster": "c1"})

	q := "metadata['k8s_uid']:'u-1' AND active:'true'"
	if got := e.searchProducts(t, q); len(got) != 0 {
		t.Fatalf("found before the index caught up: %v", got)
	}
	e.clock.Advance(time.Minute)
	if got := e.searchProducts(t, q); len(got) != 1 || got[0] != uid.ID {
		t.Fatalf("after lag: %v", got)
	}
	// A change reaches the index only after the lag too: until then the old
	// metadata still matches and the new one does not.
	if _, err := e.sc.Products.Update(uid.ID, &stripe.ProductParams{Metadata: map[string]string{"k8s_uid": "u-9"}}); err != nil {
		t.Fatal(err)
	}
	if got := e.searchProducts(t, q); len(got) != 1 {
		t.Fatalf("stale index should still match the old value: %v", got)
	}
	if got := e.searchProducts(t, `metadata["k8s_uid"]:"u-9"`); len(got) != 0 {
		t.Fatalf("new value visible before the lag: %v", got)
	}
	e.clock.Advance(time.Minute)
	if got := e.searchProducts(t, `metadata["k8s_uid"]:"u-9"`); len(got) != 1 {
		t.Fatalf("new value after the lag: %v", got)
	}
	if got := e.searchProducts(t, q); len(got) != 0 {
		t.Fatalf("old value after the lag: %v", got)
	}
	// OR, negation, substring, and paging through next_page (limit 2).
	if got := e.searchProducts(t, "metadata['cluster']:'c1'"); len(got) != 2 {
		t.Fatalf("cluster: %v", got)
	}
	if got := e.searchProducts(t, "-name:'gold' AND metadata['cluster']:'c1'"); len(got) != 1 {
		t.Fatalf("negation: %v", got)
	}
	if got := e.searchProducts(t, "name~'ilv' OR name:'GOLD'"); len(got) != 2 {
		t.Fatalf("substring/or: %v", got)
	}
	for i := 0; i < 3; i++ {
		e.newProduct(t, fmt.Sprintf("bulk%d", i), map[string]string{"cluster": "c1"})
	}
	e.clock.Advance(time.Minute)
	if got := e.searchProducts(t, "metadata['cluster']:'c1'"); len(got) != 5 {
		t.Fatalf("paged search saw %d", len(got))
	}
}

// Rule 6: the response is a search_result with next_page and url.
func TestSearchResultShape(t *testing.T) {
	e := newEnv(t, Options{})
	for i := 0; i < 3; i++ {
		e.newProduct(t, "p", map[string]string{"t": "x"})
	}
	r := e.do(t, "GET", "/v1/products/search", "query=metadata['t']:'x'&limit=2&expand[]=total_count")
	if r.obj["object"] != "search_result" || r.obj["url"] != "/v1/products/search" || r.obj["has_more"] != true ||
		r.obj["next_page"] == nil || r.obj["total_count"] != float64(3) {
		t.Fatalf("shape: %s", r.body)
	}
	r = e.do(t, "GET", "/v1/products/search", "query=metadata['t']:'x'&limit=2&page="+r.obj["next_page"].(string))
	if len(r.obj["data"].([]any)) != 1 || r.obj["has_more"] != false || r.obj["next_page"] != nil {
		t.Fatalf("second page: %s", r.body)
	}
}

// Rule 6: prices search on their own fields.
func TestPriceSearch(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "p", nil)
	price := e.newPrice(t, &stripe.PriceParams{Product: stripe.String(prod.ID), Currency: stripe.String("usd"),
		UnitAmount: stripe.Int64(10), LookupKey: stripe.String("plan-basic"), Metadata: map[string]string{"key": "basic"}})
	it := e.sc.Prices.Search(&stripe.PriceSearchParams{SearchParams: stripe.SearchParams{
		Query: fmt.Sprintf("product:'%s' AND lookup_key:'plan-basic' AND currency:'usd' AND type:'one_time' AND metadata['key']:'basic'", prod.ID)}})
	if !it.Next() || it.Price().ID != price.ID || it.Next() {
		t.Fatalf("price search: %v", it.Err())
	}
}

// Rule 6: queries Stripe refuses.
func TestSearchQueryErrors(t *testing.T) {
	e := newEnv(t, Options{})
	cases := map[string]string{
		"colour:'red'":                      "Field `colour` is an unsupported search field for resource `products`. See http://stripe.com/docs/search#query-fields-for-products for a list of supported fields.",
		"name:'a' AND name:'b' OR name:'c'": "Search queries cannot combine AND and OR.",
		"metadata['k']":                     searchSyntaxHelp,
		"name:gold":                         "Invalid query for field `name`: string values must be quoted",
		"name~'ab'":                         "Invalid query for field `name`: substring matches need at least 3 characters",
		"active:'yes'":                      "Invalid query for field `active`: use `:` with 'true' or 'false'",
	}
	for q, msg := range cases {
		r := e.do(t, "GET", "/v1/products/search", url.Values{"query": {q}}.Encode())
		if r.status != 400 || r.errField("param") != "query" || r.errField("message") != msg {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}
