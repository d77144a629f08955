package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The control API: operations a test, benchmark or demo performs on the
// emulator itself. Each is a Go method here and an HTTP endpoint under
// /_emulator/ (control_http.go) with the same meaning.

// Reset drops every object, event, idempotency key and counter. The
// configuration (clock offset, rate limits, faults, search lag) and the
// platform account id stay.
func (e *Emulator) Reset() {
	e.store.reset()
	e.idem.reset()
	e.stats.reset()
	e.delivery.reset()
}

// ResetStats zeroes the counters only, e.g. between a benchmark's setup and
// its measured phase.
func (e *Emulator) ResetStats() { e.stats.reset() }

// Stats returns a snapshot of the counters.
func (e *Emulator) Stats() Stats { return e.stats.snapshot() }

// SetClock moves the emulator clock to t.
func (e *Emulator) SetClock(t time.Time) { e.clock.set(t) }

// AdvanceClock moves the emulator clock forward by d (expiring idempotency
// keys, indexing objects for search, ageing events).
func (e *Emulator) AdvanceClock(d time.Duration) { e.clock.advance(d) }

// SetFaults replaces the fault rules and re-seeds their random source.
func (e *Emulator) SetFaults(cfg FaultConfig) { e.faults.configure(cfg) }

// Faults returns the current fault configuration.
func (e *Emulator) Faults() FaultConfig { return e.faults.config() }

// SetRateLimits replaces the global and per-endpoint limits; buckets start
// full.
func (e *Emulator) SetRateLimits(global RateLimit, endpoints []EndpointLimit) {
	e.mu.Lock()
	e.rate, e.endpointRates = global, append([]EndpointLimit(nil), endpoints...)
	e.mu.Unlock()
	e.limiter.configure(global, endpoints)
}

// RateLimits returns the current limits.
func (e *Emulator) RateLimits() (RateLimit, []EndpointLimit) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rate, append([]EndpointLimit(nil), e.endpointRates...)
}

// SetSearchLag changes how long objects take to become searchable (0: the
// default; negative: immediately).
func (e *Emulator) SetSearchLag(d time.Duration) {
	d = normalizeLag(d)
	e.mu.Lock()
	e.lag = d
	e.mu.Unlock()
	e.store.setRetain(d)
}

// SearchLag returns the current search indexing lag.
func (e *Emulator) SearchLag() time.Duration { return e.searchLag() }

// DashboardEdit changes an object the way a person editing it in the Stripe
// Dashboard does: the Dashboard calls the same update endpoint with the same
// rules, so the edit runs through the object's update endpoint (spec check
// included) and emits the event that update emits, with no idempotency key.
// account is the account the object lives in ("" for the platform); params
// are the update parameters in their JSON form ({"metadata": {"k": "v"},
// "active": false}). It returns the updated object, or the *Error Stripe
// would have answered.
func (e *Emulator) DashboardEdit(account, id string, params map[string]any) (Object, error) {
	res := e.resourceForID(id)
	if res == nil || res.Path == "" {
		return nil, InvalidRequest("id", "stripe-emulator cannot tell which resource '%s' is", id)
	}
	path := res.Path + "/" + id
	route, pathParams := e.router.Match(http.MethodPost, path)
	if route == nil {
		return nil, InvalidRequest("id", "%ss cannot be edited: stripe-emulator has no POST %s/{id}", res.Object, res.Path)
	}
	body := EncodeForm(params)
	r, err := http.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", "Bearer sk_test_dashboard")
	if account != "" {
		r.Header.Set("Stripe-Account", account)
	}
	acct, connected, aerr := e.resolveAccount(r, "sk_test_dashboard")
	if aerr != nil {
		return nil, aerr
	}
	if e.spec != nil {
		if serr := e.spec.checkSpec(r, []byte(body)); serr != nil {
			return nil, serr
		}
	}
	raw, perr := parseForm(body)
	if perr != nil {
		return nil, perr
	}
	req := &Request{
		ID: "req_" + randomString(14), Method: http.MethodPost, Path: path, Pattern: route.Pattern,
		PathParams: pathParams, Params: NewParams(raw), Account: acct, Connected: connected, FromDashboard: true,
	}
	status, _, respBody := e.run(req, route)
	if status != http.StatusOK {
		return nil, decodeError(status, respBody)
	}
	var out Object
	_ = e.store.Read(acct, e.clock.Now(), func(tx *Tx) error {
		out, _ = tx.Get(res.Object, id)
		return nil
	})
	if out == nil {
		return nil, fmt.Errorf("dashboard edit of %s: object vanished", id)
	}
	return out, nil
}
