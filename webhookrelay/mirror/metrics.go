package mirror

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// labelMirror labels every series with its StripeMirror (namespace/name).
const labelMirror = "mirror"

// Metrics are the mirrors' metrics, labelled by mirror (namespace/name).
type Metrics struct {
	writes    *prometheus.CounterVec
	skipped   *prometheus.CounterVec
	pages     *prometheus.CounterVec
	refetched *prometheus.CounterVec
	repaired  *prometheus.CounterVec
	lag       *prometheus.GaugeVec
	errors    *prometheus.CounterVec
}

// NewMetrics registers the mirrors' metrics.
func NewMetrics(registry prometheus.Registerer) (*Metrics, error) {
	m := newUnregisteredMetrics()
	for _, c := range []prometheus.Collector{m.writes, m.skipped, m.pages, m.refetched, m.repaired, m.lag, m.errors} {
		if err := registry.Register(c); err != nil {
			return nil, fmt.Errorf("register mirror metrics: %w", err)
		}
	}
	return m, nil
}

func newUnregisteredMetrics() *Metrics {
	return &Metrics{
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stripe_relay_mirror_writes_total",
			Help: "Object states offered to a mirror, by source (event, backfill) and outcome (written, older, same, flagged)."},
			[]string{labelMirror, "source", "outcome"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stripe_relay_mirror_skipped_events_total",
			Help: "Stored events a mirror did not apply, by reason (other_connection, other_region, undecidable, type_not_kept)."},
			[]string{labelMirror, "reason"}),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stripe_relay_mirror_backfill_pages_total",
			Help: "List pages a mirror's backfill read from Stripe."}, []string{labelMirror}),
		refetched: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stripe_relay_mirror_refetches_total",
			Help: "Objects a mirror read again from Stripe, by why (refetch: two states of one second; revalidation)."},
			[]string{labelMirror, "why"}),
		repaired: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stripe_relay_mirror_repaired_total",
			Help: "Rows revalidation found different from Stripe and rewrote."}, []string{labelMirror}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stripe_relay_mirror_lag_seconds",
			Help: "Age of the oldest stored event a mirror has not applied (0: caught up)."}, []string{labelMirror}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stripe_relay_mirror_errors_total",
			Help: "Passes of a mirror's loops that failed (loop: events, backfill), retried."}, []string{labelMirror, "loop"}),
	}
}

var outcomeNames = map[outcome]string{written: "written", older: "older", same: "same", flagged: "flagged"}

func (m *Metrics) observe(mirror, source string, o outcome) {
	m.writes.WithLabelValues(mirror, source, outcomeNames[o]).Inc()
}

// Forget drops a removed mirror's series.
func (m *Metrics) Forget(mirror string) {
	for _, v := range []*prometheus.CounterVec{m.writes, m.skipped, m.pages, m.refetched, m.repaired, m.errors} {
		v.DeletePartialMatch(prometheus.Labels{labelMirror: mirror})
	}
	m.lag.DeleteLabelValues(mirror)
}
