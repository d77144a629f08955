package main

import "fmt"

// dur formats milliseconds, as seconds from 1 s on.
func dur(v float64) string {
	if v >= 1000 || v <= -1000 {
		return fmt.Sprintf("%.2f s", v/1000)
	}
	return ms(v)
}

// printDelivery prints the delivery phases' sinks' side, in the report's table style.
func printDelivery(phases []phase) {
	var ds []phase
	for _, p := range phases {
		if p.Delivery != nil {
			ds = append(ds, p)
		}
	}
	if len(ds) == 0 {
		return
	}
	fmt.Printf("\n== Delivery, end to end (Stripe → relay → sinks): MaxInFlight %d and %s requests/s per sink; every delivery verified (Standard Webhooks) by the sink\n",
		ds[0].Delivery.MaxInFlight, thousands(sinkRate))
	fmt.Printf("%-13s %8s %5s %9s %9s %7s %9s %9s %9s %9s %8s %5s %7s\n", "phase", "replicas", "sinks", "intake/s", "deliv/s", "e2e", "lag p50",
		"lag p99", "lag p99.9", "lag max", "drain", "dups", "ledger")
	for _, p := range ds {
		d := p.Delivery
		ratio := 0.0
		if p.EventsPerSec > 0 {
			ratio = d.DeliveredPerSec / p.EventsPerSec
		}
		drain := fmt.Sprintf("%.1f s", d.DrainS)
		if !d.Drained {
			drain = ">" + drain
		}
		ledger := "exact"
		if !d.Ledger {
			ledger = "VOID"
		}
		fmt.Printf("%-13s %8d %5d %9s %9s %5.0f %% %9s %9s %9s %9s %8s %5d %7s\n", p.Name, p.Replicas, d.Sinks, thousands(int64(p.EventsPerSec+0.5)),
			thousands(int64(d.DeliveredPerSec+0.5)), ratio*100, d.lag(d.LagP50), d.lag(d.LagP99), d.lag(d.LagP999), d.lag(d.LagMax),
			drain, d.Duplicates, ledger)
	}
	for _, p := range ds {
		d := p.Delivery
		pg := ""
		if p.Engine == enginePostgres {
			pg = fmt.Sprintf(", %.0f µs of PostgreSQL CPU", d.DrainPostgresUSPer)
		}
		fmt.Printf("  %s: %s events acknowledged (warm-up included); draining: %s deliveries/s, %.0f µs of relay CPU%s and %.0f µs of sink CPU per delivery\n",
			p.Name, thousands(d.Acked), thousands(int64(d.DrainRate+0.5)), d.DrainServerUSPer, pg, d.DrainSinkUSPer)
		if !d.Drained {
			var owed int64
			for _, s := range d.PerSink {
				owed += s.Pending + s.PendingSeen
			}
			more := "?"
			if d.DrainRate > 0 {
				more = fmt.Sprintf("%.0f s", float64(owed)/d.DrainRate)
			}
			fmt.Printf("    not drained: %s deliveries still owed after %.1f s; at the drain rate, about %s more\n",
				thousands(owed), d.DrainS, more)
		}
		for _, s := range d.PerSink {
			verdict := "exact"
			if !s.Ledger {
				verdict = "VOID"
			}
			fmt.Printf("    %s: %s/s in the window, %s connections; %s acknowledged = %s received + %s dead + %s pending (+%s missing): %s",
				s.Key, thousands(int64(s.PerSec+0.5)), thousands(s.Conns), thousands(d.Acked), thousands(s.Received),
				thousands(s.Dead), thousands(s.Pending), thousands(s.Missing), verdict)
			if s.PendingSeen > 0 || s.Extra > 0 || s.Duplicates > 0 || s.Bad > 0 {
				fmt.Printf("; received but still pending %d, received unacknowledged %d, duplicates %d, bad signatures %d",
					s.PendingSeen, s.Extra, s.Duplicates, s.Bad)
			}
			if s.FirstBad != "" {
				fmt.Printf(" (first: %s)", s.FirstBad)
			}
			fmt.Println()
		}
	}
	fmt.Printf("  intake/s: events acknowledged per second; deliv/s: the slowest sink's receipts per second, same window;\n" +
		"  e2e = deliv/s / intake/s. lag: the sink's first receipt of an event acknowledged in the window minus the\n" +
		"  client's read of its 2xx (wall clock, one machine; negative when the delivery beat the answer), every sink\n" +
		"  together; an event not yet received when the relay stopped counts as more than the stop minus the window's\n" +
		"  end (> x). drain: from the load's end until no sink is owed a delivery (> : -drain-timeout reached).\n" +
		"  ledger: per sink, from its receipts and the stopped relay's store, SQLite or PostgreSQL (Counts, pending rows by\n" +
		"  id); VOID when an acknowledged event is neither received, dead nor pending, or a signature did not verify.\n" +
		"  replicas: relay processes on the one store, each running a Deliverer (on PostgreSQL they share the sink)\n")
}
