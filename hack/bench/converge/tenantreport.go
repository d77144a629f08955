package main

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// targetMiBPerThousand is the memory target: the operator's resident memory per 1,000 objects.
const targetMiBPerThousand = 30

// tenantMinimalCalls are a tenant's minimal Stripe calls: its account, customer and subscription.
var tenantMinimalCalls = map[string]float64{"POST /v1/accounts": 1, "POST /v1/customers": 1, "POST /v1/subscriptions": 1}

// minimalTenantCalls is the run's minimal Stripe calls: 3 per tenant, 1 + prices per plan, and the
// connection's GET /v1/account.
func minimalTenantCalls(o options) int {
	return o.tenants*len(tenantMinimalCalls) + o.plans*(1+o.prices) + 1
}

func reportTenants(m *tenantMeasurement, dups tenantDuplicates, planDups duplicates, events kindEvents, fp *failedPasses, resync *resyncMeasurement) {
	ratio := reportTenantConvergence(m)
	reportTenantStripe(m)
	reportTenantWrites(m, events)
	reportRechecks(m, recheckFiguresOf(m))
	marginal := reportMemory(m)
	notSynced := reportNotSynced(m)
	var resyncStripeWrites, resyncKubeWrites int64
	if resync != nil {
		resyncStripeWrites, resyncKubeWrites = reportResync(m, resync)
	}

	causes, by429 := fp.snapshot("StripeTenant")
	fmt.Printf("\n== Failed passes (the manager's \"Reconciler error\" log lines; each is retried with backoff): %s\n", formatCounts(causes))
	finalSynced := map[string]string{}
	for _, t := range notSynced {
		finalSynced[t.name] = t.synced
	}
	failed := failedBy429(by429, events.failedBy429, finalSynced)
	fmt.Printf("\n== Duplicates: %d (tenants: extra %s; missing %s. Plans: extra products %d, extra active prices %d; missing products %d, missing prices %d)\n",
		dups.total()+planDups.total(), formatIntMap(dups.extra), formatIntMap(dups.missing),
		planDups.extraProducts, planDups.extraPrices, planDups.missingProducts, planDups.missingPrices)
	printFirst(append(dups.details, planDups.details...))

	fmt.Printf("\n== Targets\n")
	ratioText := fmt.Sprintf("%.3f", ratio)
	if !m.allSynced {
		ratioText = "not all Synced"
	}
	fmt.Printf("  time/lower bound <= %.2f        %-14s %s\n", targetRatio, ratioText, verdict(m.allSynced && ratio <= targetRatio))
	fmt.Printf("  duplicates = 0                  %-14d %s\n", dups.total()+planDups.total(), verdict(dups.total()+planDups.total() == 0))
	fmt.Printf("  tenants failed by 429 = 0       %-14d %s", len(failed), verdict(len(failed) == 0))
	if len(failed) > 0 {
		fmt.Printf("  (a pass failed on Stripe's 429: %s)", strings.Join(firstN(sortedKeys(failed), 10), ", "))
	}
	fmt.Println()
	fmt.Printf("  RSS <= %d MiB/1,000 objects     %-14s %s  (marginal: end - baseline)\n", targetMiBPerThousand, fmt.Sprintf("%.2f", marginal), verdict(marginal <= targetMiBPerThousand))
	if resync != nil {
		fmt.Printf("  resync: everything re-read      %-14v %s\n", resync.complete, verdict(resync.complete))
		fmt.Printf("  resync: Stripe writes = 0       %-14d %s\n", resyncStripeWrites, verdict(resyncStripeWrites == 0))
		fmt.Printf("  resync: API-server writes = 0   %-14d %s\n", resyncKubeWrites, verdict(resyncKubeWrites == 0))
	}
}

// reportTenantConvergence prints the time to all-Synced against the lower bound and returns their ratio.
func reportTenantConvergence(m *tenantMeasurement) float64 {
	o := m.o
	limit := limitOf(o)
	minimal := minimalTenantCalls(o)
	bound := float64(minimal) / boundRate(o)
	elapsed := m.elapsed.Seconds()

	fmt.Printf("\n== Convergence: %d StripeTenants on %d BillingPlans x %d prices, emulator limit %g req/s, connection budget %d req/s (burst %d), concurrency StripeTenant %d, BillingPlan %d\n",
		o.tenants, o.plans, o.prices, o.rate, o.budget, connectionBurst(o), o.tenantConcurrency, o.concurrency)
	if m.allSynced {
		fmt.Printf("time to all-Synced     %8.2f s   (clock from the first create to the first 200 ms poll that saw every tenant Synced=True for its generation with status.subscriptionID)\n", elapsed)
	} else {
		fmt.Printf("time to all-Synced     NOT REACHED: %d of %d tenants Synced after %.2f s (-timeout)\n", len(m.syncedAt), o.tenants, elapsed)
	}
	times := func(at map[string]float64) []float64 {
		out := make([]float64, 0, len(at))
		for _, d := range at {
			out = append(out, d)
		}
		return sortedCopy(out)
	}
	synced, ready := map[string]float64{}, map[string]float64{}
	for k, d := range m.syncedAt {
		synced[k] = d.Seconds()
	}
	for k, d := range m.planReadyAt {
		ready[k] = d.Seconds()
	}
	s, p := times(synced), times(ready)
	fmt.Printf("  creates took %.2f s (%d plans first, then the tenants); plans Ready (%d of %d) at: first %.2f s, last %.2f s\n",
		m.createsDone.Seconds(), o.plans, len(p), o.plans, percentile(p, 0), percentile(p, 1))
	fmt.Printf("  tenants Synced at: first %.2f s, 50%% %.2f s, 90%% %.2f s, last %.2f s\n", percentile(s, 0), percentile(s, 0.5), percentile(s, 0.9), percentile(s, 1))
	fmt.Printf("lower bound            %8.2f s   = %d minimal Stripe calls / %g req/s\n", bound, minimal, boundRate(o))
	fmt.Printf("  minimal calls: POST /v1/accounts, /v1/customers, /v1/subscriptions per tenant (%d x 3 = %d), 1 product + %d prices per plan (%d x %d = %d), the connection's GET /v1/account (1)\n",
		o.tenants, 3*o.tenants, o.prices, o.plans, 1+o.prices, o.plans*(1+o.prices))
	burst := math.Min(math.Ceil(limit), float64(connectionBurst(o)))
	floor := math.Max(0, float64(minimal-1)-burst) / limit
	fmt.Printf("  (both token buckets start full, so %g calls ride the burst: the reachable floor is (%d - %g) / %g = %.2f s)\n", burst, minimal-1, burst, limit, floor)
	fmt.Printf("ratio                  %8.3f\n", elapsed/bound)
	return elapsed / bound
}

// reportTenantStripe prints the Stripe requests by route, total and per tenant, and the 429s.
func reportTenantStripe(m *tenantMeasurement) {
	o, n, stats := m.o, float64(m.o.tenants), m.atSynced
	fmt.Printf("\n== Stripe requests received by the emulator (at all-Synced), total and per tenant\n")
	minimalPer := map[string]float64{"POST /v1/products": float64(o.plans) / n, "POST /v1/prices": float64(o.plans*o.prices) / n, "GET /v1/account": 1 / n}
	for route, c := range tenantMinimalCalls {
		minimalPer[route] = c
	}
	var total int64
	for _, route := range sortedKeys(stats.Requests) {
		c := stats.Requests[route]
		total += c
		note := "(beyond the minimal calls)"
		if want, ok := minimalPer[route]; ok {
			note = fmt.Sprintf("(minimal %.3f)", want)
		}
		fmt.Printf("  %-48s %7d  %7.3f/tenant  %s\n", route, c, float64(c)/n, note)
	}
	minimal := minimalTenantCalls(o)
	fmt.Printf("  %-48s %7d  %7.3f/tenant  (minimal %d, %.3f/tenant)\n", "total", total, float64(total)/n, minimal, float64(minimal)/n)
	objects := float64(m.objects())
	fmt.Printf("  by method, per object (%d objects: StripeTenants + BillingPlans): %s\n", m.objects(), perObjectText(byMethod(nil, stats.Requests), objects))
	fmt.Printf("  responses by status: %s; idempotent replays: %d\n", formatCounts(stats.Responses), stats.IdempotentReplays)
	fmt.Printf("  after all-Synced, until the settle window ends (%.1f s): %+d requests (%s)\n", m.settleTo.Sub(m.start).Seconds()-m.elapsed.Seconds(),
		totalRequests(m.afterSettle)-totalRequests(stats), formatDelta(stats.Requests, m.afterSettle.Requests))
	fmt.Printf("429s received          %d (emulator, the whole run)", m.afterSettle.RateLimited)
	if len(m.afterSettle.RateLimitedBy) > 0 {
		fmt.Printf(": %s", formatCounts(m.afterSettle.RateLimitedBy))
	}
	fmt.Println()
	fmt.Printf("\n== Token bucket (the manager's metrics are off, --metrics-bind-address 0: the emulator's side only)\n")
	printRequestWindows(m.perSecond, limitOf(o))
}

// reportTenantWrites prints the manager process's API-server writes, counted by the proxy.
func reportTenantWrites(m *tenantMeasurement, events kindEvents) {
	n := float64(m.o.tenants)
	if m.writesSynced == nil {
		fmt.Printf("\n== API-server writes: not counted (-kube-proxy=false: the manager runs out of process, straight to the API server)\n")
	} else {
		fmt.Printf("\n== API-server writes by the manager process (every HTTP write through the proxy: its client and its event recorder), total and per tenant (at all-Synced)\n")
		printWrites(m.writesSynced, m.writesSettle, n, "tenant", func(key string) bool {
			return strings.Contains(key, "stripetenants") || strings.HasSuffix(key, " events")
		})
	}
	fmt.Printf("  Event objects about tenants, by reason (repeats of a reason fold into one series): %s\n", formatIntCounts(events.byReason, n, "tenant"))
}

// reportMemory prints the manager's RSS and returns the marginal MiB per 1,000 objects.
func reportMemory(m *tenantMeasurement) float64 {
	objects := float64(m.objects())
	fmt.Printf("\n== Operator memory: the manager process's VmRSS (/proc/<pid>/status); %d objects = %d tenants + %d plans\n", m.objects(), m.o.tenants, m.o.plans)
	fmt.Printf("  (beside it: the Go heap live after the manager's last GC, and the next GC's goal, from GODEBUG=gctrace=1)\n")
	line := func(what string, mem memory) {
		fmt.Printf("  %-48s %7.1f MiB   (heap live %d MiB, goal %d MiB, after %d GCs)\n", what, float64(mem.rss)/mib, mem.live, mem.goal, mem.gcs)
	}
	line("baseline (connection Ready, before the creates)", m.memBaseline)
	line("at all-Synced", m.memSynced)
	line(fmt.Sprintf("end (after the %s settle)", m.o.settle), m.memEnd)
	fmt.Printf("  %-48s %7.1f MiB\n", "peak (VmHWM)", float64(m.memEnd.peak)/mib)
	marginal := float64(m.memEnd.rss-m.memBaseline.rss) / mib / objects * 1000
	fmt.Printf("  %-48s %7.2f MiB   (live heap: %.2f MiB)\n", "marginal (end - baseline) per 1,000 objects", marginal,
		float64(m.memEnd.live-m.memBaseline.live)/objects*1000)
	fmt.Printf("  %-48s %7.2f MiB\n", "end RSS / objects x 1,000 (the baseline too)", float64(m.memEnd.rss)/mib/objects*1000)
	if len(m.tenants) > 0 {
		var whole, fields int
		for i := range m.tenants {
			t := m.tenants[i].DeepCopy()
			data, _ := json.Marshal(t)
			t.ManagedFields = nil
			stripped, _ := json.Marshal(t)
			whole, fields = whole+len(data), fields+len(data)-len(stripped)
		}
		n := float64(len(m.tenants))
		fmt.Printf("  a tenant as the API server serves it: %.1f KiB of JSON, %.1f KiB (%.0f%%) of it metadata.managedFields (kept in an informer cache unless it strips them)\n",
			float64(whole)/n/1024, float64(fields)/n/1024, float64(fields)/float64(max(whole, 1))*100)
	}
	return marginal
}

type notSyncedTenant struct{ name, synced, text string }

// reportNotSynced lists the tenants not Synced with their conditions, and returns them.
func reportNotSynced(m *tenantMeasurement) []notSyncedTenant {
	var out []notSyncedTenant
	for i := range m.tenants {
		t := &m.tenants[i]
		if _, ok := m.syncedAt[t.Name]; ok {
			continue
		}
		text := t.Name + ": Synced "
		msg := ""
		if c := meta.FindStatusCondition(t.Status.Conditions, v1alpha1.ConditionSynced); c != nil {
			msg = c.Message
			text += fmt.Sprintf("%s/%s (generation %d of %d): %s", c.Status, c.Reason, c.ObservedGeneration, t.Generation, c.Message)
		} else {
			text += "absent"
		}
		text += "; subscription " + t.Status.SubscriptionID
		out = append(out, notSyncedTenant{name: t.Name, synced: msg, text: text})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	fmt.Printf("\n== Tenants not Synced: %d\n", len(out))
	lines := make([]string, 0, len(out))
	for _, t := range out {
		lines = append(lines, t.text)
	}
	printFirst(lines)
	return out
}

func formatIntMap(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%ss %d", k, m[k]))
	}
	if len(parts) == 0 {
		return noneText
	}
	return strings.Join(parts, ", ")
}
