package stripeapi

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const labelConnection = "connection"

// OutcomeSuccess is the outcome label of a call that returned no error; failed calls are labelled
// with their Class.
const OutcomeSuccess = "Success"

// Metrics are the package's Prometheus collectors. One Metrics serves every Client (the connection
// is a label); a nil *Metrics records nothing.
//
//	stripe_api_calls_total{connection,resource,method,outcome}       calls of this package's API
//	stripe_api_call_duration_seconds{connection,resource,method}     their duration, budget wait included
//	stripe_api_requests_total{connection,method,code}                HTTP requests (list pages count each)
//	stripe_api_budget_wait_seconds{connection}                       time spent waiting on the token bucket
type Metrics struct {
	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	requests     *prometheus.CounterVec
	budgetWait   *prometheus.HistogramVec
}

// NewMetrics creates the collectors and registers them on reg (the manager passes
// controller-runtime's metrics.Registry; never the global default). Registering twice on the same
// registry reuses the collectors already there.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_api_calls_total",
			Help: "Stripe API calls by resource, method and outcome (Success or the error class).",
		}, []string{labelConnection, "resource", "method", "outcome"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stripe_api_call_duration_seconds",
			Help:    "Duration of Stripe API calls, including the wait for the request budget.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{labelConnection, "resource", "method"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_api_requests_total",
			Help: "HTTP requests sent to Stripe by HTTP method and status code (0: no response).",
		}, []string{labelConnection, "method", "code"}),
		budgetWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stripe_api_budget_wait_seconds",
			Help:    "Time requests waited on the connection's token bucket before being sent.",
			Buckets: []float64{.0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{labelConnection}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.calls, err = register(reg, m.calls); err != nil {
		return nil, err
	}
	if m.callDuration, err = register(reg, m.callDuration); err != nil {
		return nil, err
	}
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.budgetWait, err = register(reg, m.budgetWait); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("stripeapi: register metrics: %w", err)
	}
	return c, nil
}

func (m *Metrics) observeCall(connection, resource, method string, class Class, d time.Duration) {
	if m == nil {
		return
	}
	outcome := OutcomeSuccess
	if class != ClassNone {
		outcome = string(class)
	}
	m.calls.WithLabelValues(connection, resource, method, outcome).Inc()
	m.callDuration.WithLabelValues(connection, resource, method).Observe(d.Seconds())
}

func (m *Metrics) observeRequest(connection, method string, code int) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(connection, method, strconv.Itoa(code)).Inc()
}

func (m *Metrics) observeBudgetWait(connection string, d time.Duration) {
	if m == nil {
		return
	}
	m.budgetWait.WithLabelValues(connection).Observe(d.Seconds())
}
