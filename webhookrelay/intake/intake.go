// Package intake is the webhook relay's front door: an http.Handler for Stripe's POSTs that verifies
// the signature against the endpoint's active secrets, checks the mode, stores the event exactly once
// and acknowledges only what the store committed.
//
// Status codes, and why. Stripe retries every non-2xx delivery for three days, and never re-sends an
// event it got a 2xx for; so a 2xx is a promise that the event is durably stored, and any other answer
// loses nothing while Stripe keeps retrying.
//   - 200: stored now, or already stored (a duplicate: Stripe's retry after a lost answer).
//   - 400: the request cannot be verified (bad signature, stale, wrong mode, not an event). A 2xx would
//     acknowledge something not stored; 400 says the request is at fault, shows in Stripe's Dashboard
//     as the endpoint's error, and keeps 5xx meaning "the relay is unwell" for alerting. If the fault
//     was ours after all (a rotated secret not yet picked up), Stripe's retry verifies.
//   - 404: no such endpoint. 413: body over the limit.
//   - 503: the endpoint's secrets cannot be read now, or it has none yet (retry will likely pass).
//   - 500: the store failed; the event may or may not be committed, and the retry is stored or
//     absorbed as a duplicate, never twice.
package intake

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// DefaultMaxBody bounds a request body: Stripe's event payloads are a few KiB, rarely over 100 KiB.
const DefaultMaxBody int64 = 1 << 20

// Options configure a Handler.
type Options struct {
	Store   store.Store
	Secrets SecretSource
	// Registry receives the intake's metrics (required: no global registry).
	Registry prometheus.Registerer
	// MaxBody bounds the request body (default DefaultMaxBody); beyond it the answer is 413.
	MaxBody int64
	// Tolerance of the signature timestamp (default stripeapi.DefaultWebhookTolerance, 300 s).
	Tolerance time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Destinations returns the outbox rows to commit with a new event (default none).
	Destinations func(key EndpointKey, ev *stripeapi.Event) []string
	// Stored is called after each newly stored event (the operator's feed wakes its waiters).
	Stored func()
	Log    logr.Logger
}

// Handler serves POST /stripe/{namespace}/{endpoint}.
type Handler struct {
	opts Options
	m    *metrics
	mux  *http.ServeMux
}

// New returns a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil || opts.Secrets == nil || opts.Registry == nil {
		return nil, errors.New("intake: Store, Secrets and Registry are required")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Destinations == nil {
		opts.Destinations = func(EndpointKey, *stripeapi.Event) []string { return nil }
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: opts, m: m, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /stripe/{namespace}/{endpoint}", h.serve)
	return h, nil
}

// ServeHTTP implements http.Handler; other paths are 404 and other methods 405 (ServeMux's).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	h.m.received.Inc()
	key := EndpointKey{Namespace: r.PathValue("namespace"), Name: r.PathValue("endpoint")}
	log := h.opts.Log.WithValues("endpoint", key.String())

	secrets, err := h.opts.Secrets.EndpointSecrets(r.Context(), key)
	switch {
	case errors.Is(err, ErrUnknownEndpoint):
		h.refuse(w, log, http.StatusNotFound, reasonUnknownEndpoint, err)
		return
	case err != nil:
		h.refuse(w, log, http.StatusServiceUnavailable, reasonSecretSource, err)
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.refuse(w, log, http.StatusRequestEntityTooLarge, reasonTooLarge, err)
		} else {
			h.refuse(w, log, http.StatusBadRequest, reasonReadError, err)
		}
		return
	}

	ev, err := stripeapi.VerifyEvent(body, r.Header.Get("Stripe-Signature"), secrets.Secrets, h.opts.Tolerance, h.opts.Now())
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, stripeapi.ErrNoSecrets) {
			status = http.StatusServiceUnavailable
		}
		h.refuse(w, log, status, stripeapi.RefusalReason(err), err)
		return
	}
	log = log.WithValues("event", ev.ID, "type", ev.Type)
	if ev.Livemode != secrets.Livemode {
		// Authentic but for the other mode: the endpoint's secret belongs to a connection of the other
		// mode, a misconfiguration that must not feed test data to live modules (or the reverse).
		h.refuse(w, log, http.StatusBadRequest, reasonLivemode, errors.New("event livemode contradicts the connection's mode"))
		return
	}
	if ev.APIVersionMismatch {
		h.m.versionSkew.Inc()
		log.Info("event in another API version, kept", "apiVersion", ev.APIVersion, "want", stripeapi.APIVersion)
	}

	res, err := h.put(r.Context(), key, ev)
	if err != nil {
		h.m.storeErrors.Inc()
		log.Error(err, "store failed, Stripe will retry")
		http.Error(w, "store failed", http.StatusInternalServerError)
		return
	}
	if res == store.Duplicate {
		h.m.duplicates.Inc()
	} else {
		h.m.stored.Inc()
		if h.opts.Stored != nil {
			h.opts.Stored()
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, res.String()+"\n")
}

func (h *Handler) put(ctx context.Context, key EndpointKey, ev *stripeapi.Event) (store.PutResult, error) {
	rec := store.Event{ID: ev.ID, Endpoint: key.String(), Type: ev.Type, Account: ev.Account, Livemode: ev.Livemode,
		APIVersion: ev.APIVersion, ObjectID: ev.ObjectID, Created: ev.Created, ReceivedAt: h.opts.Now(), Payload: ev.Raw}
	start := time.Now()
	res, err := h.opts.Store.Put(ctx, rec, h.opts.Destinations(key, ev))
	h.m.storeDuration.Observe(time.Since(start).Seconds())
	return res, err
}

// refuse answers a request that is not acknowledged. Refusals a sender causes are logged at V(1)
// only: anybody can send them, and the counter is what is watched. Those the relay's configuration
// causes (an endpoint without a secret, e.g. adopted and its secret not yet put in its Secret; the
// cache unreadable; a connection of the other mode) are logged at the default level: a person must act,
// and Stripe keeps retrying meanwhile.
func (h *Handler) refuse(w http.ResponseWriter, log logr.Logger, status int, reason string, err error) {
	h.m.refused.WithLabelValues(reason).Inc()
	level := 1
	if configurationReason(reason) {
		level = 0
	}
	log.V(level).Info("refused", "reason", reason, "status", status, "error", err.Error())
	http.Error(w, reason, status)
}

// configurationReason says a refusal is one a person fixes in the cluster, not the sender.
func configurationReason(reason string) bool {
	switch reason {
	case stripeapi.RefusalReason(stripeapi.ErrNoSecrets), reasonSecretSource, reasonLivemode:
		return true
	}
	return false
}
