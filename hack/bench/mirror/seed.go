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
	if err := seedAccounts(ctx, w, o.accounts); err != nil {
		return nil, err
	}
	step("seed: %d connected accounts", len(w.tenants))

	customersOf, err := seedCustomers(ctx, w, o, &mu)
	if err != nil {
		return nil, err
	}
	w.counts.customers = len(w.tenants) * o.customers
	step("seed: %d customers", w.counts.customers)

	// Subscriptions (a product and a monthly price per account) and one-off charges, then the payout.
	for k, a := range w.tenants {
		if err := seedSubscriptions(ctx, w, a.ID, customersOf[k], o.subscriptions); err != nil {
			return nil, err
		}
		if err := seedCharges(w, a.ID, customersOf[k], o.charges); err != nil {
			return nil, err
		}
	}
	if o.charges > 0 || o.subscriptions > 0 {
		if err := seedPayouts(w); err != nil {
			return nil, err
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

// seedAccounts creates n connected accounts (express, US) through stripeapi, as the operator does.
func seedAccounts(ctx context.Context, w *world, n int) error {
	client, err := stripeapi.New(stripeapi.Config{Name: "seed", APIKey: apiKey, BaseURL: w.emu.URL,
		Budget: stripeapi.Budget{RequestsPerSecond: 1e6, Burst: 1e6}, Logger: logr.Discard()})
	if err != nil {
		return err
	}
	for i := range n {
		name := fmt.Sprintf("shop-%03d", i)
		acct, err := client.CreateAccount(ctx, stripeapi.AccountCreateParams{IdempotencyKey: "acct-" + name,
			Tags: stripeapi.Tags{UID: "uid-" + name, NamespacedName: "shops/" + name, Kind: "StripeTenant"},
			Type: "express", Country: "US", Email: name + "@example.com", Capabilities: []string{"card_payments", "transfers"}})
		if err != nil {
			return fmt.Errorf("seed account %s: %w", name, err)
		}
		w.tenants = append(w.tenants, mirror.Account{ID: acct.ID, Tenant: "shops/" + name})
	}
	return nil
}

// customerJob is one customer to create: the i-th of account.
type customerJob struct {
	account string
	i       int
}

// seedCustomers creates o.customers customers per connected account over HTTP, o.seedWorkers at
// once, and returns their ids by tenant (w.tenants' order). mu guards the ids (and w.created, which
// the emulator's listener appends to meanwhile).
func seedCustomers(ctx context.Context, w *world, o options, mu *sync.Mutex) ([][]string, error) {
	jobs := make(chan customerJob)
	errs := make(chan error, o.seedWorkers)
	customersOf := make([][]string, len(w.tenants))
	var wg sync.WaitGroup
	for range o.seedWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			createCustomers(ctx, w, jobs, errs, mu, customersOf)
		}()
	}
	if err := feedCustomers(ctx, w, o.customers, jobs, errs); err != nil {
		close(jobs)
		wg.Wait()
		return nil, fmt.Errorf("seed customers: %w", err)
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
	return customersOf, nil
}

// feedCustomers hands perAccount jobs per tenant to the workers; it stops early at a worker's
// error (returned) or when ctx is done (nil: the caller reads ctx).
func feedCustomers(ctx context.Context, w *world, perAccount int, jobs chan<- customerJob, errs <-chan error) error {
	for _, a := range w.tenants {
		for i := range perAccount {
			select {
			case jobs <- customerJob{a.ID, i}:
			case err := <-errs:
				return err
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
}

// createCustomers is one seeding worker: it creates each job's customer and records its id under
// its tenant; the first errors go to errs (as many as it holds), the rest are dropped.
func createCustomers(ctx context.Context, w *world, jobs <-chan customerJob, errs chan<- error, mu *sync.Mutex, customersOf [][]string) {
	for j := range jobs {
		cus, err := post(ctx, w.emu.URL, "/v1/customers", j.account, url.Values{
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
}

// seedSubscriptions gives account a product and a monthly price and subscribes its first n
// customers (a default test card each); none when n is 0.
func seedSubscriptions(ctx context.Context, w *world, account string, customers []string, n int) error {
	if n <= 0 {
		return nil
	}
	prod, err := post(ctx, w.emu.URL, "/v1/products", account, url.Values{"name": {"Gold"}})
	if err != nil {
		return err
	}
	price, err := post(ctx, w.emu.URL, "/v1/prices", account, url.Values{"product": {prod.ID()}, "currency": {"usd"},
		"unit_amount": {"1500"}, "recurring[interval]": {"month"}})
	if err != nil {
		return err
	}
	for i := range min(n, len(customers)) {
		if _, err := w.emu.AttachTestCard(account, customers[i], emulator.TestCardVisa, emulator.AttachCardOptions{Default: true}); err != nil {
			return fmt.Errorf("seed card: %w", err)
		}
		if _, err := post(ctx, w.emu.URL, "/v1/subscriptions", account, url.Values{"customer": {customers[i]},
			"items[0][price]": {price.ID()}}); err != nil {
			return err
		}
		w.counts.subscriptions++
	}
	return nil
}

// seedCharges makes n one-off card charges on account, round robin over its customers.
func seedCharges(w *world, account string, customers []string, n int) error {
	for i := range n {
		if _, err := w.emu.SimulateCharge(account, emulator.SimulatedCharge{Amount: int64(500 + i), Customer: customers[i%len(customers)],
			Card: emulator.TestCardVisa, Description: "bench-mirror one-off"}); err != nil {
			return fmt.Errorf("seed charge: %w", err)
		}
		w.counts.charges++
	}
	return nil
}

// seedPayouts advances the emulator's clock three days (the charges' funds available) and pays
// every connected account out.
func seedPayouts(w *world) error {
	w.emu.AdvanceClock(3 * 24 * time.Hour)
	for _, a := range w.tenants {
		payouts, err := w.emu.SimulatePayout(a.ID, emulator.PayoutOptions{})
		if err != nil {
			return fmt.Errorf("seed payout: %w", err)
		}
		w.counts.payouts += len(payouts)
	}
	return nil
}

// seedHTTP keeps a connection per seeding worker (the default keeps 2 idle).
var seedHTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// post is one POST to the emulator as Stripe's API (account "" is the platform).
func post(ctx context.Context, base, path, account string, form url.Values) (emulator.Object, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(form.Encode()))
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
		return nil, fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, body)
	}
	var out emulator.Object
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	if out.ID() == "" {
		return nil, errors.New("POST " + path + ": no id in the answer")
	}
	return out, nil
}
