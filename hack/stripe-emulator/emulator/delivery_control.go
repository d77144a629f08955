package emulator

import (
	"container/heap"
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Control operations of webhook delivery.

// WebhookOptions returns the delivery configuration.
func (e *Emulator) WebhookOptions() WebhookOptions {
	e.delivery.mu.Lock()
	defer e.delivery.mu.Unlock()
	o := e.delivery.opts
	if o.Retry != nil {
		o.Retry = append([]time.Duration{}, o.Retry...)
	}
	return o
}

// SetWebhookOptions replaces the delivery configuration and re-seeds its
// random source. Pending retries keep their schedule.
func (e *Emulator) SetWebhookOptions(o WebhookOptions) { e.delivery.configure(o) }

// DeliveryFilter selects deliveries; empty fields match all.
type DeliveryFilter struct {
	Endpoint string `json:"endpoint"`
	Event    string `json:"event"`
	Status   string `json:"status"`
}

// Deliveries returns the deliveries (oldest first) matching f.
func (e *Emulator) Deliveries(f DeliveryFilter) []Delivery {
	d := e.delivery
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []Delivery{}
	for _, r := range d.order {
		if (f.Endpoint == "" || r.d.Endpoint == f.Endpoint) && (f.Event == "" || r.d.Event == f.Event) &&
			(f.Status == "" || r.d.Status == f.Status) {
			c := r.d
			c.Attempts = append([]DeliveryAttempt(nil), r.d.Attempts...)
			if r.d.NextAttempt != nil {
				t := *r.d.NextAttempt
				c.NextAttempt = &t
			}
			out = append(out, c)
		}
	}
	return out
}

// DeliveryCounts is how many deliveries of an endpoint are in each state.
type DeliveryCounts struct {
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
	Pending   int `json:"pending"`
}

// DeliverySummary returns the delivery counts per endpoint id.
func (e *Emulator) DeliverySummary() map[string]DeliveryCounts {
	out := map[string]DeliveryCounts{}
	for _, d := range e.Deliveries(DeliveryFilter{}) {
		c := out[d.Endpoint]
		switch d.Status {
		case DeliveryDelivered:
			c.Delivered++
		case DeliveryFailed:
			c.Failed++
		default:
			c.Pending++
		}
		out[d.Endpoint] = c
	}
	return out
}

// RetryDeliveriesNow makes every waiting attempt (first attempts held by
// Delay or reordering, and scheduled retries) due now, the way "Resend"
// does in the Dashboard; it does not wait for them.
func (e *Emulator) RetryDeliveriesNow() {
	d := e.delivery
	d.mu.Lock()
	now := time.Now()
	for _, j := range d.jobs {
		j.due = now
		t := now
		j.rec.d.NextAttempt = &t
	}
	heap.Init(&d.jobs)
	d.mu.Unlock()
	d.signal()
}

// WaitForDeliveries blocks until no delivery is pending (every one
// delivered or failed) or ctx ends.
func (e *Emulator) WaitForDeliveries(ctx context.Context) error {
	d := e.delivery
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		d.mu.Lock()
		busy := d.inflight > 0
		for _, r := range d.order {
			if r.d.Status == DeliveryPending {
				busy = true
				break
			}
		}
		d.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops webhook delivery: pending deliveries are abandoned and
// attempts in flight are cancelled. Start and Listen call it when the
// server closes.
func (e *Emulator) Close() {
	if e.delivery != nil {
		e.delivery.close()
	}
}

// webhookOptionsJSON is WebhookOptions with durations as Go duration
// strings.
type webhookOptionsJSON struct {
	Retry         []string `json:"retry"`
	Timeout       string   `json:"timeout,omitempty"`
	Delay         string   `json:"delay,omitempty"`
	Jitter        string   `json:"jitter,omitempty"`
	DuplicateRate float64  `json:"duplicate_rate"`
	ReorderRate   float64  `json:"reorder_rate"`
	ReorderWindow string   `json:"reorder_window,omitempty"`
	Seed          uint64   `json:"seed"`
	Workers       int      `json:"workers"`
	Disabled      bool     `json:"disabled"`
	// DefaultRetry is set on output when Retry is Stripe's default.
	DefaultRetry bool `json:"default_retry,omitempty"`
}

func webhookOptionsToJSON(o WebhookOptions) webhookOptionsJSON {
	dur := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	out := webhookOptionsJSON{Timeout: dur(o.Timeout), Delay: dur(o.Delay), Jitter: dur(o.Jitter),
		DuplicateRate: o.DuplicateRate, ReorderRate: o.ReorderRate, ReorderWindow: dur(o.ReorderWindow),
		Seed: o.Seed, Workers: o.Workers, Disabled: o.Disabled, Retry: []string{}}
	retry := o.Retry
	if retry == nil {
		retry, out.DefaultRetry = DefaultWebhookRetry(), true
	}
	for _, r := range retry {
		out.Retry = append(out.Retry, r.String())
	}
	return out
}

func (j webhookOptionsJSON) options() (WebhookOptions, error) {
	o := WebhookOptions{DuplicateRate: j.DuplicateRate, ReorderRate: j.ReorderRate, Seed: j.Seed,
		Workers: j.Workers, Disabled: j.Disabled}
	for _, f := range []struct {
		s   string
		dst *time.Duration
	}{{j.Timeout, &o.Timeout}, {j.Delay, &o.Delay}, {j.Jitter, &o.Jitter}, {j.ReorderWindow, &o.ReorderWindow}} {
		if f.s == "" {
			continue
		}
		d, err := time.ParseDuration(f.s)
		if err != nil {
			return o, err
		}
		*f.dst = d
	}
	if j.Retry != nil && !j.DefaultRetry {
		o.Retry = []time.Duration{}
		for _, s := range j.Retry {
			d, err := time.ParseDuration(s)
			if err != nil {
				return o, err
			}
			o.Retry = append(o.Retry, d)
		}
	}
	return o, nil
}

// serveDeliveryControl serves /_emulator/webhooks/...; it reports whether
// op was one of its operations.
func (e *Emulator) serveDeliveryControl(w http.ResponseWriter, r *http.Request, op string) bool {
	switch r.Method + " " + op {
	case "GET webhooks/config":
		writeControl(w, http.StatusOK, webhookOptionsToJSON(e.WebhookOptions()))
	case "POST webhooks/config":
		var in webhookOptionsJSON
		if !readControl(w, r, &in) {
			return true
		}
		o, err := in.options()
		if err != nil {
			controlError(w, err)
			return true
		}
		e.SetWebhookOptions(o)
		writeControl(w, http.StatusOK, webhookOptionsToJSON(e.WebhookOptions()))
	case "GET webhooks/deliveries":
		q := r.URL.Query()
		writeControl(w, http.StatusOK, e.Deliveries(DeliveryFilter{
			Endpoint: q.Get("endpoint"), Event: q.Get("event"), Status: q.Get("status")}))
	case "GET webhooks/summary":
		writeControl(w, http.StatusOK, e.DeliverySummary())
	case "POST webhooks/retry":
		e.RetryDeliveriesNow()
		writeControl(w, http.StatusOK, e.DeliverySummary())
	case "POST webhooks/wait":
		var in struct {
			Timeout string `json:"timeout"`
		}
		if !readControl(w, r, &in) {
			return true
		}
		timeout := 10 * time.Second
		if in.Timeout != "" {
			d, err := time.ParseDuration(in.Timeout)
			if err != nil {
				controlError(w, err)
				return true
			}
			timeout = d
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		if err := e.WaitForDeliveries(ctx); err != nil {
			controlError(w, err)
			return true
		}
		writeControl(w, http.StatusOK, e.DeliverySummary())
	case "GET webhooks/event_types":
		body, _ := json.Marshal(EventTypes())
		writeJSONBytes(w, http.StatusOK, body)
	default:
		return false
	}
	return true
}
