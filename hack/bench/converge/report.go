package main

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// noneText stands for "nothing" in the report's lines.
const noneText = "none"

// Targets (DESIGN.md §5): printed as PASS or SHORT, never a failure of the command.
const (
	targetRatio      = 1.10
	saturatedFactor  = 0.9 // a 1 s window at >= 90% of the limit counts as saturated
	maxListedWindows = 120
	maxListedPlans   = 20
)

func report(m *measurement, dups duplicates, events kindEvents, fp *failedPasses, b budget) {
	ratio := reportConvergence(m)
	reportStripe(m, b)
	reportBucket(m, b)
	reportWrites(m, events)
	notReady := reportNotReady(m)

	causes, failedPlans := fp.snapshot("BillingPlan")
	fmt.Printf("\n== Failed passes (controller-runtime's \"Reconciler error\"; each is retried with backoff): %s\n", formatCounts(causes))
	finalSynced := map[string]string{}
	for _, line := range notReady {
		finalSynced[line.name] = line.synced
	}
	failed := failedBy429(failedPlans, events.failedBy429, finalSynced)
	fmt.Printf("\n== Duplicates: %d (extra products %d, extra active prices %d; missing products %d, missing prices %d)\n",
		dups.total(), dups.extraProducts, dups.extraPrices, dups.missingProducts, dups.missingPrices)
	printFirst(dups.details)

	fmt.Printf("\n== Targets\n")
	ratioText := fmt.Sprintf("%.3f", ratio)
	if !m.allReady {
		ratioText = "not all Ready"
	}
	fmt.Printf("  time/lower bound <= %.2f        %-14s %s\n", targetRatio, ratioText, verdict(m.allReady && ratio <= targetRatio))
	fmt.Printf("  duplicates = 0                  %-14d %s\n", dups.total(), verdict(dups.total() == 0))
	fmt.Printf("  plans failed by 429 = 0         %-14d %s", len(failed), verdict(len(failed) == 0))
	if len(failed) > 0 {
		fmt.Printf("  (a pass failed on Stripe's 429: %s)", strings.Join(firstN(sortedKeys(failed), 10), ", "))
	}
	fmt.Println()
}

// limitOf is the tighter of the emulator's limit and the connection's budget: what the run can reach.
func limitOf(o options) float64 {
	if o.rate <= 0 || float64(o.budget) < o.rate {
		return float64(o.budget)
	}
	return o.rate
}

// reportConvergence prints the time to all-Ready against the lower bound and returns their ratio.
func reportConvergence(m *measurement) float64 {
	o := m.o
	limit := limitOf(o)
	minimal := o.plans*(1+o.prices) + 1
	bound := float64(minimal) / boundRate(o)
	elapsed := m.elapsed.Seconds()

	fmt.Printf("\n== Convergence: %d BillingPlans x %d prices, emulator limit %g req/s, connection budget %d req/s (burst %d), concurrency %d\n",
		o.plans, o.prices, o.rate, o.budget, connectionBurst(o), o.concurrency)
	readyTimes := make([]float64, 0, len(m.readyAt))
	for _, d := range m.readyAt {
		readyTimes = append(readyTimes, d.Seconds())
	}
	readyTimes = sortedCopy(readyTimes)
	if m.allReady {
		fmt.Printf("time to all-Ready      %8.2f s   (clock from the first create to the first 200 ms poll that saw every plan Ready for its generation)\n", elapsed)
	} else {
		fmt.Printf("time to all-Ready      NOT REACHED: %d of %d plans Ready after %.2f s (-timeout)\n", len(m.readyAt), o.plans, elapsed)
	}
	fmt.Printf("  creates took %.2f s; plans Ready at: first %.2f s, 50%% %.2f s, 90%% %.2f s, last %.2f s\n",
		m.createsDone.Seconds(), percentile(readyTimes, 0), percentile(readyTimes, 0.5), percentile(readyTimes, 0.9), percentile(readyTimes, 1))
	fmt.Printf("lower bound            %8.2f s   = %d minimal Stripe calls / %g req/s\n", bound, minimal, boundRate(o))
	fmt.Printf("  minimal calls: 1 product create + %d price creates per plan (%d x %d = %d), plus the connection's 1 verification GET /v1/account\n",
		o.prices, o.plans, 1+o.prices, minimal-1)
	burst := math.Min(math.Ceil(limit), float64(connectionBurst(o)))
	floor := math.Max(0, float64(minimal-1)-burst) / limit
	fmt.Printf("  (both token buckets start full, so %g calls ride the burst: the reachable floor is (%d - %g) / %g = %.2f s)\n",
		burst, minimal-1, burst, limit, floor)
	fmt.Printf("ratio                  %8.3f\n", elapsed/bound)
	return elapsed / bound
}

// reportStripe prints the Stripe requests by route, total and per plan, and the 429s.
func reportStripe(m *measurement, b budget) {
	o, n, stats := m.o, float64(m.o.plans), m.atReady
	fmt.Printf("\n== Stripe requests received by the emulator (at all-Ready), total and per plan\n")
	minimalPer := map[string]float64{"POST /v1/products": 1, "POST /v1/prices": float64(o.prices), "GET /v1/account": 1 / n}
	var total int64
	for _, route := range sortedKeys(stats.Requests) {
		c := stats.Requests[route]
		total += c
		note := "(beyond the minimal calls)"
		if want, ok := minimalPer[route]; ok {
			note = fmt.Sprintf("(minimal %.3f)", want)
		}
		fmt.Printf("  %-34s %7d  %7.3f/plan  %s\n", route, c, float64(c)/n, note)
	}
	minimal := o.plans*(1+o.prices) + 1
	fmt.Printf("  %-34s %7d  %7.3f/plan  (minimal %d, %.3f/plan)\n", "total", total, float64(total)/n, minimal, float64(minimal)/n)
	fmt.Printf("  responses by status: %s; idempotent replays: %d\n", formatCounts(stats.Responses), stats.IdempotentReplays)
	fmt.Printf("  after all-Ready, in the next %s: %+d requests (%s)\n", o.settle, totalRequests(m.afterSettle)-totalRequests(stats),
		formatDelta(stats.Requests, m.afterSettle.Requests))
	fmt.Printf("429s received          %d (emulator), %g (operator's stripe_api_requests_total code 429)", m.afterSettle.RateLimited, b.requestCode["429"])
	if len(m.afterSettle.RateLimitedBy) > 0 {
		fmt.Printf(": %s", formatCounts(m.afterSettle.RateLimitedBy))
	}
	fmt.Println()
}

// reportBucket prints where the time went: requests per second and the waits on the token bucket.
func reportBucket(m *measurement, b budget) {
	fmt.Printf("\n== Token bucket\n")
	printRequestWindows(m.perSecond, limitOf(m.o))
	fmt.Printf("  waits on the connection's bucket: %g requests, mean %.0f ms, %.0f%% waited > 10 ms, %.0f%% > 100 ms\n",
		b.requests, b.meanWait*1000, b.over10ms*100, b.over100ms*100)
	fmt.Printf("  operator calls by outcome: %s\n", formatFloatCounts(b.calls))
}

// reportWrites prints the API-server writes, per plan where they are a plan's.
func reportWrites(m *measurement, events kindEvents) {
	n := float64(m.o.plans)
	fmt.Printf("\n== API-server writes by the manager's client (interceptor), total and per plan (at all-Ready)\n")
	printWrites(m.writesReady, m.writesSettle, n, "plan", func(key string) bool { return strings.Contains(key, " BillingPlan") })
	fmt.Printf("  every HTTP write the manager process sent (its client and its event recorder):\n")
	printWrites(m.httpReady, m.httpSettle, n, "plan", func(key string) bool {
		return strings.Contains(key, "billingplans") || strings.HasSuffix(key, " events")
	})
	fmt.Printf("  Event objects about plans, by reason (repeats of a reason fold into one series): %s\n", formatIntCounts(events.byReason, n, "plan"))
}

// reportNotReady lists the plans not Ready with their conditions, and returns them.
func reportNotReady(m *measurement) []notReadyPlan {
	notReady := notReadyPlans(m)
	fmt.Printf("\n== Plans not Ready: %d\n", len(notReady))
	lines := make([]string, 0, len(notReady))
	for _, p := range notReady {
		lines = append(lines, p.text)
	}
	printFirst(lines)
	return notReady
}

// printRequestWindows prints the Stripe requests of each 1 s window and how many were saturated.
func printRequestWindows(perSecond []int64, limit float64) {
	saturated, windows := 0, 0
	for i, c := range perSecond {
		if i == 0 {
			continue // the burst
		}
		windows++
		if float64(c) >= saturatedFactor*limit {
			saturated++
		}
	}
	fmt.Printf("  Stripe requests per 1 s window from the first create: ")
	if len(perSecond) <= maxListedWindows {
		fmt.Printf("%v\n", perSecond)
	} else {
		s := sortedCopy(perSecond)
		fmt.Printf("%d windows, min %d, median %d, max %d\n", len(s), s[0], percentile(s, 0.5), s[len(s)-1])
		fmt.Printf("  mean requests/s of each %d s from the first create: %v\n", sliceSeconds, sliceMeans(perSecond, sliceSeconds))
	}
	fmt.Printf("  windows at >= %.0f%% of %g req/s (the first, the burst, left out): %d of %d\n", saturatedFactor*100, limit, saturated, windows)
}

// sliceSeconds is the width of the slices a long run's request rate is shown in.
const sliceSeconds = 30

// sliceMeans returns the mean of each width-long slice of perSecond (the last may be shorter).
func sliceMeans(perSecond []int64, width int) []int64 {
	var out []int64
	for i := 0; i < len(perSecond); i += width {
		var n int64
		end := min(i+width, len(perSecond))
		for _, c := range perSecond[i:end] {
			n += c
		}
		out = append(out, n/int64(end-i))
	}
	return out
}

func printFirst(lines []string) {
	for i, line := range lines {
		if i == maxListedPlans {
			fmt.Printf("  ... and %d more\n", len(lines)-maxListedPlans)
			return
		}
		fmt.Printf("  %s\n", line)
	}
}

// boundRate is the rate of the lower bound: -rate (the emulator's limit, Stripe's), or the budget when
// the emulator is unlimited.
func boundRate(o options) float64 {
	if o.rate > 0 {
		return o.rate
	}
	return float64(o.budget)
}

type notReadyPlan struct{ name, synced, text string }

func notReadyPlans(m *measurement) []notReadyPlan {
	var out []notReadyPlan
	for i := range m.plans {
		plan := &m.plans[i]
		if _, ok := m.readyAt[plan.Name]; ok {
			continue
		}
		ready := meta.FindStatusCondition(plan.Status.Conditions, v1alpha1.ConditionReady)
		synced := meta.FindStatusCondition(plan.Status.Conditions, v1alpha1.ConditionSynced)
		text := plan.Name + ": Ready "
		if ready != nil {
			text += fmt.Sprintf("%s/%s (generation %d of %d)", ready.Status, ready.Reason, ready.ObservedGeneration, plan.Generation)
		} else {
			text += "absent"
		}
		msg := ""
		if synced != nil {
			msg = synced.Message
			text += fmt.Sprintf("; Synced %s/%s: %s", synced.Status, synced.Reason, synced.Message)
		} else {
			text += "; Synced absent"
		}
		out = append(out, notReadyPlan{name: plan.Name, synced: msg, text: text})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// printWrites prints write counters, per object (unit) where mine says the key is the objects'.
func printWrites(atReady, afterSettle map[string]int64, n float64, unit string, mine func(string) bool) {
	var total int64
	for _, key := range sortedKeys(atReady) {
		c := atReady[key]
		total += c
		if mine(key) {
			fmt.Printf("    %-40s %6d  %6.3f/%s\n", key, c, float64(c)/n, unit)
		} else {
			fmt.Printf("    %-40s %6d  (not a %s's)\n", key, c, unit)
		}
	}
	fmt.Printf("    %-40s %6d  %6.3f/%s\n", "total", total, float64(total)/n, unit)
	if delta := formatDelta(atReady, afterSettle); delta != noneText {
		fmt.Printf("    after all-Ready: %s\n", delta)
	}
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "SHORT"
}

func formatCounts(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	if len(parts) == 0 {
		return noneText
	}
	return strings.Join(parts, ", ")
}

func formatFloatCounts(m map[string]float64) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %g", k, m[k]))
	}
	if len(parts) == 0 {
		return noneText
	}
	return strings.Join(parts, ", ")
}

func formatIntCounts(m map[string]int, n float64, unit string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d (%.2f/%s)", k, m[k], float64(m[k])/n, unit))
	}
	if len(parts) == 0 {
		return noneText
	}
	return strings.Join(parts, ", ")
}

// formatDelta lists what grew between two snapshots of counters.
func formatDelta(before, after map[string]int64) string {
	var parts []string
	for _, k := range sortedKeys(after) {
		if d := after[k] - before[k]; d != 0 {
			parts = append(parts, fmt.Sprintf("%s %+d", k, d))
		}
	}
	if len(parts) == 0 {
		return noneText
	}
	return strings.Join(parts, ", ")
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "...")
	}
	return s
}

// failedBy429 is the set of objects a 429 failed, in either scenario: named by the manager's failed
// passes or its events, or left with a final Synced condition that names a rate limit.
func failedBy429(fromLog, fromEvents []string, finalSynced map[string]string) map[string]bool {
	failed := map[string]bool{}
	for _, name := range append(append([]string(nil), fromLog...), fromEvents...) {
		failed[name] = true
	}
	for name, synced := range finalSynced {
		if is429(synced) {
			failed[name] = true
		}
	}
	return failed
}
