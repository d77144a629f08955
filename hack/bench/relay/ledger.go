package main

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// A delivery phase's sinks' side: what the sinks received against what the load saw acknowledged and
// what the stopped relay's store says (the ledger), the lag from the ack to the sink, the drain.

// deliveryResult is a delivery phase's sinks' side.
type deliveryResult struct {
	Sinks       int   `json:"sinks"`
	MaxInFlight int   `json:"max_in_flight"`
	Acked       int64 `json:"acknowledged_total"` // the whole phase, warm-up included: the ledger's
	// DeliveredPerSec is the slowest sink's receipts per second in the measurement window.
	DeliveredPerSec float64 `json:"delivered_per_s_min_sink"`
	// Lag of the events acknowledged in the window: the sink's first receipt minus the client's read of
	// the 2xx (ms; negative when the delivery beat the ack to its reader), every sink's together.
	// An event still undelivered when the relay stopped has a lag of at least LagBound (the stop minus
	// the window's end); a quantile that falls among those is -1 ("> LagBound").
	LagP50         float64 `json:"lag_p50_ms"`
	LagP99         float64 `json:"lag_p99_ms"`
	LagP999        float64 `json:"lag_p999_ms"`
	LagMax         float64 `json:"lag_max_ms"`
	LagN           int64   `json:"lag_deliveries"` // (event, sink) pairs of the window, delivered or not
	LagUndelivered int64   `json:"lag_undelivered"`
	LagBound       float64 `json:"lag_bound_ms"`
	// Drain: from the load's end until no sink is owed anything (or -drain-timeout).
	DrainS    float64 `json:"drain_s"`
	Drained   bool    `json:"drained"`
	DrainRate float64 `json:"drain_deliveries_per_s"` // every sink's receipts per second while draining
	// The CPU per delivery while draining (no intake then): the relay's server and the sinks'.
	DrainServerUSPer float64 `json:"drain_server_cpu_us_per_delivery"`
	DrainSinkUSPer   float64 `json:"drain_sink_cpu_us_per_delivery"`
	// PostgreSQL's CPU per delivery while draining (its phases).
	DrainPostgresUSPer float64      `json:"drain_postgres_cpu_us_per_delivery,omitempty"`
	Duplicates         int64        `json:"duplicates"`
	Ledger             bool         `json:"ledger_exact"`
	PerSink            []sinkResult `json:"per_sink"`
}

// sinkResult is one sink's figures and ledger.
type sinkResult struct {
	Key         string  `json:"key"`
	InWindow    int64   `json:"received_in_window"`
	PerSec      float64 `json:"received_per_s"`
	Received    int64   `json:"received_acknowledged"` // distinct acknowledged ids the sink received
	Extra       int64   `json:"received_unacknowledged"`
	Duplicates  int64   `json:"duplicates"`
	Bad         int64   `json:"bad_signatures"`
	FirstBad    string  `json:"first_bad,omitempty"`
	Conns       int64   `json:"connections"` // TCP connections the sink accepted
	Dead        int64   `json:"dead"`
	Pending     int64   `json:"pending"`      // acknowledged, pending in the store, not received
	PendingSeen int64   `json:"pending_seen"` // pending in the store, yet received (outcome not recorded)
	Delivered   int64   `json:"store_delivered"`
	Missing     int64   `json:"missing"` // acknowledged, and neither received, dead nor pending
	Ledger      bool    `json:"ledger_exact"`
}

// rates fills the sinks' receipts per second in the window (wall clock, Unix ns), the lag and the
// duplicates, after the ledger.
func (d *deliveryResult) rates(acks map[string]int64, stats []sinkStats, winStart, winEnd, stoppedAt int64) {
	window := time.Duration(winEnd - winStart).Seconds()
	var lags []time.Duration
	d.Ledger = len(d.PerSink) > 0
	for i, s := range stats {
		r := &d.PerSink[i]
		for _, at := range s.Received {
			if at >= winStart && at <= winEnd {
				r.InWindow++
			}
		}
		if window > 0 {
			r.PerSec = float64(r.InWindow) / window
		}
		if i == 0 || r.PerSec < d.DeliveredPerSec {
			d.DeliveredPerSec = r.PerSec
		}
		for id, ackAt := range acks {
			if ackAt < winStart || ackAt > winEnd {
				continue
			}
			if got, ok := s.Received[id]; ok {
				lags = append(lags, time.Duration(got-ackAt))
			} else {
				lags = append(lags, undelivered)
				d.LagUndelivered++
			}
		}
		d.Duplicates += r.Duplicates
		d.Ledger = d.Ledger && r.Ledger
	}
	slices.Sort(lags)
	d.LagN = int64(len(lags))
	d.LagBound = msOf(time.Duration(stoppedAt - winEnd))
	at := func(q float64) float64 {
		if v := quantile(lags, q); v != undelivered {
			return msOf(v)
		}
		return -1
	}
	d.LagP50, d.LagP99, d.LagP999, d.LagMax = at(0.5), at(0.99), at(0.999), at(1)
}

// undelivered is the lag of an event a sink had not received when the relay stopped.
const undelivered = time.Duration(math.MaxInt64)

// lag formats a lag quantile: -1 is "more than the bound".
func (d *deliveryResult) lag(v float64) string {
	if v < 0 {
		return "> " + dur(d.LagBound)
	}
	return dur(v)
}

// ledger fills d.PerSink from the sinks' receipts and the stopped relay's store (SQLite or
// PostgreSQL): per sink, every acknowledged event must be received, dead or pending.
func ledger(ctx context.Context, ref storeRef, d *deliveryResult, acks map[string]int64, stats []sinkStats) error {
	st, err := ref.open(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	for i, s := range stats {
		r := sinkResult{Key: sinkKey(i), Duplicates: s.Duplicates, Bad: s.Bad, FirstBad: s.FirstBad, Conns: s.Conns}
		for id := range s.Received {
			if _, ok := acks[id]; ok {
				r.Received++
			} else {
				r.Extra++
			}
		}
		c, err := st.Counts(ctx, r.Key)
		if err != nil {
			return err
		}
		r.Dead, r.Delivered = c.Dead, c.Delivered
		if c.Pending > 0 {
			// A year ahead every pending row is due, and on PostgreSQL every claim a stopped replica
			// left has lapsed, so Due (which claims there: harmless, no relay runs any more) lists
			// them all.
			rows, _, err := st.Due(ctx, store.DueQuery{Destination: r.Key, Now: time.Now().Add(24 * 365 * time.Hour), Limit: int(c.Pending)})
			if err != nil {
				return err
			}
			for _, row := range rows {
				_, acked := acks[row.EventID]
				_, seen := s.Received[row.EventID]
				switch {
				case seen:
					r.PendingSeen++
				case acked:
					r.Pending++
				}
			}
		}
		r.Missing = int64(len(acks)) - r.Received - r.Dead - r.Pending
		r.Ledger = r.Missing == 0 && r.Bad == 0
		d.PerSink = append(d.PerSink, r)
	}
	return nil
}
