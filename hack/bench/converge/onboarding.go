package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudip/stripe-operator/internal/controller/managed"
)

// Tenants stay mid-onboarding in this benchmark (the emulator's new accounts have requirements due and
// nobody submits them), so the operator observes each again on its bounded, backing-off cadence
// (managed.MinRecheckDelay doubling to managed.MaxRecheckDelay, jittered by up to +10%). This file
// records every request the emulator serves and works out what that cadence costs.

// loggedRequest is one API request the emulator served.
type loggedRequest struct {
	at     time.Time
	method string
	path   string
	status int64
}

// requestLog is a slog.Handler for the emulator's Logger: it keeps its one line per API request.
type requestLog struct {
	mu      sync.Mutex
	entries []loggedRequest
}

func (l *requestLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *requestLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" {
		return nil
	}
	e := loggedRequest{at: r.Time}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "method":
			e.method = a.Value.String()
		case "path":
			e.path = a.Value.String()
		case "status":
			if a.Value.Kind() == slog.KindInt64 {
				e.status = a.Value.Int64()
			}
		}
		return true
	})
	l.mu.Lock()
	l.entries = append(l.entries, e)
	l.mu.Unlock()
	return nil
}

func (l *requestLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *requestLog) WithGroup(string) slog.Handler      { return l }

func (l *requestLog) snapshot() []loggedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedRequest(nil), l.entries...)
}

// meanJitter is the mean of the recheck's jitter, uniform in [0, 10%).
const meanJitter = 0.05

// maxListedGaps is how many successive recheck gaps the report shows.
const maxListedGaps = 8

// recheckDelay is the k-th delay of the cadence (k from 0), before jitter, as managed computes it.
func recheckDelay(k int) time.Duration {
	if k >= 16 {
		return managed.MaxRecheckDelay
	}
	return min(managed.MinRecheckDelay<<k, managed.MaxRecheckDelay)
}

// scheduleTimes are the times, from the pass that first asks, of the rechecks up to horizon.
func scheduleTimes(horizon time.Duration, jitter float64) []time.Duration {
	var out []time.Duration
	var t time.Duration
	for k := 0; ; k++ {
		t += time.Duration(float64(recheckDelay(k)) * (1 + jitter))
		if t > horizon {
			return out
		}
		out = append(out, t)
	}
}

// rechecks are the onboarding figures of the run.
type rechecks struct {
	pending      int              // tenants not onboarded at the end
	window       time.Duration    // the settle window
	reads        map[string]int64 // GET requests in the window by route, GET /v1/account (the connection's) apart
	tenantReads  int64            // reads of the tenants' objects in the window
	passes       int64            // GET /v1/accounts/{account} in the window: one per observe pass
	readsPerPass float64          // measured: the GETs of the passes begun in the window (request log); 0 when none
	wholeRunPass float64          // reads per pass over the whole run, for when the window saw none
	rechecked    int              // pending tenants whose account was read in the window
	neverRead    int              // pending tenants whose account was never read (every read is a pass after the create pass)
	predicted    float64          // passes the schedule predicts in the window, from each tenant's Synced time
	// predictedBefore are the passes the schedule predicts before all-Synced: reads that would have
	// competed with the creates for the budget.
	predictedBefore float64
	gaps            [][]float64 // gaps[k]: the k-th gap in seconds between successive reads of a tenant's account
}

// tenantReadRoute says whether a route reads one of a tenant's objects (an observe's GETs).
func tenantReadRoute(route string) bool {
	return strings.HasPrefix(route, "GET /v1/") && route != "GET /v1/account"
}

func recheckFiguresOf(m *tenantMeasurement) rechecks {
	r := rechecks{window: m.settleTo.Sub(m.settleFrom), reads: map[string]int64{}}
	for route, n := range m.afterSettle.Requests {
		if d := n - m.settleStart.Requests[route]; d != 0 && strings.HasPrefix(route, "GET ") {
			r.reads[route] = d
			if tenantReadRoute(route) {
				r.tenantReads += d
			}
		}
	}
	r.passes = r.reads["GET /v1/accounts/{account}"]
	var allReads int64
	for route, n := range m.afterSettle.Requests {
		if tenantReadRoute(route) {
			allReads += n
		}
	}
	if allPasses := m.afterSettle.Requests["GET /v1/accounts/{account}"]; allPasses > 0 {
		r.wholeRunPass = float64(allReads) / float64(allPasses)
	}
	r.addTenants(m)
	return r
}

// tenantRead is a GET of one of a tenant's objects: its account (which starts an observe pass), its
// customer or its subscription.
type tenantRead struct {
	at      time.Time
	account bool
}

// readsByTenant groups the GETs of the tenants' objects by tenant, in order.
func readsByTenant(m *tenantMeasurement) map[string][]tenantRead {
	owner := map[string]string{} // object id -> tenant
	for i := range m.tenants {
		t := &m.tenants[i]
		for _, id := range []string{t.Status.AccountID, t.Status.CustomerID, t.Status.SubscriptionID} {
			if id != "" {
				owner[id] = t.Name
			}
		}
	}
	out := map[string][]tenantRead{}
	for _, e := range m.requests {
		if e.method != "GET" {
			continue
		}
		for _, prefix := range []string{"/v1/accounts/", "/v1/customers/", "/v1/subscriptions/"} {
			id, ok := strings.CutPrefix(e.path, prefix)
			if tenant := owner[id]; ok && tenant != "" && !strings.Contains(id, "/") {
				out[tenant] = append(out[tenant], tenantRead{at: e.at, account: prefix == "/v1/accounts/"})
			}
		}
	}
	for _, reads := range out {
		sort.SliceStable(reads, func(a, b int) bool { return reads[a].at.Before(reads[b].at) })
	}
	return out
}

// addTenants adds the per-tenant figures: which pending tenants were read, the reads of each observe
// pass begun in the window, the gaps between passes, and what the schedule predicts.
func (r *rechecks) addTenants(m *tenantMeasurement) {
	readsOf := readsByTenant(m)
	inWindow := func(at time.Time) bool { return !at.Before(m.settleFrom) && !at.After(m.settleTo) }
	schedule := scheduleTimes(m.settleTo.Sub(m.start), meanJitter)
	var windowPasses, windowReads int
	for i := range m.tenants {
		t := &m.tenants[i]
		if onboarded(t) {
			continue
		}
		r.pending++
		var passes []time.Time
		counting := false // the current pass began in the window
		for _, read := range readsOf[t.Name] {
			if read.account {
				passes = append(passes, read.at)
				counting = inWindow(read.at)
				if counting {
					windowPasses++
				}
			}
			if counting {
				windowReads++
			}
		}
		if len(passes) == 0 {
			r.neverRead++
		}
		if slices.ContainsFunc(passes, inWindow) {
			r.rechecked++
		}
		for j := 1; j < len(passes); j++ {
			if len(r.gaps) < j {
				r.gaps = append(r.gaps, nil)
			}
			r.gaps[j-1] = append(r.gaps[j-1], passes[j].Sub(passes[j-1]).Seconds())
		}
		if synced, ok := m.syncedAt[t.Name]; ok {
			for _, d := range schedule {
				switch at := m.start.Add(synced + d); {
				case inWindow(at):
					r.predicted++
				case at.Sub(m.start) <= m.elapsed:
					r.predictedBefore++
				}
			}
		}
	}
	if windowPasses > 0 {
		r.readsPerPass = float64(windowReads) / float64(windowPasses)
	}
}

func reportRechecks(m *tenantMeasurement, r rechecks) {
	fmt.Printf("\n== Onboarding rechecks (nobody submits the emulator's requirements: every tenant stays mid-onboarding)\n")
	fmt.Printf("  tenants mid-onboarding at the end: %d of %d\n", r.pending, len(m.tenants))
	fmt.Printf("  settle window: %.1f s, from %.1f s to %.1f s after the first create\n", r.window.Seconds(), m.settleFrom.Sub(m.start).Seconds(), m.settleTo.Sub(m.start).Seconds())
	fmt.Printf("  Stripe reads in the window: %s\n", formatCounts(r.reads))
	pending := float64(max(r.pending, 1))
	minutes := r.window.Minutes()
	fmt.Printf("  reads of the tenants' objects per pending tenant in the window: %.3f (%.3f per minute)\n", float64(r.tenantReads)/pending, float64(r.tenantReads)/pending/minutes)
	fmt.Printf("  observe passes in the window (one GET /v1/accounts/{account} each): %d; reads per pass: ", r.passes)
	perPass := r.readsPerPass
	if perPass > 0 {
		fmt.Printf("%.2f (the GETs of each pass begun in the window, from the emulator's request log)\n", perPass)
	} else {
		perPass = r.wholeRunPass
		fmt.Printf("none in the window; %.2f over the whole run (tenant-object GETs / account GETs)\n", perPass)
	}
	fmt.Printf("  pending tenants whose account was read in the window: %d of %d; whose account was never read after its create pass (no recheck came): %d\n", r.rechecked, r.pending, r.neverRead)
	fmt.Printf("  the schedule predicts %.0f passes in the window (each tenant's cadence started at its first Synced poll, mean jitter +%.0f%%); measured %d\n",
		r.predicted, meanJitter*100, r.passes)
	fmt.Printf("    and %.0f passes before all-Synced: %.0f reads, %.1f s at %g req/s on top of the lower bound, had they competed with the creates\n",
		r.predictedBefore, r.predictedBefore*perPass, r.predictedBefore*perPass/boundRate(m.o), boundRate(m.o))
	if len(r.gaps) > 0 {
		parts := make([]string, 0, maxListedGaps)
		for k, g := range r.gaps {
			if k == maxListedGaps {
				break
			}
			s := sortedCopy(g)
			parts = append(parts, fmt.Sprintf("#%d %.1f s (n=%d; schedule %s)", k+1, percentile(s, 0.5), len(s), recheckDelay(k)))
		}
		fmt.Printf("  gaps between successive reads of a tenant's account (median): %s\n", strings.Join(parts, ", "))
	}

	fmt.Printf("  the schedule's cost (managed.MinRecheckDelay %s doubling to managed.MaxRecheckDelay %s, +0-10%% jitter), at %.2f reads per pass:\n",
		managed.MinRecheckDelay, managed.MaxRecheckDelay, perPass)
	firstMax, firstMean := len(scheduleTimes(time.Hour, 0)), len(scheduleTimes(time.Hour, meanJitter))
	fmt.Printf("    first hour of onboarding: %d passes (no jitter; %d with the mean jitter) = %.1f reads per pending tenant\n", firstMax, firstMean, float64(firstMax)*perPass)
	afterMax := float64(time.Hour) / float64(managed.MaxRecheckDelay)
	afterMean := afterMax / (1 + meanJitter)
	fmt.Printf("    each hour after: %.2f passes (%.2f with the mean jitter) = %.1f (%.1f) reads per pending tenant\n", afterMax, afterMean, afterMax*perPass, afterMean*perPass)
	perSecond := float64(r.pending) * afterMax * perPass / 3600
	fmt.Printf("    for these %d pending tenants, each hour after the first: %.0f reads = %.2f req/s, %.1f%% of the connection's %d req/s budget\n",
		r.pending, float64(r.pending)*afterMax*perPass, perSecond, perSecond/float64(m.o.budget)*100, m.o.budget)
}
