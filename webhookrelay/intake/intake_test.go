package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	secretOld = "whsec_old"
	secretNew = "whsec_new"
	path      = "/stripe/team-a/platform"
)

// flakyStore wraps the real store and fails on demand: before the commit (nothing written) or after
// it (written, but the caller hears an error: a crash between commit and the 2xx).
type flakyStore struct {
	store.Store
	mu                    sync.Mutex
	failBefore, failAfter int
}

func (f *flakyStore) Put(ctx context.Context, ev store.Event, dests []string) (store.PutResult, error) {
	f.mu.Lock()
	before, after := f.failBefore > 0, f.failAfter > 0 && f.failBefore == 0
	if before {
		f.failBefore--
	} else if after {
		f.failAfter--
	}
	f.mu.Unlock()
	if before {
		return 0, errors.New("injected: disk gone before commit")
	}
	res, err := f.Store.Put(ctx, ev, dests)
	if err == nil && after {
		return 0, errors.New("injected: crash after commit")
	}
	return res, err
}

type delivery struct {
	id       string
	livemode bool
	secret   string
	signedAt time.Time
	tamper   bool
	path     string
	big      bool
	// header, when set, rewrites the Stripe-Signature header the delivery would carry.
	header func(signed string) string
	want   int
}

func payload(d delivery) []byte {
	b := fmt.Appendf(nil, `{"id":%q,"object":"event","type":"product.updated","livemode":%t,"created":%d,`+
		`"api_version":%q,"data":{"object":{"id":"prod_1","object":"product","metadata":{"cloudip_uid":"u"}}}}`,
		d.id, d.livemode, now.Unix(), stripeapi.APIVersion)
	if d.big {
		b = append(b[:len(b)-1], []byte(`,"pad":"`+strings.Repeat("x", int(DefaultMaxBody))+`"}`)...)
	}
	return b
}

func (d delivery) send(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	body := payload(d)
	secret, at, p := d.secret, d.signedAt, d.path
	if secret == "" {
		secret = secretNew
	}
	if at.IsZero() {
		at = now
	}
	if p == "" {
		p = path
	}
	header := stripeapi.SignTestPayload(body, secret, at)
	if d.header != nil {
		header = d.header(header)
	}
	if d.tamper {
		body = bytes.Replace(body, []byte("prod_1"), []byte("prod_X"), 1)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+p, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Stripe-Signature", header)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func counter(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == reason) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestIntake(t *testing.T) {
	ok, bad := http.StatusOK, http.StatusBadRequest
	cases := []struct {
		name       string
		pins       string
		secrets    StaticSecrets
		failBefore int
		failAfter  int
		deliveries []delivery
		stored     []string // ids in the store at the end
		counts     map[string]float64
		refused    map[string]float64
	}{
		{name: "valid", pins: "a signed event is acknowledged and stored once",
			deliveries: []delivery{{id: "evt_1", want: ok}}, stored: []string{"evt_1"},
			counts: map[string]float64{"stripe_relay_stored_total": 1, "stripe_relay_received_total": 1}},
		{name: "duplicate delivery", pins: "Stripe's second delivery of an event is acknowledged and absorbed",
			deliveries: []delivery{{id: "evt_1", want: ok}, {id: "evt_1", want: ok}}, stored: []string{"evt_1"},
			counts: map[string]float64{"stripe_relay_stored_total": 1, "stripe_relay_duplicates_total": 1}},
		{name: "reordered deliveries", pins: "events arriving out of order are both stored",
			deliveries: []delivery{{id: "evt_2", want: ok}, {id: "evt_1", want: ok}}, stored: []string{"evt_1", "evt_2"},
			counts: map[string]float64{"stripe_relay_stored_total": 2}},
		{name: "tampered", pins: "a tampered body is refused with 400 and not stored",
			deliveries: []delivery{{id: "evt_1", tamper: true, want: bad}},
			refused:    map[string]float64{"no_valid_signature": 1}},
		{name: "unknown secret", pins: "a signature by a secret the endpoint does not hold is refused",
			deliveries: []delivery{{id: "evt_1", secret: "whsec_stranger", want: bad}},
			refused:    map[string]float64{"no_valid_signature": 1}},
		{name: "rotation", pins: "during a rotation both the old and the new secret are accepted",
			secrets:    StaticSecrets{{"team-a", "platform"}: {Secrets: []string{secretNew, secretOld}}},
			deliveries: []delivery{{id: "evt_1", secret: secretOld, want: ok}, {id: "evt_2", want: ok}},
			stored:     []string{"evt_1", "evt_2"}},
		{name: "stale", pins: "an event signed beyond the tolerance is refused",
			deliveries: []delivery{{id: "evt_1", signedAt: now.Add(-10 * time.Minute), want: bad}},
			refused:    map[string]float64{"too_old": 1}},
		{name: "future", pins: "an event signed beyond the tolerance ahead is refused",
			deliveries: []delivery{{id: "evt_1", signedAt: now.Add(10 * time.Minute), want: bad}},
			refused:    map[string]float64{"from_future": 1}},
		{name: "within tolerance", pins: "the intake's default tolerance is 300 s: signed 4 minutes ago is stored",
			deliveries: []delivery{{id: "evt_1", signedAt: now.Add(-4 * time.Minute), want: ok}}, stored: []string{"evt_1"}},
		{name: "rotation, unknown secret", pins: "during a rotation a third secret still verifies nothing",
			secrets:    StaticSecrets{{"team-a", "platform"}: {Secrets: []string{secretNew, secretOld}}},
			deliveries: []delivery{{id: "evt_1", secret: "whsec_stranger", want: bad}},
			refused:    map[string]float64{"no_valid_signature": 1}},
		{name: "malformed header", pins: "a Stripe-Signature whose t is not a number is refused as malformed, not stored",
			deliveries: []delivery{{id: "evt_1", header: func(h string) string { return strings.Replace(h, "t=", "t=x", 1) }, want: bad}},
			refused:    map[string]float64{"malformed_header": 1}},
		{name: "missing header", pins: "a POST without Stripe-Signature is refused, not stored",
			deliveries: []delivery{{id: "evt_1", header: func(string) string { return "" }, want: bad}},
			refused:    map[string]float64{"no_signature": 1}},
		{name: "test event on a live connection", pins: "the livemode check works both ways",
			secrets:    StaticSecrets{{"team-a", "platform"}: {Secrets: []string{secretNew}, Livemode: true}},
			deliveries: []delivery{{id: "evt_1", want: bad}},
			refused:    map[string]float64{"livemode_mismatch": 1}},
		{name: "live event on a live connection", pins: "a live event verified by a live connection's secret is stored",
			secrets:    StaticSecrets{{"team-a", "platform"}: {Secrets: []string{secretNew}, Livemode: true}},
			deliveries: []delivery{{id: "evt_1", livemode: true, want: ok}}, stored: []string{"evt_1"}},
		{name: "wrong livemode", pins: "a live event on a test-mode connection is refused and not stored",
			deliveries: []delivery{{id: "evt_1", livemode: true, want: bad}},
			refused:    map[string]float64{"livemode_mismatch": 1}},
		{name: "too large", pins: "a body over the limit is refused with 413",
			deliveries: []delivery{{id: "evt_1", big: true, want: http.StatusRequestEntityTooLarge}},
			refused:    map[string]float64{"too_large": 1}},
		{name: "unknown endpoint", pins: "a path no endpoint owns is 404",
			deliveries: []delivery{{id: "evt_1", path: "/stripe/team-b/nope", want: http.StatusNotFound}},
			refused:    map[string]float64{"unknown_endpoint": 1}},
		{name: "no secrets yet", pins: "an endpoint whose secret is not published yet answers 503 (retry later)",
			secrets:    StaticSecrets{{"team-a", "platform"}: {}},
			deliveries: []delivery{{id: "evt_1", want: http.StatusServiceUnavailable}},
			refused:    map[string]float64{"no_secrets": 1}},
		{name: "store fails before commit", pins: "5xx when nothing was committed; Stripe's retry stores it once",
			failBefore: 1,
			deliveries: []delivery{{id: "evt_1", want: http.StatusInternalServerError}, {id: "evt_1", want: ok}},
			stored:     []string{"evt_1"},
			counts: map[string]float64{"stripe_relay_store_errors_total": 1, "stripe_relay_stored_total": 1,
				"stripe_relay_duplicates_total": 0}},
		{name: "store fails after commit", pins: "5xx after a commit; Stripe's retry is absorbed as a duplicate",
			failAfter:  1,
			deliveries: []delivery{{id: "evt_1", want: http.StatusInternalServerError}, {id: "evt_1", want: ok}},
			stored:     []string{"evt_1"},
			counts: map[string]float64{"stripe_relay_store_errors_total": 1, "stripe_relay_stored_total": 0,
				"stripe_relay_duplicates_total": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "relay.db"), store.SQLiteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			secrets := tc.secrets
			if secrets == nil {
				secrets = StaticSecrets{{"team-a", "platform"}: {Secrets: []string{secretNew}}}
			}
			reg := prometheus.NewRegistry()
			h, err := New(Options{Store: &flakyStore{Store: db, failBefore: tc.failBefore, failAfter: tc.failAfter},
				Secrets: secrets, Registry: reg, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			for i, d := range tc.deliveries {
				if got := d.send(t, srv); got != d.want {
					t.Fatalf("%s: delivery %d (%s) = %d, want %d", tc.pins, i, d.id, got, d.want)
				}
			}
			if n, err := db.Count(ctx); err != nil || n != int64(len(tc.stored)) {
				t.Fatalf("%s: %d stored (%v), want %v", tc.pins, n, err, tc.stored)
			}
			for _, id := range tc.stored {
				ev, err := db.Get(ctx, id)
				if err != nil || ev.Endpoint != "team-a/platform" || ev.ObjectID != "prod_1" {
					t.Fatalf("%s: %s = %+v, %v", tc.pins, id, ev, err)
				}
			}
			for name, want := range tc.counts {
				if got := counter(t, reg, name, ""); got != want {
					t.Fatalf("%s: %s = %v, want %v", tc.pins, name, got, want)
				}
			}
			for reason, want := range tc.refused {
				if got := counter(t, reg, "stripe_relay_refused_total", reason); got != want {
					t.Fatalf("%s: refused{%s} = %v, want %v", tc.pins, reason, got, want)
				}
			}
		})
	}
}

// TestIntakeMethodAndRegistry pins the edges of New and routing: GET is 405, and metrics go only to
// the registry given (two handlers on two registries coexist: no globals).
func TestIntakeMethodAndRegistry(t *testing.T) {
	db, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "relay.db"), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	for range 2 {
		h, err := New(Options{Store: db, Secrets: StaticSecrets{}, Registry: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("GET = %d, want 405", rec.Code)
		}
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without store, secrets and registry succeeded")
	}
}
