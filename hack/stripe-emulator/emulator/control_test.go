package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

func (e *env) control(t *testing.T, method, op string, in any) (int, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		_ = json.NewEncoder(&body).Encode(in)
	}
	req, _ := http.NewRequest(method, e.URL+"/_emulator/"+op, &body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// Rule 10: a Dashboard edit goes through the object's update endpoint: same
// rules, same spec check, the same event a real edit emits (no idempotency
// key), and it is not counted as an API request.
func TestDashboardEdit(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "Gold", map[string]string{"owner": "operator"})
	price := e.newPrice(t, monthly(prod.ID, 100))
	e.ResetStats()

	status, obj := e.control(t, "POST", "dashboard", map[string]any{"id": prod.ID, "params": map[string]any{"name": "Gold (edited)", "metadata": map[string]any{"owner": ""}}})
	if status != 200 || obj["name"] != "Gold (edited)" || len(obj["metadata"].(map[string]any)) != 0 {
		t.Fatalf("dashboard edit: %d %v", status, obj)
	}
	ev := e.events(t, e.PlatformAccount())[0]
	req := ev.Map("request")
	if ev.Str("type") != "product.updated" || req["idempotency_key"] != nil || req["id"] == nil {
		t.Fatalf("event: %v", ev)
	}
	if prev := ev.Map("data")["previous_attributes"].(map[string]any); prev["name"] != "Gold" {
		t.Fatalf("previous_attributes: %v", prev)
	}
	// Same rules as the API: an amount cannot be edited, a default price
	// cannot be archived, unknown fields are refused.
	if _, err := e.DashboardEdit("", price.ID, map[string]any{"unit_amount": 5}); err == nil {
		t.Fatal("editing a price amount must be refused")
	}
	if _, err := e.DashboardEdit("", price.ID, map[string]any{"active": false}); err != nil {
		t.Fatalf("archive a price: %v", err)
	}
	if s := e.Stats(); len(s.Requests) != 0 {
		t.Fatalf("dashboard edits counted as API requests: %v", s.Requests)
	}
	// On a connected account.
	acct := seedConnectedAccount(t, e.Emulator)
	p := &stripe.ProductParams{Name: stripe.String("t")}
	p.SetStripeAccount(acct)
	tp, err := e.sc.Products.New(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.DashboardEdit(acct, tp.ID, map[string]any{"active": false}); err != nil {
		t.Fatalf("connected dashboard edit: %v", err)
	}
	if ev := e.events(t, acct)[0]; ev.Str("account") != acct || ev.Str("type") != "product.updated" {
		t.Fatalf("connected event: %v", ev)
	}
	if _, err := e.DashboardEdit("", tp.ID, map[string]any{"active": true}); err == nil {
		t.Fatal("the object is not in the platform account")
	}
}

// Rule 10: request counts by endpoint pattern, 429s, replays; reset.
func TestStatsAndReset(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "p", nil)
	for range 2 {
		if _, err := e.sc.Products.Get(prod.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	status, s := e.control(t, "GET", "stats", nil)
	req := s["requests"].(map[string]any)
	if status != 200 || req["POST /v1/products"] != float64(1) || req["GET /v1/products/{id}"] != float64(2) {
		t.Fatalf("stats: %v", s)
	}
	if status, _ := e.control(t, "POST", "reset", nil); status != 200 {
		t.Fatal(status)
	}
	_, err := e.sc.Products.Get(prod.ID, nil)
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "id", "")
	if st := e.Stats(); st.Requests["POST /v1/products"] != 0 {
		t.Fatalf("reset kept counts: %v", st.Requests)
	}
}

// Rule 10: clock, faults, rate limits and search lag through the HTTP
// control API.
func TestControlConfiguration(t *testing.T) {
	e := newEnv(t, Options{})
	_, c := e.control(t, "POST", "clock", map[string]any{"advance": "48h"})
	if c["now"] != float64(testEpoch.Add(48*time.Hour).Unix()) {
		t.Fatalf("advance: %v", c)
	}
	_, c = e.control(t, "POST", "clock", map[string]any{"now": "2030-01-01T00:00:00Z"})
	if c["now"] != float64(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) {
		t.Fatalf("set: %v", c)
	}
	if p := e.newProduct(t, "p", nil); p.Created != time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("objects use the moved clock: %d", p.Created)
	}

	status, f := e.control(t, "POST", "faults", map[string]any{"seed": 5, "rules": []any{map[string]any{"path": "/v1/products", "error_rate": 1, "latency": "1ms"}}})
	if status != 200 || f["seed"] != float64(5) {
		t.Fatalf("faults: %d %v", status, f)
	}
	if cfg := e.Faults(); len(cfg.Rules) != 1 || cfg.Rules[0].Latency != time.Millisecond || cfg.Rules[0].ErrorRate != 1 {
		t.Fatalf("faults config: %+v", cfg)
	}
	if r := e.do(t, "GET", "/v1/products", ""); r.status != 500 {
		t.Fatalf("fault not applied: %d", r.status)
	}
	e.control(t, "POST", "faults", map[string]any{"rules": []any{}})

	status, rl := e.control(t, "POST", "ratelimits", map[string]any{"rate": 5, "burst": 1, "endpoints": []any{map[string]any{"pattern": "/v1/products", "rate": 1}}})
	if status != 200 || rl["rate"] != float64(5) {
		t.Fatalf("ratelimits: %d %v", status, rl)
	}
	if g, eps := e.RateLimits(); g.Rate != 5 || len(eps) != 1 {
		t.Fatalf("rate limits: %v %v", g, eps)
	}
	if _, s := e.control(t, "POST", "search", map[string]any{"lag": "30s"}); s["lag"] != "30s" || e.SearchLag() != 30*time.Second {
		t.Fatalf("search lag: %v", s)
	}
	if status, out := e.control(t, "POST", "nonsense", nil); status != 404 || out["error"] == nil {
		t.Fatalf("unknown op: %d %v", status, out)
	}
	if status, out := e.control(t, "GET", "", nil); status != 200 || out["platform_account"] != e.PlatformAccount() {
		t.Fatalf("index: %d %v", status, out)
	}
}
