package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// report prints the run's figures as small tables.
func report(out io.Writer, b *bench, pgVersion string, lanes []*lane) {
	w := b.w
	p := printer(out)
	p("\nbench-mirror: webhookrelay/mirror on this machine\n")
	p("machine   %s; PostgreSQL %s (private, default settings)\n", machine(), pgVersion)
	p("seed      %d connected accounts + the platform; %d customers, %d subscriptions, %d one-off charges, %d payouts (%s, no rate limit)\n",
		len(w.tenants), w.counts.customers, w.counts.subscriptions, w.counts.charges, w.counts.payouts, w.counts.took.Round(100*time.Millisecond))
	reportBackfill(out, b.o, lanes)
	reportCatchUp(out, b.o, lanes)
	reportSteady(out, b.o, lanes)
}

// printer is fmt.Fprintf to out, its error dropped.
func printer(out io.Writer) func(format string, args ...any) {
	return func(format string, args ...any) { _, _ = fmt.Fprintf(out, format, args...) }
}

// table prints a right-aligned table: the header's and the rows' cells tab-separated.
func table(out io.Writer, header string, rows [][]string) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintln(tw, header+"\t")
	for _, r := range rows {
		_, _ = fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	_ = tw.Flush()
}

// reportBackfill is table 1: each lane's Backfill against the budget, and its failed passes.
func reportBackfill(out io.Writer, o options, lanes []*lane) {
	p := printer(out)
	p("\n1. Backfill of a fresh schema at Stripe's test-mode limit (emulator 25 req/s), budget %.0f req/s (burst %d), Parallel %d\n",
		o.budget, lanes[0].backfill.burst, o.parallel)
	rows := make([][]string, 0, len(lanes))
	for _, l := range lanes {
		r := l.backfill
		secs := r.wall.Seconds()
		rowsPerReq := float64(r.rows) / float64(max(r.requests, 1))
		rows = append(rows, []string{r.schema, fmt.Sprint(r.rows), fmt.Sprint(r.lists), fmt.Sprint(r.gets), fmt.Sprint(r.requests),
			fmt.Sprintf("%.2fs", secs), fmt.Sprintf("%.0f", float64(r.rows)/secs), fmt.Sprintf("%.1f", float64(r.requests)/secs),
			fmt.Sprintf("%.2f", float64(r.requests)/secs/r.budget), fmt.Sprintf("%.1f", rowsPerReq),
			fmt.Sprintf("%.0f", r.budget*rowsPerReq), fmt.Sprintf("%.2fs", r.boundWall().Seconds()),
			fmt.Sprintf("%.0f", r.budget*100), fmt.Sprint(r.limited), fmt.Sprint(r.passes)})
	}
	table(out, "schema\trows\tlist calls\tGETs\trequests\twall\trows/s\treq/s\treq/s÷budget\trows/req\tbound rows/s\tbound wall\tfull-page rows/s\t429s\tpasses", rows)
	p("   rows: what Backfill returned (list pages' objects, the accounts' GETs, the payouts' balance transactions); requests: what\n")
	p("   the emulator received (list calls + GETs). bound rows/s = budget × rows/req (this data at the budget); bound wall = (requests −\n")
	p("   burst) / budget; full-page rows/s = budget × 100 (every request a full page of 100).\n")
	for _, l := range lanes {
		for i, e := range l.backfill.errs {
			lines := strings.Split(e, "\n")
			p("   %s: pass %d failed, %d errors, the first: %s\n", l.backfill.schema, i+1, len(lines), lines[0])
		}
	}
}

// reportCatchUp is table 2a: each store's load and its mirror's CatchUp.
func reportCatchUp(out io.Writer, o options, lanes []*lane) {
	p := printer(out)
	p("\n2a. Catch-up: %d events (customer.created of every customer, then customer.updated) stored, then one CatchUp of the backfilled mirror, BatchSize %d\n",
		lanes[0].catchUp.events, o.batch)
	rows := make([][]string, 0, len(lanes))
	for _, l := range lanes {
		r := l.catchUp
		rows = append(rows, []string{r.store, fmt.Sprint(r.events), fmt.Sprintf("%.0f", float64(r.load.bytes)/float64(max(r.events, 1))),
			fmt.Sprintf("%.2fs", r.load.wall.Seconds()), fmt.Sprintf("%.0f", float64(r.events)/r.load.wall.Seconds()),
			fmt.Sprintf("%.2fs", r.wall.Seconds()), fmt.Sprintf("%.0f", float64(r.events)/r.wall.Seconds()), yes(r.caughtUp), r.outcomes.String()})
	}
	table(out, "store\tevents\tbytes/event\tput wall\tputs/s\tcatch-up wall\tevents/s applied\tcaught up\toutcomes", rows)
	p("   outcomes: the mirror's stripe_relay_mirror_writes_total by source/outcome in the phase (older: the backfill's read was later).\n")
}

// reportSteady is table 2b: each store's steady phase, then a line of notes per store.
func reportSteady(out io.Writer, o options, lanes []*lane) {
	p := printer(out)
	p("\n2b. Steady: Mirror.Run while a producer puts %d customer.updated/s for %s (open loop, Wake after each Put)\n", o.rate, o.steady)
	rows := make([][]string, 0, len(lanes))
	for _, l := range lanes {
		r := l.steady
		rows = append(rows, []string{r.store, fmt.Sprint(r.produced), fmt.Sprintf("%.0f", float64(r.produced)/r.produceFor.Seconds()),
			fmtDur(r.putP99), fmt.Sprint(r.applied), fmtDur(percentile(r.lags, 0.5)), fmtDur(percentile(r.lags, 0.99)), fmtDur(percentile(r.lags, 1)),
			fmtDur(percentile(r.snapLags, 0.5)), fmtDur(percentile(r.snapLags, 0.99)), fmtDur(percentile(r.snapLags, 1)),
			fmt.Sprint(r.backlog), fmtDur(r.drain), keptUp(r)})
	}
	table(out, "store\tput\tput/s\tput p99\tapplied\tlag p50\tlag p99\tlag max\tSnapshot.Lag p50\tp99\tmax\tbacklog at stop\tdrain\tkept up", rows)
	p("   lag: applied − ReceivedAt per event (applied: its seq seen in the mirror's committed cursor, polled every 5 ms);\n")
	p("   Snapshot.Lag: age of the oldest unapplied event, sampled every 100 ms; backlog at stop: put but not yet applied when the\n")
	p("   producer's last Put returned; kept up: that backlog under one second of events and drained within a second.\n")
	for _, l := range lanes {
		p("   %s: %s\n", l.steady.store, strings.Join(steadyNotes(l.steady, o), "; "))
	}
}

// steadyNotes are what else a steady phase's row should be read with, its outcomes last.
func steadyNotes(r steadyResult, o options) []string {
	extra := []string{}
	if r.sameSecond > 0 {
		extra = append(extra, fmt.Sprintf("%d events were a second change of an object in the same second (-same-second %g)", r.sameSecond, o.sameSecond))
	}
	if r.putErrors > 0 {
		extra = append(extra, fmt.Sprintf("%d Puts failed", r.putErrors))
	}
	if r.behind > 100*time.Millisecond {
		extra = append(extra, fmt.Sprintf("the producer fell %s behind its schedule", fmtDur(r.behind)))
	}
	if !r.drained {
		extra = append(extra, fmt.Sprintf("not drained after %s", fmtDur(r.drain)))
	}
	if r.runErr != "" {
		extra = append(extra, "Run: "+r.runErr)
	}
	return append(extra, "outcomes "+r.outcomes.String())
}

func (o outcomes) String() string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, o[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func keptUp(r steadyResult) string {
	return yes(r.drained && r.backlog <= r.rate && r.drain <= time.Second)
}
