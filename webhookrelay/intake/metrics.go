package intake

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Refusal reasons of the intake's own, beside stripeapi.RefusalReasons.
const (
	reasonUnknownEndpoint = "unknown_endpoint"
	reasonTooLarge        = "too_large"
	reasonReadError       = "read_error"
	reasonLivemode        = "livemode_mismatch"
	reasonSecretSource    = "secret_source_error"
)

type metrics struct {
	received      prometheus.Counter
	refused       *prometheus.CounterVec
	duplicates    prometheus.Counter
	stored        prometheus.Counter
	storeErrors   prometheus.Counter
	versionSkew   prometheus.Counter
	storeDuration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_relay_received_total", Help: "Webhook requests received from Stripe."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_relay_refused_total", Help: "Webhook requests refused (non-2xx, not stored), by reason."},
			[]string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_relay_duplicates_total", Help: "Verified events already stored (Stripe retries), acknowledged."}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_relay_stored_total", Help: "Verified events newly committed to the store."}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_relay_store_errors_total", Help: "Verified events the store failed to commit (answered 5xx)."}),
		versionSkew: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_relay_api_version_mismatch_total",
			Help: "Verified events rendered in another API version than the operator's (kept)."}),
		storeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stripe_relay_store_duration_seconds", Help: "Time to commit an event (Put), including group-commit wait.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5}}),
	}
	// Every reason starts at 0 so that a rate() over it exists before the first refusal.
	for _, r := range append(stripeapi.RefusalReasons(), reasonUnknownEndpoint, reasonTooLarge, reasonReadError,
		reasonLivemode, reasonSecretSource) {
		m.refused.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.received, m.refused, m.duplicates, m.stored, m.storeErrors,
		m.versionSkew, m.storeDuration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register intake metrics: %w", err)
		}
	}
	return m, nil
}
