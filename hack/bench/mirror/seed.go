package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
)

const (
	apiKey     = "sk_test_bench_mirror"
	connection = "platform"
	region     = "us"
	endpoint   = "payments/connect-events"
)

// world is what seeding left: the emulator and the accounts, and the customer.created events it
// emitted (the catch-up's first events).
type world struct {
	emu      *emulator.Server
	platform mirror.Account
	tenants  []mirror.Account
	// created are the customer.created events in emission order; customers are their objects' ids
	// with their account.
	created []emulator.Object
	counts  seedCounts
}

type seedCounts struct {
	customers, charges, subscriptions, payouts int
	took                                       time.Duration
}

// seed starts the emulator (no rate limit, clock five days back) and fills it.
func seed(ctx context.Context, o options) (*world, error) {
	start := time.Now()
	emu, err := emulator.Listen(ctx, "127.0.0.1:0", emulator.Options{})
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	// Five days back: the charges' funds are available three emulated days later (the payout), and
	// every Stripe time the catch-up's events carry stays in the past of the steady phase's (now).
	emu.SetClock(time.Now().Add(-5 * 24 * time.Hour))
	w := &world{emu: emu, platform: mirror.Account{ID: emu.PlatformAccount(), Platform: true}}
	var mu sync.Mutex
	emu.AddEventListener(emulator.EventListener{Committed: func(ev emulator.Object) {
		if ev.Str("type") == "customer.created" && ev.Str("account") != "" {
			mu.Lock()
			w.created = append(w.created, ev)
			mu.Unlock()
		}
	}})
	client, err := stripeapi.New(stripeapi.Config{Name: "seed", APIKey: apiKey, BaseURL: emu.URL,
		Budget: stripeapi.Budget{RequestsPerSecond: 1e6, Burst: 1e6}, Logger: logr.Discard()})
	if err != nil {
		return nil, err
	}
	for i := range o.accounts {
		name := fmt.Sprintf("shop-%03d", i)
		acct, err := client.CreateAccount(ctx, stripeapi.AccountCreateParams{IdempotencyKey: "acct-" + name,
			Tags: stripeapi.Tags{UID: "uid-" + name, NamespacedName: "shops/" + name, Kind: "StripeTenant"},
			Type: "express", Country: "US", Email: name + "@example.com", Capabilities: []string{"card_payments", "transfers"}})
		if err != nil {
			return nil, fmt.Errorf("seed account %s: %w", name, err)
		}
		w.tenants = append(w.tenants, mirror.Account{ID: acct.ID, Tenant: "shops/" + name})
	}
	step("seed: %d connected accounts", len(w.tenants))

	// Customers over HTTP, -seed-workers at once.
	type job struct {
		account string
		i       int
	}
	jobs := make(chan job)
	errs := make(chan error, o.seedWorkers)
	customersOf := make([][]string, len(w.tenants))
	var wg sync.WaitGroup
	for range o.seedWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				cus, err := call(ctx, emu.URL, "POST", "/v1/customers", j.account, url.Values{
					"name": {fmt.Sprintf("Customer %d", j.i)}, "email": {fmt.Sprintf("c%d@%s.example.com", j.i, strings.ToLower(j.account))},
					"metadata[seq]": {fmt.Sprint(j.i)}, "description": {"bench-mirror seed"}})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				mu.Lock()
				for k, a := range w.tenants {
					if a.ID == j.account {
						customersOf[k] = append(customersOf[k], cus.ID())
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, a := range w.tenants {
		for i := range o.customers {
			select {
			case jobs <- job{a.ID, i}:
			case err := <-errs:
				close(jobs)
				wg.Wait()
				return nil, fmt.Errorf("seed customers: %w", err)
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, fmt.Errorf("seed customers: %w", err)
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.counts.customers = len(w.tenants) * o.customers
	step("seed: %d customers", w.counts.customers)

	// Subscriptions (a product and a monthly price per account) and one-off charges, then the payout.
	for k, a := range w.tenants {
		customers := customersOf[k]
		if o.subscriptions > 0 {
			prod, err := call(ctx, emu.URL, "POST", "/v1/products", a.ID, url.Values{"name": {"Gold"}})
			if err != nil {
				return nil, err
			}
			price, err := call(ctx, emu.URL, "POST", "/v1/prices", a.ID, url.Values{"product": {prod.ID()}, "currency": {"usd"},
				"unit_amount": {"1500"}, "recurring[interval]": {"month"}})
			if err != nil {
				return nil, err
			}
			for i := range min(o.subscriptions, len(customers)) {
				if _, err := emu.AttachTestCard(a.ID, customers[i], emulator.TestCardVisa, emulator.AttachCardOptions{Default: true}); err != nil {
					return nil, fmt.Errorf("seed card: %w", err)
				}
				if _, err := call(ctx, emu.URL, "POST", "/v1/subscriptions", a.ID, url.Values{"customer": {customers[i]},
					"items[0][price]": {price.ID()}}); err != nil {
					return nil, err
				}
				w.counts.subscriptions++
			}
		}
		for i := range o.charges {
			if _, err := emu.SimulateCharge(a.ID, emulator.SimulatedCharge{Amount: int64(500 + i), Customer: customers[i%len(customers)],
				Card: emulator.TestCardVisa, Description: "bench-mirror one-off"}); err != nil {
				return nil, fmt.Errorf("seed charge: %w", err)
			}
			w.counts.charges++
		}
	}
	if o.charges > 0 || o.subscriptions > 0 {
		emu.AdvanceClock(3 * 24 * time.Hour)
		for _, a := range w.tenants {
			payouts, err := emu.SimulatePayout(a.ID, emulator.PayoutOptions{})
			if err != nil {
				return nil, fmt.Errorf("seed payout: %w", err)
			}
			w.counts.payouts += len(payouts)
		}
	}
	mu.Lock()
	created := len(w.created)
	mu.Unlock()
	if created != w.counts.customers {
		return nil, fmt.Errorf("seed: the emulator emitted %d customer.created events for %d customers", created, w.counts.customers)
	}
	w.counts.took = time.Since(start)
	step("seed: %d subscriptions, %d charges, %d payouts in %s", w.counts.subscriptions, w.counts.charges, w.counts.payouts,
		w.counts.took.Round(100*time.Millisecond))
	return w, nil
}

// seedHTTP keeps a connection per seeding worker (the default keeps 2 idle).
var seedHTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call is one request to the emulator as Stripe's API (account "" is the platform).
func call(ctx context.Context, base, method, path, account string, form url.Values) (emulator.Object, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if account != "" {
		req.Header.Set("Stripe-Account", account)
	}
	resp, err := seedHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, body)
	}
	var out emulator.Object
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	if out.ID() == "" {
		return nil, errors.New(method + " " + path + ": no id in the answer")
	}
	return out, nil
}
