package main

// This file is the part of the sample a platform module copies: a net/http handler that takes the
// webhook relay's deliveries (see StripeEventSink in api/v1alpha1 and webhookrelay/delivery). What it
// does, in the order it must be done:
//
//  1. Read the body as bytes and verify it before anything else. The signature covers the exact
//     bytes sent, so it is checked on the raw body, never on JSON re-encoded after decoding.
//  2. Deduplicate by webhook-id, the Stripe event id. The relay delivers at least once (a timeout
//     after the sink processed a delivery, a replay of a range of events) so the same event can come
//     again: it is acknowledged with 200 and not processed twice.
//  3. Process the event, then answer 200. An answer outside 2xx, or none within the sink's
//     spec.delivery.timeout, makes the relay retry with backoff until spec.delivery.retryHorizon.
//
// Order: deliveries carry X-CloudIP-Sequence, their number among this sink's deliveries (1, 2, …). The
// relay sends up to spec.delivery.maxInFlight at once and retries a failed one later, so they do not
// arrive in order; the handler notes a delivery that arrives after a later one. A module whose
// processing depends on order should fetch the object's current state (from Stripe, or from the
// event's data.object when it is newer than what it has) rather than trust the order of arrival.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/cloudip/stripe-operator/hack/internal/whsink"
)

// Headers of a delivery besides the Standard Webhooks ones (webhookrelay/delivery.HeaderSequence and
// HeaderEventType; spelled out here so the sample copies without this module).
const (
	headerSequence  = "X-CloudIP-Sequence"
	headerEventType = "X-CloudIP-Event-Type"
)

// maxBody bounds what is read of a delivery. Stripe events are well under this.
const maxBody = 1 << 20

// Delivery is what the handler recorded of one request, as GET /deliveries lists it.
type Delivery struct {
	ReceivedAt time.Time `json:"receivedAt"`
	// Sequence is X-CloudIP-Sequence (0 when absent or not a number).
	Sequence  int64  `json:"sequence"`
	EventID   string `json:"eventId"`
	EventType string `json:"eventType"`
	// ObjectID and Object are the event's data.object.id and data.object.object (e.g. in_…, invoice).
	ObjectID string `json:"objectId,omitempty"`
	Object   string `json:"object,omitempty"`
	// Verified says a signature matched one of the secrets; Duplicate that the event id was already
	// processed (the delivery was acknowledged and not processed again).
	Verified  bool `json:"verified"`
	Duplicate bool `json:"duplicate"`
	// OutOfOrder says a delivery with a higher sequence arrived before this one; Order says how
	// (a late arrival, or sequences skipped that have not arrived yet).
	OutOfOrder bool   `json:"outOfOrder,omitempty"`
	Order      string `json:"order,omitempty"`
	// Status is the HTTP status answered; Error why a delivery was refused or failed.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

// event is the part of a Stripe event the sample reads.
type event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		Object struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		} `json:"object"`
	} `json:"data"`
}

// Handler takes the relay's deliveries. Set Out (and JSON) before serving; SetSecrets may be called at
// any time (a rotation). It is safe for concurrent use.
type Handler struct {
	// Out receives one line per delivery (nil: nothing is printed).
	Out io.Writer
	// JSON prints each line as a JSON object (a Delivery) instead of text.
	JSON bool
	// Keep bounds how many deliveries are kept for Deliveries and GET /deliveries (0: all).
	Keep int
	// Process is where a module does its work with a verified, new event (nil: nothing beyond
	// printing). An error answers 500, so the relay retries, and the event is not marked processed.
	// body is the verified event JSON; ctx ends when the relay gives up on the request.
	Process func(ctx context.Context, d Delivery, body []byte) error
	// Now is the clock of ReceivedAt (nil: time.Now). Verification uses the library's own clock.
	Now func() time.Time

	whsink.Verifier // SetSecrets (at any time: a rotation) and Verify

	mu sync.Mutex
	// seen holds the event ids processed (or being processed). A real module keeps them in its own
	// database, written in the same transaction as the event's effect and kept for as long as a
	// replay may send the event again; in memory they are lost on restart.
	seen       map[string]bool
	maxSeq     int64
	deliveries []Delivery
}

// ServeHTTP takes one delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "deliveries are POSTs", http.StatusMethodNotAllowed)
		return
	}
	d := Delivery{
		ReceivedAt: h.now(),
		EventID:    r.Header.Get(standardwebhooks.HeaderWebhookID),
		EventType:  r.Header.Get(headerEventType),
	}
	d.Sequence, _ = strconv.ParseInt(r.Header.Get(headerSequence), 10, 64)

	// 1. Verify the raw bytes.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		h.answer(w, d, http.StatusBadRequest, fmt.Errorf("read body: %w", err))
		return
	}
	if err := h.Verify(body, r.Header); err != nil {
		// 400: the relay retries, and dead-letters the delivery after its retry horizon, so a sink
		// whose secret is out of date loses nothing once it is fixed (or the dead letters replayed).
		h.answer(w, d, http.StatusBadRequest, err)
		return
	}
	d.Verified = true
	var ev event
	if err := json.Unmarshal(body, &ev); err == nil {
		d.ObjectID, d.Object = ev.Data.Object.ID, ev.Data.Object.Object
		if d.EventType == "" {
			d.EventType = ev.Type
		}
	}

	// 2. Deduplicate by event id; note the order. A duplicate does not move the order forward.
	h.mu.Lock()
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	if h.seen[d.EventID] {
		h.mu.Unlock()
		d.Duplicate = true
		h.answer(w, d, http.StatusOK, nil)
		return
	}
	h.seen[d.EventID] = true // claimed: a concurrent copy is a duplicate
	h.order(&d)
	h.mu.Unlock()

	// 3. Process, then acknowledge.
	if h.Process != nil {
		if err := h.Process(r.Context(), d, body); err != nil {
			h.mu.Lock()
			delete(h.seen, d.EventID) // not processed: the relay's retry must be taken
			h.mu.Unlock()
			h.answer(w, d, http.StatusInternalServerError, fmt.Errorf("process: %w", err))
			return
		}
	}
	h.answer(w, d, http.StatusOK, nil)
}

// order fills d's order fields from its sequence and the highest seen so far (h.mu held).
func (h *Handler) order(d *Delivery) {
	switch {
	case d.Sequence <= 0:
		d.Order = "no sequence"
	case d.Sequence < h.maxSeq:
		d.OutOfOrder = true
		d.Order = fmt.Sprintf("late: after seq %d", h.maxSeq)
	case d.Sequence > h.maxSeq+1 && h.maxSeq > 0:
		d.Order = fmt.Sprintf("ahead: seq %d not yet received", h.maxSeq+1)
		if d.Sequence > h.maxSeq+2 {
			d.Order = fmt.Sprintf("ahead: seq %d..%d not yet received", h.maxSeq+1, d.Sequence-1)
		}
	}
	h.maxSeq = max(h.maxSeq, d.Sequence)
}

// answer writes the status, records the delivery and prints its line.
func (h *Handler) answer(w http.ResponseWriter, d Delivery, status int, err error) {
	d.Status = status
	if err != nil {
		d.Error = err.Error()
	}
	h.mu.Lock()
	h.deliveries = append(h.deliveries, d)
	if h.Keep > 0 && len(h.deliveries) > h.Keep {
		h.deliveries = h.deliveries[len(h.deliveries)-h.Keep:]
	}
	h.print(d)
	h.mu.Unlock()
	if err != nil {
		http.Error(w, d.Error, status)
		return
	}
	w.WriteHeader(status)
}

// print writes d's line to Out (h.mu held, so lines never interleave).
func (h *Handler) print(d Delivery) {
	if h.Out == nil {
		return
	}
	if h.JSON {
		_ = json.NewEncoder(h.Out).Encode(d)
		return
	}
	_, _ = fmt.Fprintln(h.Out, Line(d))
}

// Line is d as one line of text: time, sequence, event id, event type, object id (object), outcome
// and any order note.
func Line(d Delivery) string {
	outcome := "verified"
	switch {
	case !d.Verified:
		outcome = "REJECTED " + d.Error
	case d.Duplicate:
		outcome = "duplicate"
	case d.Error != "":
		outcome = "verified FAILED " + d.Error
	}
	if d.Order != "" {
		outcome += " (" + d.Order + ")"
	}
	object := dash(d.ObjectID)
	if d.Object != "" {
		object += " (" + d.Object + ")"
	}
	return fmt.Sprintf("%s  seq=%-4d %-28s %-32s %-40s %s",
		d.ReceivedAt.Format("15:04:05.000"), d.Sequence, dash(d.EventID), dash(d.EventType), object, outcome)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Deliveries returns what was recorded, oldest first.
func (h *Handler) Deliveries() []Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Delivery{}, h.deliveries...)
}

// ServeDeliveries answers GET /deliveries: the recorded deliveries as a JSON array, oldest first.
func (h *Handler) ServeDeliveries(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h.Deliveries())
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
