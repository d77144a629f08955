package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cloudip/stripe-operator/internal/controller/managed"
)

// The model of the operator's onboarding rechecks (internal/controller/managed/recheck.go), which the
// report compares with what the emulator served. A pass that ends with the tenant onboarding asks to be
// observed again; managed turns the request into
//
//	delay = max(backoff, MinRecheckDelay, waiting / RecheckRate) x (1 + jitter), jitter uniform in [0, 10%)
//
// where backoff is MinRecheckDelay doubling on every pass that asks for the same Why, up to
// MaxRecheckDelay, and waiting is the number of the kind's objects waiting for a recheck (this one
// included). A tenant's Why names its onboarding stage, which nobody changes here (nobody submits the
// emulator's requirements), and its accounts have no deadline and no onboarding link, so NotAfter
// plays no part. The manager (./cmd/manager) leaves RecheckRate at managed.DefaultRecheckRate.

// recheckRate is the manager's bound on a kind's rechecks together, in passes per second.
const recheckRate = managed.DefaultRecheckRate

// meanJitter is the mean of the recheck's jitter, uniform in [0, 10%); maxJitter its bound.
const (
	meanJitter = 0.05
	maxJitter  = 0.1
)

// busiestSpan is the width of the window in which the model looks for the rechecks' busiest stretch.
const busiestSpan = 10 * time.Minute

// recheckDelay is the k-th backoff (k from 0), before jitter, as managed computes it.
func recheckDelay(k int) time.Duration {
	if k >= 16 {
		return managed.MaxRecheckDelay
	}
	return min(managed.MinRecheckDelay<<k, managed.MaxRecheckDelay)
}

// roundTrip is how long the rate bound takes to go once round waiting objects: waiting / RecheckRate.
func roundTrip(waiting int) time.Duration {
	return time.Duration(float64(waiting) / recheckRate * float64(time.Second))
}

// modelDelay is the k-th delay of an object asked while waiting objects wait (itself included), before
// jitter.
func modelDelay(k, waiting int) time.Duration {
	return max(recheckDelay(k), managed.MinRecheckDelay, roundTrip(waiting))
}

// steadyPeriod is, for waiting objects that have all backed off to the cap, each one's time between
// passes before jitter: max(MaxRecheckDelay, waiting / RecheckRate).
func steadyPeriod(waiting int) time.Duration {
	return max(managed.MaxRecheckDelay, roundTrip(waiting))
}

// firstHour is the number of one object's rechecks in the hour after the pass that first asks, when
// the same number of objects wait throughout.
func firstHour(waiting int, jitter float64) int {
	var t time.Duration
	for k := 0; ; k++ {
		t += time.Duration(float64(modelDelay(k, waiting)) * (1 + jitter))
		if t > time.Hour {
			return k
		}
	}
}

// waitingCounter returns, for a time t, how many of asks (each object's first ask, from the first
// create) had asked by t: the operator's waiting count, as nobody here stops onboarding.
func waitingCounter(asks map[string]time.Duration) func(t time.Duration) int {
	times := make([]time.Duration, 0, len(asks))
	for _, at := range asks {
		times = append(times, at)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return func(t time.Duration) int {
		return sort.Search(len(times), func(i int) bool { return times[i] > t })
	}
}

// simulate runs the model for every object of asks from its first ask to horizon: the times (from the
// first create) of its ask and of each recheck after it, every delay taken with the number waiting at
// the pass that asks it.
func simulate(asks map[string]time.Duration, horizon time.Duration, jitter float64) map[string][]time.Duration {
	waitingAt := waitingCounter(asks)
	out := make(map[string][]time.Duration, len(asks))
	for name, ask := range asks {
		times := []time.Duration{ask}
		for k, t := 0, ask; ; k++ {
			t += time.Duration(float64(modelDelay(k, waitingAt(t))) * (1 + jitter))
			if t > horizon {
				break
			}
			times = append(times, t)
		}
		out[name] = times
	}
	return out
}

// busiest finds the span-wide window holding the most rechecks of a simulation (asks left out): their
// number and where the window starts.
func busiest(model map[string][]time.Duration, span time.Duration) (int, time.Duration) {
	var all []time.Duration
	for _, times := range model {
		all = append(all, times[1:]...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	best, from := 0, time.Duration(0)
	for i, j := 0, 0; j < len(all); j++ {
		for all[j]-all[i] >= span {
			i++
		}
		if j-i+1 > best {
			best, from = j-i+1, all[i]
		}
	}
	return best, from
}

// reportSchedule prints what the model says the rechecks cost, at perPass reads per pass: the steady
// state for the run's pending tenants and for other numbers, a tenant's first hour, and the run's own
// first hours simulated from the tenants' Synced times.
func reportSchedule(m *tenantMeasurement, r rechecks, perPass float64) {
	n := r.pending
	fmt.Printf("  the schedule's cost, at %.2f reads per pass: delay max(backoff, managed.MinRecheckDelay, waiting / RecheckRate) +0-10%% jitter; backoff %s doubling to managed.MaxRecheckDelay %s, restarted when the Recheck's Why (the onboarding stage) changes, which it does not here; RecheckRate managed.DefaultRecheckRate %g passes/s for all waiting tenants together\n",
		perPass, managed.MinRecheckDelay, managed.MaxRecheckDelay, recheckRate)
	crossover := int(managed.MaxRecheckDelay.Seconds() * recheckRate)
	fmt.Printf("    steady state for N pending tenants: a pass each every max(%s, N / %g s); the rate bound takes over above %d tenants\n", managed.MaxRecheckDelay, recheckRate, crossover)
	period := steadyPeriod(n)
	perHour := float64(time.Hour) / float64(period)
	perSecond := float64(n) / period.Seconds() * perPass
	budget := float64(m.o.budget)
	fmt.Printf("    these %d pending tenants: a pass each every %s (%s with the mean jitter) = %.2f (%.2f) passes = %.1f (%.1f) reads per pending tenant per hour; together %.2f (%.2f) reads/s, %.1f%% (%.1f%%) of the connection's %d req/s budget\n",
		n, period.Round(time.Second), time.Duration(float64(period)*(1+meanJitter)).Round(time.Second),
		perHour, perHour/(1+meanJitter), perHour*perPass, perHour*perPass/(1+meanJitter),
		perSecond, perSecond/(1+meanJitter), perSecond/budget*100, perSecond/budget/(1+meanJitter)*100, m.o.budget)
	others := make([]string, 0, 4)
	for _, k := range []int{100, crossover, 1000, 10000} {
		p := steadyPeriod(k)
		others = append(others, fmt.Sprintf("%d: every %s, %.1f reads/tenant/h, %.2f reads/s (%.1f%%)", k, p.Round(time.Second),
			float64(time.Hour)/float64(p)*perPass, float64(k)/p.Seconds()*perPass, float64(k)/p.Seconds()*perPass/budget*100))
	}
	fmt.Printf("    other N (no jitter): %s\n", strings.Join(others, "; "))
	alone, among := firstHour(1, 0), firstHour(n, 0)
	fmt.Printf("    a tenant's first hour of onboarding (no jitter; mean jitter): alone %d (%d) passes = %.0f reads; among %d waiting %d (%d) passes = %.0f reads\n",
		alone, firstHour(1, meanJitter), float64(alone)*perPass, n, among, firstHour(n, meanJitter), float64(among)*perPass)
	if len(r.asks) == 0 {
		return
	}
	const horizon = 2 * time.Hour
	model := simulate(r.asks, horizon, meanJitter)
	var firstHour int
	for _, times := range model {
		for _, at := range times[1:] {
			if at <= time.Hour {
				firstHour++
			}
		}
	}
	most, from := busiest(model, busiestSpan)
	rate := float64(most) / busiestSpan.Seconds()
	fmt.Printf("    this run, modelled from each tenant's Synced time (mean jitter): %.2f rechecks per tenant in the first hour after the first create; the busiest %s of the first %s has %d = %.3f passes/s (%.2fx RecheckRate), %.2f reads/s, %.1f%% of the budget, from %s\n",
		float64(firstHour)/float64(len(model)), busiestSpan, horizon, most, rate, rate/recheckRate, rate*perPass, rate*perPass/budget*100, from.Round(time.Second))
}
