package intake

import (
	"bytes"
	"context"

	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// memStore is an in-memory Store for the fuzz target: Put, Get and Count, the rest unused (nil).
type memStore struct {
	store.Store
	mu     sync.Mutex
	events map[string]store.Event
}

func (m *memStore) Put(_ context.Context, ev store.Event, _ []string) (store.PutResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.events[ev.ID]; ok {
		return store.Duplicate, nil
	}
	ev.Payload = bytes.Clone(ev.Payload)
	m.events[ev.ID] = ev
	return store.Stored, nil
}

func (m *memStore) Count(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.events)), nil
}

const fuzzMaxBody = 4096

// FuzzIntake drives the handler end to end with arbitrary bodies and Stripe-Signature headers (sign
// picks how the header is made: 0 the header as given, 1 signed with the new secret then the given
// text appended, 2 signed with the old secret of the rotation, 3 with a stranger's). It pins the
// handler's contract on every input: no panic; an answer only of 200, 400 or 413; 413 exactly when the
// body is over the limit; otherwise 200 exactly when VerifyEvent accepts and the event is test-mode,
// with the answer "stored", the event stored under its id with the endpoint, type and the payload
// byte for byte, and a second delivery answered "duplicate" with nothing more stored; every refusal
// answers its reason (RefusalReason, or livemode_mismatch) and stores nothing. Minimising a new input
// through net/http's instrumented code is slow, so run it with a short minimisation:
//
//	go test -run XXX -fuzz FuzzIntake -fuzztime 30s -fuzzminimizetime 2s ./webhookrelay/intake/
func FuzzIntake(f *testing.F) {
	for _, seed := range []struct {
		body   string
		header string
		sign   uint8
	}{
		{string(eventJSON("evt_fuzz", now)), "", 1},                                           // valid
		{string(eventJSON("evt_fuzz", now)), "", 2},                                           // rotation, old secret
		{string(eventJSON("evt_fuzz", now)), "", 3},                                           // unknown secret
		{string(eventJSON("evt_fuzz", now)), "", 0},                                           // missing header
		{string(eventJSON("evt_fuzz", now)), "t=1,v1=00", 0},                                  // stale and wrong
		{string(eventJSON("evt_fuzz", now)), "garbage", 0},                                    // malformed
		{string(eventJSON("evt_fuzz", now)), ",t=2", 1},                                       // two timestamps
		{string(eventJSON("evt_fuzz", now)), ",v1=00", 1},                                     // an extra wrong signature
		{strings.Replace(string(eventJSON("evt_fuzz", now)), "false", "true", 1), "", 1},      // live event
		{`{"hello":"world"}`, "", 1},                                                          // signed non-event
		{`{"id":"evt_x","type":"t","pad":"` + strings.Repeat("x", fuzzMaxBody) + `"}`, "", 1}, // too large
	} {
		f.Add([]byte(seed.body), seed.header, seed.sign)
	}
	secrets := StaticSecrets{{"team-a", "platform"}: {Secrets: []string{secretNew, secretOld}}}
	// One handler for every input (New registers a dozen metrics: per input it would dominate the
	// cost); the store is emptied for each.
	st := &memStore{}
	h, err := New(Options{Store: st, Secrets: secrets, Registry: prometheus.NewRegistry(), MaxBody: fuzzMaxBody,
		Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, header string, sign uint8) {
		switch sign % 4 {
		case 1:
			header = stripeapi.SignTestPayload(body, secretNew, now) + header
		case 2:
			header = stripeapi.SignTestPayload(body, secretOld, now) + header
		case 3:
			header = stripeapi.SignTestPayload(body, "whsec_stranger", now) + header
		}
		st.events = map[string]store.Event{}
		deliver := func() (int, string) {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.Header.Set("Stripe-Signature", header)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code, rec.Body.String()
		}
		status, answer := deliver()

		wantStatus, wantAnswer := http.StatusOK, "stored\n"
		ev, verr := stripeapi.VerifyEvent(body, header, secrets[EndpointKey{"team-a", "platform"}].Secrets, 0, now)
		switch {
		case len(body) > fuzzMaxBody:
			wantStatus, wantAnswer = http.StatusRequestEntityTooLarge, reasonTooLarge+"\n"
		case verr != nil:
			wantStatus, wantAnswer = http.StatusBadRequest, stripeapi.RefusalReason(verr)+"\n"
		case ev.Livemode:
			wantStatus, wantAnswer = http.StatusBadRequest, reasonLivemode+"\n"
		}
		if status != wantStatus || answer != wantAnswer {
			t.Fatalf("body %q header %q: answered %d %q, want %d %q", body, header, status, answer, wantStatus, wantAnswer)
		}
		if status != http.StatusOK {
			if len(st.events) != 0 {
				t.Fatalf("refused with %d, yet stored %v", status, st.events)
			}
			return
		}
		got, ok := st.events[ev.ID]
		if len(st.events) != 1 || !ok || got.Endpoint != "team-a/platform" || got.Type != ev.Type ||
			got.Account != ev.Account || got.Livemode || got.ObjectID != ev.ObjectID || !bytes.Equal(got.Payload, body) {
			t.Fatalf("body %q: stored %+v, want one event %q with the payload as signed", body, st.events, ev.ID)
		}
		if status, answer := deliver(); status != http.StatusOK || answer != "duplicate\n" || len(st.events) != 1 {
			t.Fatalf("body %q: second delivery %d %q, %d stored; want 200 duplicate, 1", body, status, answer, len(st.events))
		}
	})
}
