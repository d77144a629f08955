package main

// This file is the part a general-ledger module copies: a net/http handler that takes the webhook
// relay's deliveries to a `format: ledger` StripeEventSink, one POST per ledger record. What it does,
// in the order it must be done:
//
//  1. Read the body as bytes and verify it (Standard Webhooks) before anything else: the signature
//     covers the exact bytes sent.
//  2. Decode the record and refuse what cannot be posted: another schema than cloudip.ledger/v1, a
//     record whose id is not the delivery's webhook-id, a deposit whose lines do not sum to it. A
//     refusal answers 4xx and marks nothing: the relay retries and dead-letters the delivery, and a
//     replay brings it back once the consumer is fixed.
//  3. Deduplicate by the record id (= webhook-id). It is derived from the fact recorded, not from the
//     event that reported it: a duplicate delivery, a replay, or a second event about the same fact
//     (payout.paid and payout.reconciliation_completed both give the deposit) carries the same id, and
//     is acknowledged with 200 and posted nothing twice.
//  4. Post the record, then answer 200.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/cloudip/stripe-operator/hack/internal/whsink"
)

// maxBody bounds what is read of a delivery; a deposit of a few thousand lines is well under it.
const maxBody = 8 << 20

// Posted is a record the consumer posted, as GET /records lists it.
type Posted struct {
	ReceivedAt time.Time `json:"receivedAt"`
	Record     Record    `json:"record"`
	// Duplicates counts the deliveries of the same record id after this one: acknowledged, not posted.
	Duplicates int `json:"duplicates"`
}

// Handler takes the relay's ledger deliveries. Set Out before serving; SetSecrets may be called at any
// time (a rotation). It is safe for concurrent use.
type Handler struct {
	// Out receives what the consumer prints (nil: nothing).
	Out io.Writer
	// Keep bounds how many posted records GET /records keeps (0: all). The ids seen are all kept.
	Keep int
	// Post is where a module writes the record to its ledger (nil: printing is the posting). An error
	// answers 500, so the relay retries, and the id is not marked posted.
	Post func(ctx context.Context, r Record, body []byte) error
	// Now is the clock of ReceivedAt and the printed time (nil: time.Now).
	Now func() time.Time

	whsink.Verifier // SetSecrets (at any time: a rotation) and Verify

	mu sync.Mutex
	// seen holds the record ids posted (or being posted). A real ledger keeps them in its database,
	// in the same transaction as the posting, for good: a replay may send a record months later.
	seen   map[string]bool
	posted []*Posted
	byID   map[string]*Posted
}

// ServeHTTP takes one delivery: one ledger record.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "deliveries are POSTs", http.StatusMethodNotAllowed)
		return
	}
	at := h.now()
	id := r.Header.Get(standardwebhooks.HeaderWebhookID)

	// 1. Verify the raw bytes.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		h.refuse(w, at, id, http.StatusBadRequest, fmt.Errorf("read body: %w", err))
		return
	}
	if err := h.Verify(body, r.Header); err != nil {
		h.refuse(w, at, id, http.StatusBadRequest, err)
		return
	}

	// 2. Decode and check what is to be posted.
	var rec Record
	if err := json.Unmarshal(body, &rec); err != nil {
		h.refuse(w, at, id, http.StatusBadRequest, fmt.Errorf("not a ledger record: %w", err))
		return
	}
	if err := rec.check(id); err != nil {
		h.refuse(w, at, id, http.StatusBadRequest, err)
		return
	}
	if rec.Kind == kindDeposit {
		if t := Sum(rec); !t.Balanced {
			// The relay holds a deposit that does not balance; one that gets here anyway is not posted.
			h.refuse(w, at, id, http.StatusUnprocessableEntity, fmt.Errorf("deposit %s does not balance: %s", rec.Payout, t.Problem))
			return
		}
	}

	// 3. Deduplicate by the record id.
	h.mu.Lock()
	if h.seen == nil {
		h.seen, h.byID = map[string]bool{}, map[string]*Posted{}
	}
	if h.seen[rec.ID] {
		if p := h.byID[rec.ID]; p != nil {
			p.Duplicates++
		}
		h.printf(at, "%s  duplicate of record %s (%s%s, from %s %s): already posted, not posted again",
			whose(rec), short(rec.ID), rec.Kind, about(rec), rec.EventType, rec.EventID)
		h.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	h.seen[rec.ID] = true // claimed: a concurrent copy is a duplicate
	h.mu.Unlock()

	// 4. Post, then acknowledge.
	if h.Post != nil {
		if err := h.Post(r.Context(), rec, body); err != nil {
			h.mu.Lock()
			delete(h.seen, rec.ID) // not posted: the relay's retry must be taken
			h.mu.Unlock()
			h.refuse(w, at, id, http.StatusInternalServerError, fmt.Errorf("post: %w", err))
			return
		}
	}
	h.mu.Lock()
	p := &Posted{ReceivedAt: at, Record: rec}
	h.posted = append(h.posted, p)
	h.byID[rec.ID] = p
	if h.Keep > 0 && len(h.posted) > h.Keep {
		for _, old := range h.posted[:len(h.posted)-h.Keep] {
			delete(h.byID, old.Record.ID)
		}
		h.posted = h.posted[len(h.posted)-h.Keep:]
	}
	h.printf(at, "%s", Text(rec))
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// about names the Stripe object the record is about, for the duplicate line: " po_1", " in_1", ….
func about(r Record) string {
	var id string
	switch {
	case r.Kind == kindDeposit || strings.HasPrefix(r.Kind, "payout_"):
		id = r.Payout
	case r.Kind == "refund":
		id = r.Refund
	case strings.HasPrefix(r.Kind, "dispute_"):
		id = r.Dispute
	case strings.HasPrefix(r.Kind, "invoice_"):
		id = r.Invoice
	default:
		id = r.Charge
	}
	if id == "" {
		return ""
	}
	return " " + id
}

// refuse answers a delivery that is not posted and says why.
func (h *Handler) refuse(w http.ResponseWriter, at time.Time, id string, status int, err error) {
	h.mu.Lock()
	h.printf(at, "REFUSED %d webhook-id %s: %v", status, dash(short(id)), err)
	h.mu.Unlock()
	http.Error(w, err.Error(), status)
}

// printf writes one entry to Out, prefixed with the time (h.mu held, so entries never interleave).
func (h *Handler) printf(at time.Time, format string, args ...any) {
	if h.Out == nil {
		return
	}
	_, _ = fmt.Fprintf(h.Out, "%s  %s\n", at.Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// Records returns the posted records, oldest first.
func (h *Handler) Records() []Posted {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Posted, 0, len(h.posted))
	for _, p := range h.posted {
		out = append(out, *p)
	}
	return out
}

// ServeRecords answers GET /records: the posted records as a JSON array, oldest first.
func (h *Handler) ServeRecords(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h.Records())
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
