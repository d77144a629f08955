package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// duplicates is what Stripe holds beyond one product per plan and one active price per (plan, key).
type duplicates struct {
	extraProducts, extraPrices     int
	missingProducts, missingPrices int
	details                        []string
}

func (d duplicates) total() int { return d.extraProducts + d.extraPrices }

// findDuplicates lists every product and price of the account (an unlimited-budget client: the
// emulator's limit must be lifted first) and counts, per plan, products tagged with its UID beyond one
// and active prices per key beyond one.
func findDuplicates(ctx context.Context, baseURL string, plans []v1alpha1.BillingPlan, prices int) (duplicates, error) {
	var d duplicates
	stripe, err := stripeapi.New(stripeapi.Config{Name: "bench-reader", APIKey: "sk_test_bench_reader", BaseURL: baseURL,
		Budget: stripeapi.Budget{RequestsPerSecond: 10000}})
	if err != nil {
		return d, err
	}
	products, err := stripe.ListProducts(ctx, stripeapi.ProductListParams{})
	if err != nil {
		return d, fmt.Errorf("list products: %w", err)
	}
	allPrices, err := stripe.ListPrices(ctx, stripeapi.PriceListParams{})
	if err != nil {
		return d, fmt.Errorf("list prices: %w", err)
	}
	productsOf := map[string]int{}
	for _, p := range products {
		productsOf[p.Metadata[stripeapi.MetadataKeyUID]]++
	}
	activeOf := map[string]int{} // uid + " " + component
	for _, p := range allPrices {
		if p.Active {
			activeOf[p.Metadata[stripeapi.MetadataKeyUID]+" "+p.Metadata[stripeapi.MetadataKeyComponent]]++
		}
	}
	for _, plan := range plans {
		uid := string(plan.UID)
		switch n := productsOf[uid]; {
		case n == 0:
			d.missingProducts++
		case n > 1:
			d.extraProducts += n - 1
			d.details = append(d.details, fmt.Sprintf("%s: %d products", plan.Name, n))
		}
		for j := range prices {
			key := fmt.Sprintf("price-%d", j)
			switch n := activeOf[uid+" price:"+key]; {
			case n == 0:
				d.missingPrices++
			case n > 1:
				d.extraPrices += n - 1
				d.details = append(d.details, fmt.Sprintf("%s: %d active prices for key %s", plan.Name, n, key))
			}
		}
	}
	return d, nil
}

// tenantDuplicates counts, per tenant UID (the cloudip_uid metadata), the accounts, customers and
// subscriptions in Stripe beyond one, and the tenants missing one.
type tenantDuplicates struct {
	extra, missing map[string]int // by object: account, customer, subscription
	details        []string
}

func (d tenantDuplicates) total() int {
	n := 0
	for _, c := range d.extra {
		n += c
	}
	return n
}

// findTenantDuplicates lists every connected account, customer and subscription of the platform (an
// unlimited-budget client: the emulator's limit must be lifted first) and counts them by tenant UID.
func findTenantDuplicates(ctx context.Context, baseURL string, tenants []v1alpha1.StripeTenant) (tenantDuplicates, error) {
	d := tenantDuplicates{extra: map[string]int{}, missing: map[string]int{}}
	stripe, err := stripeapi.New(stripeapi.Config{Name: "bench-reader", APIKey: "sk_test_bench_reader", BaseURL: baseURL,
		Budget: stripeapi.Budget{RequestsPerSecond: 10000}})
	if err != nil {
		return d, err
	}
	byUID := map[string]map[string]int{"account": {}, "customer": {}, "subscription": {}}
	accounts, err := stripe.ListAccounts(ctx, stripeapi.AccountListParams{})
	if err != nil {
		return d, fmt.Errorf("list accounts: %w", err)
	}
	for _, a := range accounts {
		byUID["account"][a.Metadata[stripeapi.MetadataKeyUID]]++
	}
	customers, err := stripe.ListCustomers(ctx, stripeapi.CustomerListParams{})
	if err != nil {
		return d, fmt.Errorf("list customers: %w", err)
	}
	for _, c := range customers {
		byUID["customer"][c.Metadata[stripeapi.MetadataKeyUID]]++
	}
	subscriptions, err := stripe.ListSubscriptions(ctx, stripeapi.SubscriptionListParams{})
	if err != nil {
		return d, fmt.Errorf("list subscriptions: %w", err)
	}
	for _, s := range subscriptions {
		byUID["subscription"][s.Metadata[stripeapi.MetadataKeyUID]]++
	}
	for _, t := range tenants {
		for _, object := range []string{"account", "customer", "subscription"} {
			switch n := byUID[object][string(t.UID)]; {
			case n == 0:
				d.missing[object]++
			case n > 1:
				d.extra[object] += n - 1
				d.details = append(d.details, fmt.Sprintf("%s: %d %ss", t.Name, n, object))
			}
		}
	}
	sort.Strings(d.details)
	return d, nil
}

// kindEvents are the Event objects about the namespace's objects of one kind. The events API folds the events
// of one object with the same type, reason and action into one Event and a series (the note of the
// first is kept; client-go writes series counts only every few minutes): objects, not occurrences.
type kindEvents struct {
	byReason    map[string]int
	failedBy429 []string // objects with a SyncFailed event naming Stripe's 429
}

// readEvents lists the events (events.k8s.io/v1, what the operator's recorder writes) about the
// namespace's objects of kind.
func readEvents(ctx context.Context, kube client.Client, namespace, kind string) (kindEvents, error) {
	out := kindEvents{byReason: map[string]int{}}
	var list eventsv1.EventList
	if err := kube.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return out, fmt.Errorf("list events: %w", err)
	}
	failed := map[string]bool{}
	for _, e := range list.Items {
		if e.Regarding.Kind != kind {
			continue
		}
		out.byReason[e.Type+" "+e.Reason]++
		if e.Reason == "SyncFailed" && is429(e.Note) {
			failed[e.Regarding.Name] = true
		}
	}
	out.failedBy429 = sortedKeys(failed)
	return out, nil
}

// is429 recognises a stripeapi error message for Stripe's rate limit ("stripe: 429 ... rate_limit").
func is429(message string) bool {
	return strings.Contains(message, "stripe: 429") || strings.Contains(message, "rate_limit")
}

// budget summarises the operator's stripeapi metrics.
type budget struct {
	requests    float64 // requests that passed the token bucket
	meanWait    float64 // seconds
	over10ms    float64 // fraction of requests that waited more than 10 ms
	over100ms   float64 // ... more than 100 ms
	calls       map[string]float64
	requestCode map[string]float64
}

// budgetFigures reads the token bucket's wait histogram, calls by outcome and requests by status code.
func budgetFigures(reg *prometheus.Registry) (budget, error) {
	b := budget{calls: map[string]float64{}, requestCode: map[string]float64{}}
	families, err := reg.Gather()
	if err != nil {
		return b, fmt.Errorf("gather metrics: %w", err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "stripe_api_budget_wait_seconds":
				h := m.GetHistogram()
				count := float64(h.GetSampleCount())
				b.requests += count
				if count == 0 {
					continue
				}
				b.meanWait = h.GetSampleSum() / count
				for _, bucket := range h.GetBucket() {
					switch bucket.GetUpperBound() {
					case 0.01:
						b.over10ms = 1 - float64(bucket.GetCumulativeCount())/count
					case 0.1:
						b.over100ms = 1 - float64(bucket.GetCumulativeCount())/count
					}
				}
			case "stripe_api_calls_total":
				b.calls[labels["method"]+" "+labels["resource"]+" -> "+labels["outcome"]] += m.GetCounter().GetValue()
			case "stripe_api_requests_total":
				b.requestCode[labels["code"]] += m.GetCounter().GetValue()
			}
		}
	}
	return b, nil
}

// percentile returns the p-th percentile (0..1) of sorted values.
func percentile[T int64 | float64 | int](sorted []T, p float64) T {
	if len(sorted) == 0 {
		var zero T
		return zero
	}
	i := int(p*float64(len(sorted)-1) + 0.5)
	return sorted[i]
}

func sortedCopy[T int64 | float64 | int](in []T) []T {
	out := append([]T(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
