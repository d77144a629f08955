package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// The budget tests use a limiter that refills about once in 30 years: every token a test sees
// consumed was consumed by a request, and nothing depends on timing. A call that would have to wait
// fails at once, because rate.Limiter refuses a wait longer than the context's deadline.

func TestBudgetLimitsRequests(t *testing.T) {
	f := newFakeStripe(t)
	f.on("GET /v1/products/prod_1", productJSON)
	c := newTestClient(t, f, nil)
	setLimiter(c, frozenLimiter(3))

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for i := 0; i < 3; i++ {
		if _, err := c.GetProduct(ctx, "prod_1"); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	if tokens := c.limiter.Tokens(); tokens >= 1 {
		t.Errorf("%.3f tokens left after spending the burst", tokens)
	}
	_, err := c.GetProduct(ctx, "prod_1")
	if err == nil {
		t.Fatal("a call beyond the budget went through")
	}
	if !IsRetryable(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("over budget: err = %v, want Retryable wrapping DeadlineExceeded", err)
	}
	if n := len(f.seen()); n != 3 {
		t.Errorf("server saw %d requests, want 3 (the burst)", n)
	}
}

func TestBudgetCountsEveryListPage(t *testing.T) {
	f := newFakeStripe(t)
	p := func(id string) map[string]any {
		return map[string]any{"id": id, "object": "product", "created": 1700000000}
	}
	f.handle("GET /v1/products", func(req seen, _ int) reply {
		switch req.Form.Get("starting_after") {
		case "":
			return reply{Body: list("/v1/products", true, p("prod_3"), p("prod_2"))}
		case "prod_2":
			return reply{Body: list("/v1/products", true, p("prod_1"))}
		default:
			return reply{Body: list("/v1/products", false, p("prod_0"))}
		}
	})
	c := newTestClient(t, f, nil)
	setLimiter(c, frozenLimiter(10))

	got, err := c.ListProducts(context.Background(), ProductListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("listed %d products, want 4", len(got))
	}
	if spent := 10 - c.limiter.Tokens(); spent < 2.999 || spent > 3.001 {
		t.Errorf("3 pages spent %.3f tokens, want 3", spent)
	}
}

func TestBudgetSharedByAccountViews(t *testing.T) {
	f := newFakeStripe(t)
	f.on("GET /v1/products/prod_1", productJSON)
	c := newTestClient(t, f, nil)
	setLimiter(c, frozenLimiter(4))

	ctx := context.Background()
	views := []Interface{c, c.ForAccount("acct_1"), c.ForAccount("acct_2"), c.ForAccount("acct_1")}
	for i, v := range views {
		if _, err := v.GetProduct(ctx, "prod_1"); err != nil {
			t.Fatalf("view %d: %v", i, err)
		}
	}
	if tokens := c.limiter.Tokens(); tokens >= 1 {
		t.Errorf("views did not draw on the parent's bucket: %.3f tokens left", tokens)
	}
}

func TestBudgetUnderConcurrency(t *testing.T) {
	f := newFakeStripe(t)
	f.on("GET /v1/products/prod_1", productJSON)
	c := newTestClient(t, f, nil)
	setLimiter(c, frozenLimiter(5))

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.ForAccount(fmt.Sprint("acct_", i%3)).GetProduct(ctx, "prod_1"); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 5 || len(f.seen()) != 5 {
		t.Errorf("%d calls succeeded and %d reached Stripe, want 5 and 5", ok, len(f.seen()))
	}
}

func TestBudgetWaitIsCancellable(t *testing.T) {
	f := newFakeStripe(t)
	c := newTestClient(t, f, nil)
	setLimiter(c, rate.NewLimiter(rate.Limit(1e-9), 1))
	c.limiter.Allow() // empty the bucket

	ctx, cancel := context.WithCancel(context.Background()) // no deadline: Wait blocks until cancel
	done := make(chan error, 1)
	go func() { _, err := c.GetProduct(ctx, "prod_1"); done <- err }()
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !IsRetryable(err) {
		t.Errorf("err = %v, want Retryable wrapping context.Canceled", err)
	}
	if len(f.seen()) != 0 {
		t.Error("a request went out without a token")
	}
}

// setLimiter swaps the bucket of c (and of its views) for l.
func setLimiter(c *Client, l *rate.Limiter) {
	c.limiter = l
	c.transport.limiter = l
}
