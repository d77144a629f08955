package main

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
)

// backfillResult is one Backfill of a fresh schema at the budget.
type backfillResult struct {
	schema string
	// rows is what Backfill returned (rows written: list pages' objects, the accounts' GETs, the
	// payouts' balance transactions); tableRows what the schema holds after it.
	rows, tableRows int64
	pages           int64
	lists, gets     int64
	// requests is every API request the emulator received during the backfill, 429s those it refused.
	requests, limited int64
	passes            int
	errs              []string
	wall              time.Duration
	budget            float64
	burst             int
}

// newBudgetClient is the connection's client: one token bucket of budget req/s (stripeapi's default
// burst, four fifths of a second) shared by every account of the connection.
func newBudgetClient(w *world, budget float64) (*stripeapi.Client, error) {
	return stripeapi.New(stripeapi.Config{Name: connection, APIKey: apiKey, BaseURL: w.emu.URL,
		Budget: stripeapi.Budget{RequestsPerSecond: budget}, Logger: logr.Discard()})
}

// runBackfill runs m's Backfill on its fresh schema until a pass succeeds (at most 5 passes; the
// relay's loop would wait 30 s between passes, this does not), and reads what it cost.
func runBackfill(ctx context.Context, w *world, src *sources, m *mirror.Mirror, schema string, o options) (backfillResult, error) {
	r := backfillResult{schema: schema, budget: o.budget, burst: stripeapi.DefaultBurst(o.budget)}
	w.emu.ResetStats()
	src.lists.Store(0)
	src.gets.Store(0)
	start := time.Now()
	for r.passes < 5 {
		r.passes++
		n, err := m.Backfill(ctx)
		r.rows += n
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		r.errs = append(r.errs, err.Error())
		step("backfill %s: pass %d failed (%d rows so far): %v", schema, r.passes, r.rows, err)
	}
	r.wall = time.Since(start)
	stats := w.emu.Stats()
	for _, n := range stats.Requests {
		r.requests += n
	}
	r.limited = stats.RateLimited
	r.lists, r.gets = src.lists.Load(), src.gets.Load()
	snap, err := m.Snapshot(ctx)
	if err != nil {
		return r, err
	}
	r.tableRows, r.pages = snap.Rows, snap.Pages
	if snap.Listings != snap.ListingsTotal {
		r.errs = append(r.errs, fmt.Sprintf("only %d of %d listings complete", snap.Listings, snap.ListingsTotal))
	}
	step("backfill %s: %d rows, %d list calls + %d GETs in %s (%.0f rows/s), %d 429s", schema, r.rows, r.lists, r.gets,
		r.wall.Round(10*time.Millisecond), float64(r.rows)/r.wall.Seconds(), r.limited)
	return r, nil
}

// boundWall is the least time the requests could take at the budget: the burst is free, the rest
// come at the budget's rate.
func (r backfillResult) boundWall() time.Duration {
	extra := max(0, float64(r.requests)-float64(r.burst))
	return time.Duration(extra / r.budget * float64(time.Second))
}
