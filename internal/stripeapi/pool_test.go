package stripeapi

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestPoolSharesOneClientPerConnection(t *testing.T) {
	p := NewPool(nil, logr.Discard())
	cfg := Config{Name: "main", APIKey: "sk_test_a", Budget: Budget{RequestsPerSecond: 10}}

	first, err := p.Get("uid-main", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]*Client, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A new Logger or HTTPClient per call (as controllers build them) changes nothing.
			c := cfg
			c.Logger = logr.Discard().WithValues("reconcile", i)
			c.HTTPClient = &http.Client{}
			got[i], _ = p.Get("uid-main", c)
		}()
	}
	wg.Wait()
	for i, c := range got {
		if c != first {
			t.Fatalf("Get #%d returned another client", i)
		}
	}

	other, err := p.Get("uid-other", Config{Name: "other", APIKey: "sk_test_b"})
	if err != nil {
		t.Fatal(err)
	}
	if other == first || other.limiter == first.limiter {
		t.Error("two connections share a client or a bucket")
	}
	if p.Len() != 2 {
		t.Errorf("Len = %d, want 2", p.Len())
	}
}

func TestPoolRebuildKeepsTheBucket(t *testing.T) {
	p := NewPool(nil, logr.Discard())
	cfg := Config{APIKey: "sk_test_a", Budget: Budget{RequestsPerSecond: 10, Burst: 10}}
	before, _ := p.Get("uid", cfg)

	cfg.APIKey = "sk_test_rotated"
	rotated, err := p.Get("uid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rotated == before {
		t.Fatal("key rotation did not rebuild the client")
	}
	if rotated.limiter != before.limiter {
		t.Error("key rotation replaced the connection's bucket: old and new client would each get a full budget")
	}

	cfg.Budget = Budget{RequestsPerSecond: 4, Burst: 2}
	resized, _ := p.Get("uid", cfg)
	if resized.limiter != before.limiter || resized.limiter.Limit() != 4 || resized.limiter.Burst() != 2 {
		t.Errorf("budget change: limiter %p rate %v burst %d, want the same bucket at 4/s burst 2",
			resized.limiter, resized.limiter.Limit(), resized.limiter.Burst())
	}

	if _, err := p.Get("uid", Config{}); err == nil {
		t.Error("Get accepted a config without a key")
	}
	if again, _ := p.Get("uid", cfg); again != resized {
		t.Error("a refused config replaced the good client")
	}

	p.Forget("uid")
	if p.Len() != 0 {
		t.Errorf("Len after Forget = %d", p.Len())
	}
	if _, err := p.Get("", cfg); err == nil {
		t.Error("Get accepted an empty connection id")
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := NewMetrics(reg); err != nil || again.calls != m.calls {
		t.Fatalf("registering twice: %v (same collectors: %v)", err, again != nil && again.calls == m.calls)
	}

	f := newFakeStripe(t)
	f.on("GET /v1/products/prod_1", productJSON)
	f.handle("GET /v1/products/prod_2", func(seen, int) reply {
		return stripeErr(404, "invalid_request_error", "resource_missing", "id", "No such product")
	})
	f.handle("GET /v1/prices/price_1", func(seen, int) reply {
		return stripeErr(429, "invalid_request_error", "rate_limit", "", "Too many requests")
	})
	c := newTestClient(t, f, m)
	ctx := context.Background()
	_, _ = c.GetProduct(ctx, "prod_1")
	_, _ = c.GetProduct(ctx, "prod_1")
	_, _ = c.GetProduct(ctx, "prod_2")
	_, _ = c.GetPrice(ctx, "price_1")
	_, _ = c.CreateProduct(ctx, ProductCreateParams{Name: "refused, no key"})

	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"test", "product", "get", "Success"}, 2},
		{[]string{"test", "product", "get", "NotFound"}, 1},
		{[]string{"test", "price", "get", "Retryable"}, 1},
		{[]string{"test", "product", "create", "Terminal"}, 1},
	} {
		if got := counterValue(t, m.calls.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("calls%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got := counterValue(t, m.requests.WithLabelValues("test", "GET", "429")); got != 1 {
		t.Errorf("requests{GET,429} = %v, want 1", got)
	}
	if got := counterValue(t, m.requests.WithLabelValues("test", "GET", "200")); got != 2 {
		t.Errorf("requests{GET,200} = %v, want 2", got)
	}
	// Every request that went out waited (however briefly) on the bucket: 4, the refused create none.
	if got := histogramCount(t, reg, "stripe_api_budget_wait_seconds"); got != 4 {
		t.Errorf("budget wait observations = %d, want 4", got)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var n uint64
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
			return n
		}
	}
	t.Fatalf("metric %s not gathered", name)
	return 0
}
