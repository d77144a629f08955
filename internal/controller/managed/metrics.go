package managed

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// Metrics are the operator's metrics about the objects it manages, in the shape of Crossplane's
// managed_resource_* (one place, every kind):
//
//   - stripe_operator_managed_resources{kind,condition,status,reason}: how many objects of a kind have
//     each condition in each status and reason, read from the manager's cache at each scrape (so it is
//     never stale and costs no API call). Ready/Synced False with reason Terminal, or a tenant's
//     Onboarded with RequirementsPastDue, are what the alerts watch.
//   - stripe_operator_managed_resources_total{kind}: how many objects of a kind exist.
//   - stripe_operator_drift_corrected_total{kind}: Updates that brought Stripe back to a spec the
//     operator had already applied (a change made in Stripe, reverted), as opposed to a spec change.
type Metrics struct {
	reader client.Reader
	kinds  []Kind
	log    logr.Logger

	drift      *prometheus.CounterVec
	conditions *prometheus.Desc
	total      *prometheus.Desc
}

// NewMetrics registers the metrics of kinds on reg; reader is the manager's cache.
func NewMetrics(reg prometheus.Registerer, reader client.Reader, log logr.Logger, kinds ...Kind) (*Metrics, error) {
	m := &Metrics{
		reader: reader, kinds: kinds, log: log,
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_operator_drift_corrected_total",
			Help: "Updates that brought Stripe back to a spec already applied: changes made in Stripe (the Dashboard, a script) that the operator reverted.",
		}, []string{"kind"}),
		conditions: prometheus.NewDesc("stripe_operator_managed_resources",
			"Objects of a kind by condition, status and reason (from the manager's cache at scrape time).",
			[]string{"kind", "condition", "status", "reason"}, nil),
		total: prometheus.NewDesc("stripe_operator_managed_resources_total",
			"Objects of a kind (from the manager's cache at scrape time).", []string{"kind"}, nil),
	}
	for _, c := range []prometheus.Collector{m.drift, m} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register resource metrics: %w", err)
		}
	}
	for _, k := range kinds {
		m.drift.WithLabelValues(k.Name) // every kind's series exists from the start (rate() needs it)
	}
	return m, nil
}

// driftCorrected counts one drift reverted on an object of kind (nil Metrics: nothing).
func (m *Metrics) driftCorrected(kind string) {
	if m != nil {
		m.drift.WithLabelValues(kind).Inc()
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.conditions
	ch <- m.total
}

// conditionKey is one series of stripe_operator_managed_resources.
type conditionKey struct{ condition, status, reason string }

// Collect implements prometheus.Collector: it counts each kind's objects in the cache.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, k := range m.kinds {
		list := k.NewList()
		if err := m.reader.List(context.Background(), list); err != nil {
			m.log.Error(err, "count objects for the metrics", "kind", k.Name)
			continue
		}
		counts := map[conditionKey]float64{}
		objects := 0
		for _, obj := range listItems(list) {
			objects++
			for _, c := range obj.GetConditions() {
				counts[conditionKey{c.Type, string(c.Status), c.Reason}]++
			}
		}
		ch <- prometheus.MustNewConstMetric(m.total, prometheus.GaugeValue, float64(objects), k.Name)
		for key, n := range counts {
			ch <- prometheus.MustNewConstMetric(m.conditions, prometheus.GaugeValue, n, k.Name, key.condition, key.status, key.reason)
		}
	}
}

// listItems returns the managed objects of a list of one of the group's kinds.
func listItems(list client.ObjectList) []v1alpha1.Managed {
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil
	}
	out := make([]v1alpha1.Managed, 0, len(items))
	for _, item := range items {
		if obj, ok := item.(v1alpha1.Managed); ok {
			out = append(out, obj)
		}
	}
	return out
}
