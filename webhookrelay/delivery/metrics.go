package delivery

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	delivered, failed, retried, dead, held *prometheus.CounterVec
	duration                               *prometheus.HistogramVec
	lag                                    *prometheus.GaugeVec
}

func newMetrics(registry prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"sink"})
	}
	m := &metrics{
		delivered: counter("stripe_relay_sink_delivered_total", "Deliveries a sink acknowledged (2xx)."),
		failed:    counter("stripe_relay_sink_failed_total", "Delivery attempts that failed (non-2xx, timeout, connection error)."),
		retried:   counter("stripe_relay_sink_retried_total", "Delivery attempts that were retries of a failed one."),
		dead:      counter("stripe_relay_sink_dead_lettered_total", "Deliveries given up after the sink's retry horizon."),
		held:      counter("stripe_relay_sink_held_total", "Delivery attempts held by their format (a ledger batch that does not balance): not sent."),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "stripe_relay_sink_delivery_duration_seconds",
			Help: "Time of one delivery attempt, to the sink's answer.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"sink"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stripe_relay_sink_lag_seconds",
			Help: "Age of the oldest event a sink is still owed (0 when none)."}, []string{"sink"}),
	}
	for _, c := range []prometheus.Collector{m.delivered, m.failed, m.retried, m.dead, m.held, m.duration, m.lag} {
		if err := registry.Register(c); err != nil {
			return nil, fmt.Errorf("register delivery metrics: %w", err)
		}
	}
	return m, nil
}

// SetLag records a sink's lag (the status writer computes it from the store).
func (d *Deliverer) SetLag(sink string, seconds float64) {
	d.metrics.lag.WithLabelValues(sink).Set(seconds)
}
