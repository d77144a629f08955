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
)

// Tenants stay mid-onboarding in this benchmark (the emulator's new accounts have requirements due and
// nobody submits them), so the operator observes each again on its bounded cadence: a backoff from
// managed.MinRecheckDelay to managed.MaxRecheckDelay, spaced so that all waiting tenants together make
// at most managed.DefaultRecheckRate passes a second (recheckmodel.go). This file records every request
// the emulator serves and compares the passes it saw with that model.

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

// since returns the requests logged after the first n, and how many are logged now.
func (l *requestLog) since(n int) ([]loggedRequest, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n = min(n, len(l.entries))
	return append([]loggedRequest(nil), l.entries[n:]...), len(l.entries)
}

func (l *requestLog) snapshot() []loggedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedRequest(nil), l.entries...)
}

// maxListedGaps is how many successive recheck gaps the report shows.
const maxListedGaps = 8

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
	// asks are the pending Synced tenants' first Synced polls (from the first create): the end of the
	// pass that first asked for a recheck (the create pass, or the pass that finished the tenant), where
	// the model starts each tenant's cadence.
	asks map[string]time.Duration
	// neverRead are the pending Synced tenants whose account was never read after their Synced time;
	// due are those whose first recheck the model puts before the window's end even at the largest
	// jitter (+1 s), and overdue those of them never read: a recheck that did not come.
	neverRead, due, overdue int
	// late are the first rechecks served after the model's latest (+10% jitter, +1 s), by how many
	// seconds; lateBehind those of them the model put before all-Synced, when the creates' backlog
	// still held the work queue and the budget.
	late       []float64
	lateBehind int
	// early are the times (from the first create) of the first passes after Synced served before the
	// model's earliest (no jitter, -1 s, the tenants waiting pollLag before the Synced poll): sooner
	// than the rate bound allows a recheck, so a pass that no recheck asked or one the model got wrong.
	early     []float64
	predicted float64 // rechecks the model predicts in the window (mean jitter)
	// predictedBefore and measuredBefore are the rechecks before all-Synced, as modelled and as served:
	// reads that competed with the creates for the budget.
	predictedBefore, measuredBefore float64
	// gaps[k] and modelGaps[k]: the k-th gap in seconds between a tenant's successive passes, from its
	// Synced time (gap 1 ends at its first recheck), as served and as modelled.
	gaps, modelGaps [][]float64
}

// tenantReadRoute says whether a route reads one of a tenant's objects (an observe's GETs).
func tenantReadRoute(route string) bool {
	return strings.HasPrefix(route, "GET /v1/") && route != "GET /v1/account"
}

func recheckFiguresOf(m *tenantMeasurement) rechecks {
	r := rechecks{window: m.settleTo.Sub(m.settleFrom), reads: map[string]int64{}, asks: map[string]time.Duration{}}
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
// pass begun in the window, the passes after each tenant's Synced time and their gaps, and what the
// model predicts of them.
func (r *rechecks) addTenants(m *tenantMeasurement) {
	readsOf := readsByTenant(m)
	inWindow := func(at time.Time) bool { return !at.Before(m.settleFrom) && !at.After(m.settleTo) }
	passesOf := map[string][]time.Time{}
	var windowPasses, windowReads int
	for i := range m.tenants {
		t := &m.tenants[i]
		if onboarded(t) {
			continue
		}
		r.pending++
		counting := false // the current pass began in the window
		for _, read := range readsOf[t.Name] {
			if read.account {
				passesOf[t.Name] = append(passesOf[t.Name], read.at)
				if counting = inWindow(read.at); counting {
					windowPasses++
				}
			}
			if counting {
				windowReads++
			}
		}
		if slices.ContainsFunc(passesOf[t.Name], inWindow) {
			r.rechecked++
		}
		if synced, ok := m.syncedAt[t.Name]; ok {
			r.asks[t.Name] = synced
		}
	}
	if windowPasses > 0 {
		r.readsPerPass = float64(windowReads) / float64(windowPasses)
	}
	r.addModel(m, passesOf, inWindow)
}

// addModel compares each pending Synced tenant's passes after its Synced time with the model's.
func (r *rechecks) addModel(m *tenantMeasurement, passesOf map[string][]time.Time, inWindow func(time.Time) bool) {
	waitingAt := waitingCounter(r.asks)
	model := simulate(r.asks, m.settleTo.Sub(m.start), meanJitter)
	for name, synced := range r.asks {
		ask := m.start.Add(synced)
		served := []time.Time{ask}
		for _, at := range passesOf[name] {
			if at.After(ask) {
				served = append(served, at)
				if at.Sub(m.start) <= m.elapsed {
					r.measuredBefore++
				}
			}
		}
		latest := ask.Add(time.Duration(float64(modelDelay(0, waitingAt(synced)))*(1+maxJitter)) + time.Second)
		if !latest.After(m.settleTo) {
			r.due++
		}
		switch {
		case len(served) == 1:
			r.neverRead++
			if !latest.After(m.settleTo) {
				r.overdue++
			}
		case served[1].Before(ask.Add(modelDelay(0, waitingAt(synced-pollLag)) - time.Second)):
			r.early = append(r.early, served[1].Sub(m.start).Seconds())
		case served[1].After(latest):
			r.late = append(r.late, served[1].Sub(latest).Seconds())
			if latest.Sub(m.start) <= m.elapsed {
				r.lateBehind++
			}
		}
		modelled := model[name]
		for _, d := range modelled[1:] {
			switch at := m.start.Add(d); {
			case inWindow(at):
				r.predicted++
			case d <= m.elapsed:
				r.predictedBefore++
			}
		}
		r.gaps = addGaps(r.gaps, len(served), func(j int) float64 { return served[j].Sub(served[j-1]).Seconds() })
		r.modelGaps = addGaps(r.modelGaps, len(modelled), func(j int) float64 { return (modelled[j] - modelled[j-1]).Seconds() })
	}
}

// pollLag bounds how long after a pass's end the benchmark's poll sees the tenant Synced: the 200 ms
// poll, the status write and the informer. The earliest a recheck may come counts the tenants waiting
// this long before the poll, the fewest the operator can have counted.
const pollLag = 500 * time.Millisecond

// earlyText lists when the early passes came, beside when the plans were last seen Ready.
func earlyText(early []float64, m *tenantMeasurement) string {
	if len(early) == 0 {
		return ""
	}
	s := sortedCopy(early)
	times := make([]string, 0, maxListedGaps)
	for _, at := range s[:min(len(s), maxListedGaps)] {
		times = append(times, fmt.Sprintf("%.1f", at))
	}
	var plansReady time.Duration
	for _, at := range m.planReadyAt {
		plansReady = max(plansReady, at)
	}
	return fmt.Sprintf(" (at %s s after the first create; the plans were all Ready at %.2f s): a pass no recheck asked (a plan's change wakes its tenants), or a Synced poll that lagged its pass by more than %s",
		strings.Join(times, ", "), plansReady.Seconds(), pollLag)
}

// addGaps appends gap(j) for j in [1, n) to gaps[j-1].
func addGaps(gaps [][]float64, n int, gap func(j int) float64) [][]float64 {
	for j := 1; j < n; j++ {
		if len(gaps) < j {
			gaps = append(gaps, nil)
		}
		gaps[j-1] = append(gaps[j-1], gap(j))
	}
	return gaps
}

func reportRechecks(m *tenantMeasurement, r rechecks) {
	fmt.Printf("\n== Onboarding rechecks (nobody submits the emulator's requirements: every tenant stays mid-onboarding)\n")
	fmt.Printf("  tenants mid-onboarding at the end: %d of %d\n", r.pending, len(m.tenants))
	fmt.Printf("  settle window: %.1f s, from %.1f s to %.1f s after the first create\n", r.window.Seconds(), m.settleFrom.Sub(m.start).Seconds(), m.settleTo.Sub(m.start).Seconds())
	fmt.Printf("  Stripe reads in the window: %s\n", formatCounts(r.reads))
	pending := float64(max(r.pending, 1))
	minutes := r.window.Minutes()
	fmt.Printf("  reads of the tenants' objects per pending tenant in the window: %.3f (%.3f per minute); all tenants together %.2f reads/s\n",
		float64(r.tenantReads)/pending, float64(r.tenantReads)/pending/minutes, float64(r.tenantReads)/r.window.Seconds())
	fmt.Printf("  observe passes in the window (one GET /v1/accounts/{account} each): %d = %.3f passes/s (RecheckRate %g); reads per pass: ", r.passes, float64(r.passes)/r.window.Seconds(), recheckRate)
	perPass := r.readsPerPass
	if perPass > 0 {
		fmt.Printf("%.2f (the GETs of each pass begun in the window, from the emulator's request log)\n", perPass)
	} else {
		perPass = r.wholeRunPass
		fmt.Printf("none in the window; %.2f over the whole run (tenant-object GETs / account GETs)\n", perPass)
	}
	fmt.Printf("  pending tenants whose account was read in the window: %d of %d\n", r.rechecked, r.pending)
	fmt.Printf("  pending Synced tenants never read after their Synced time: %d of %d; due a recheck before the window's end by the model even at +%.0f%% jitter: %d, never rechecked of them: %d (the rest are not due yet: the rate bound puts a tenant that joins w waiting ones at w / %g s)\n",
		r.neverRead, len(r.asks), maxJitter*100, r.due, r.overdue, recheckRate)
	late := sortedCopy(r.late)
	fmt.Printf("  first passes after Synced served sooner than the model's earliest (no jitter, -1 s, the tenants waiting %s before the Synced poll): %d%s\n",
		pollLag, len(r.early), earlyText(r.early, m))
	fmt.Printf("  first rechecks served later than the model's latest: %d (median %.1f s late, most %.1f s), %d of them due before all-Synced, while the creates' backlog held the work queue and the budget\n",
		len(late), percentile(late, 0.5), percentile(late, 1), r.lateBehind)
	fmt.Printf("  the model predicts %.0f rechecks in the window (each tenant's cadence from its first Synced poll, the number waiting = tenants Synced by then, mean jitter +%.0f%%); measured %d passes\n",
		r.predicted, meanJitter*100, r.passes)
	fmt.Printf("    and %.0f rechecks before all-Synced (measured %.0f): %.0f reads, %.1f s at %g req/s on top of the lower bound, as they competed with the creates\n",
		r.predictedBefore, r.measuredBefore, r.predictedBefore*perPass, r.predictedBefore*perPass/boundRate(m.o), boundRate(m.o))
	if len(r.gaps) > 0 {
		parts := make([]string, 0, maxListedGaps)
		for k, g := range r.gaps {
			if k == maxListedGaps {
				break
			}
			model := "none"
			if k < len(r.modelGaps) {
				model = fmt.Sprintf("%.1f s, n=%d", percentile(sortedCopy(r.modelGaps[k]), 0.5), len(r.modelGaps[k]))
			}
			parts = append(parts, fmt.Sprintf("#%d %.1f s (n=%d; model %s)", k+1, percentile(sortedCopy(g), 0.5), len(g), model))
		}
		fmt.Printf("  gaps between a tenant's successive passes from its Synced time (median; #1 ends at its first recheck): %s\n", strings.Join(parts, ", "))
	}
	reportSchedule(m, r, perPass)
}
