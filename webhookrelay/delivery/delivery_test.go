package delivery

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

func newSecret(t testing.TB) string {
	t.Helper()
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// testSink is a platform module: it verifies every delivery with the Standard Webhooks library, keeps
// the 2xx it answered per event id, and fails while failing is set.
type testSink struct {
	t        testing.TB
	verifier *standardwebhooks.Webhook
	failing  atomic.Bool
	// failEvery > 0 fails every failEvery-th attempt (500).
	failEvery atomic.Int64
	attempts  atomic.Int64
	// hold keeps each request this long before answering; current and peak count the requests
	// being answered at once.
	hold          time.Duration
	current, peak atomic.Int64
	mu            sync.Mutex
	acked         map[string]int
	seqs          []int64
	bad           int
	server        *httptest.Server
}

func newTestSink(t testing.TB, secret string) *testSink {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	s := &testSink{t: t, verifier: wh, acked: map[string]int{}}
	s.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		now := s.current.Add(1)
		defer s.current.Add(-1)
		for peak := s.peak.Load(); now > peak && !s.peak.CompareAndSwap(peak, now); peak = s.peak.Load() {
		}
		time.Sleep(s.hold)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.verifier.Verify(body, r.Header); err != nil {
			s.bad++
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if s.failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if every := s.failEvery.Load(); every > 0 && s.attempts.Add(1)%every == 0 {
			http.Error(w, "flaky", http.StatusInternalServerError)
			return
		}
		seq, _ := strconv.ParseInt(r.Header.Get(HeaderSequence), 10, 64)
		s.acked[r.Header.Get("webhook-id")]++
		s.seqs = append(s.seqs, seq)
	}))
	t.Cleanup(s.server.Close)
	return s
}

func (s *testSink) snapshot() (acked map[string]int, bad int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.acked))
	for k, v := range s.acked {
		out[k] = v
	}
	return out, s.bad
}

type rig struct {
	store *store.DB
	d     *Deliverer
	stop  func()
}

func start(t *testing.T, sinks []Sink, clk *clocktesting.FakeClock, backoff Backoff) *rig {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "relay.db"), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Store: s, Sinks: StaticSinks(sinks), Registry: prometheus.NewRegistry(), Backoff: backoff, Resync: 50 * time.Millisecond}
	if clk != nil {
		opts.Clock = clk
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Start(ctx); close(done) }()
	r := &rig{store: s, d: d, stop: func() { cancel(); <-done }}
	t.Cleanup(func() { r.stop(); _ = s.Close() })
	return r
}

func (r *rig) put(t *testing.T, n int, at time.Time, destinations ...string) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("evt_%03d", i)
		ev := store.Event{ID: ids[i], Endpoint: "payments/platform", Type: "invoice.paid", Created: at, ReceivedAt: at,
			Payload: fmt.Appendf(nil, `{"id":%q,"object":"event","type":"invoice.paid"}`, ids[i])}
		if _, err := r.store.Put(context.Background(), ev, destinations); err != nil {
			t.Fatal(err)
		}
	}
	r.d.Wake()
	return ids
}

func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fastBackoff() Backoff {
	return Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond, PauseAfter: 5, SinkPause: 20 * time.Millisecond, SinkPauseMax: 200 * time.Millisecond}
}

// TestSinkDownThenUp pins at-least-once through an outage: every event reaches the sink, each
// acknowledged exactly once (nothing was acknowledged and sent again), every delivery verifies with
// the Standard Webhooks library, sequence numbers cover 1..n, and the store ends with all delivered.
func TestSinkDownThenUp(t *testing.T) {
	secret := newSecret(t)
	sink := newTestSink(t, secret)
	sink.failing.Store(true)
	r := start(t, []Sink{{Key: "ns/gl", URL: sink.server.URL, Secrets: []string{secret}, Format: "events", RequestsPerSecond: 1000, MaxInFlight: 8}}, nil, fastBackoff())
	ids := r.put(t, 50, time.Now(), "ns/gl")
	time.Sleep(300 * time.Millisecond) // down for a while: attempts fail, the sink is paused and probed
	if st, _ := r.d.State("ns/gl"); st.ConsecutiveFailures < 5 || st.PausedUntil.IsZero() {
		t.Fatalf("a failing sink was not paused as a whole: %+v", st)
	}
	sink.failing.Store(false)
	eventually(t, 10*time.Second, func() error {
		c, err := r.store.Counts(context.Background(), "ns/gl")
		if err != nil || c.Delivered != int64(len(ids)) {
			return fmt.Errorf("counts %+v, %w", c, err)
		}
		return nil
	})
	acked, bad := sink.snapshot()
	if bad != 0 {
		t.Fatalf("%d deliveries did not verify", bad)
	}
	for _, id := range ids {
		if acked[id] != 1 {
			t.Fatalf("%s acknowledged %d times, want 1", id, acked[id])
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	seen := map[int64]bool{}
	for _, s := range sink.seqs {
		seen[s] = true
	}
	for i := int64(1); i <= int64(len(ids)); i++ {
		if !seen[i] {
			t.Fatalf("sequence %d never delivered", i)
		}
	}
}

// TestDeadLetterAfterHorizon pins the horizon on a fake clock: a sink that answers 500 forever gets
// its deliveries retried with backoff until the retry horizon, then they are dead letters, and
// nothing is attempted for them after.
func TestDeadLetterAfterHorizon(t *testing.T) {
	secret := newSecret(t)
	sink := newTestSink(t, secret)
	sink.failing.Store(true)
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	backoff := Backoff{Base: time.Minute, Max: time.Hour, PauseAfter: 1000, SinkPause: time.Second, SinkPauseMax: time.Second}
	r := start(t, []Sink{{Key: "ns/gl", URL: sink.server.URL, Secrets: []string{secret}, Format: "events", RequestsPerSecond: 1000, RetryHorizon: 6 * time.Hour}}, clk, backoff)
	r.put(t, 3, clk.Now(), "ns/gl")
	eventually(t, 20*time.Second, func() error {
		clk.Step(10 * time.Minute)
		c, err := r.store.Counts(context.Background(), "ns/gl")
		if err != nil || c.Dead != 3 {
			return fmt.Errorf("counts %+v, %w (clock at %s)", c, err, clk.Now())
		}
		return nil
	})
	if elapsed := clk.Now().Sub(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)); elapsed > 8*time.Hour {
		t.Fatalf("dead letters only after %s of a 6h horizon", elapsed)
	}
	// The sink stays down; nothing more may be tried for a dead letter.
	attempts := func() float64 { return testutil.ToFloat64(r.d.metrics.failed.WithLabelValues("ns/gl")) }
	n := attempts()
	clk.Step(24 * time.Hour)
	time.Sleep(200 * time.Millisecond)
	if m := attempts(); m != n {
		t.Fatalf("%v attempts after the dead letters", m-n)
	}
}

// TestRotationSignsWithBoth pins the sink secret's rotation: with two secrets every delivery carries
// both signatures, so a verifier holding only the old one and one holding only the new one both
// accept it.
func TestRotationSignsWithBoth(t *testing.T) {
	oldSecret, newSecretValue := newSecret(t), newSecret(t)
	oldSink, newSink := newTestSink(t, oldSecret), newTestSink(t, newSecretValue)
	sinks := []Sink{
		{Key: "ns/old", URL: oldSink.server.URL, Secrets: []string{oldSecret, newSecretValue}, Format: "events", RequestsPerSecond: 1000},
		{Key: "ns/new", URL: newSink.server.URL, Secrets: []string{oldSecret, newSecretValue}, Format: "events", RequestsPerSecond: 1000},
	}
	r := start(t, sinks, nil, fastBackoff())
	r.put(t, 5, time.Now(), "ns/old", "ns/new")
	for _, s := range []*testSink{oldSink, newSink} {
		eventually(t, 10*time.Second, func() error {
			acked, bad := s.snapshot()
			if bad != 0 || len(acked) != 5 {
				return fmt.Errorf("acked %d, unverifiable %d", len(acked), bad)
			}
			return nil
		})
	}
}

// TestNoSecretNothingSent pins a sink without a usable secret: nothing is attempted (an unsigned
// delivery would be one the sink cannot trust), the rows stay pending.
func TestNoSecretNothingSent(t *testing.T) {
	sink := newTestSink(t, newSecret(t))
	r := start(t, []Sink{{Key: "ns/gl", URL: sink.server.URL, SecretError: "Secret gl-key has no key signingSecret", Format: "events"}}, nil, fastBackoff())
	r.put(t, 2, time.Now(), "ns/gl")
	time.Sleep(300 * time.Millisecond)
	if acked, bad := sink.snapshot(); len(acked)+bad != 0 {
		t.Fatalf("sent without a secret: %d", len(acked)+bad)
	}
	if c, _ := r.store.Counts(context.Background(), "ns/gl"); c.Pending != 2 {
		t.Fatalf("counts %+v", c)
	}
}

// TestRoute pins region routing and the type filter: a tenant's event reaches only sinks of its
// region and connection; an event whose region is unknown is held for every matching sink; a sink of
// another format gets only the types its format turns into something.
func TestRoute(t *testing.T) {
	sinks := []Sink{
		{Key: "ns/eu-gl", Connection: "main", Region: "eu", Format: "events"},
		{Key: "ns/us-gl", Connection: "main", Region: "us", Format: "events"},
		{Key: "ns/eu-invoices", Connection: "main", Region: "eu", Format: "events", EventTypes: []string{"invoice.*"}},
		{Key: "ns/eu-other-conn", Connection: "other", Region: "eu", Format: "events"},
		{Key: "ns/eu-ledger", Connection: "main", Region: "eu", Format: "ledger"},
		{Key: "ns/eu-ledger-payouts", Connection: "main", Region: "eu", Format: "ledger", FormatAccepts: func(typ string) bool { return typ == "payout.paid" }},
	}
	cases := []struct {
		name, region, typ string
		want              string
	}{
		{"an EU tenant's invoice", "eu", "invoice.paid", "[ns/eu-gl ns/eu-invoices]"},
		{"an EU tenant's charge: not for the invoice sink", "eu", "charge.succeeded", "[ns/eu-gl]"},
		{"a US tenant's invoice never reaches an EU sink", "us", "invoice.paid", "[ns/us-gl]"},
		{"undecidable region: held", "", "invoice.paid", "[" + store.Held + "]"},
		{"a region without a sink", "ap", "invoice.paid", "[]"},
		{"a ledger sink gets what its format takes", "eu", "payout.paid", "[ns/eu-gl ns/eu-ledger-payouts]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmt.Sprint(Route(sinks, "main", tc.region, tc.typ)); got != tc.want {
				t.Fatalf("route %s, want %s", got, tc.want)
			}
		})
	}
}

// TestReplayDeliversExactlyTheDeadLetters pins replay of dead letters end to end in the deliverer:
// after the horizon made dead letters, a replay of two of them delivers exactly those two, with their
// original ids, and the third stays dead.
func TestReplayDeliversExactlyTheDeadLetters(t *testing.T) {
	secret := newSecret(t)
	sink := newTestSink(t, secret)
	sink.failing.Store(true)
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	backoff := Backoff{Base: time.Minute, Max: time.Hour, PauseAfter: 1000, SinkPause: time.Second, SinkPauseMax: time.Second}
	r := start(t, []Sink{{Key: "ns/gl", URL: sink.server.URL, Secrets: []string{secret}, Format: "events", RequestsPerSecond: 1000, RetryHorizon: time.Hour}}, clk, backoff)
	ids := r.put(t, 3, clk.Now(), "ns/gl")
	eventually(t, 20*time.Second, func() error {
		clk.Step(10 * time.Minute)
		if c, _ := r.store.Counts(context.Background(), "ns/gl"); c.Dead != 3 {
			return fmt.Errorf("counts %+v", c)
		}
		return nil
	})
	sink.failing.Store(false)
	res, err := r.store.Replay(context.Background(), store.ReplayRequest{ID: "replay-1", Destination: "ns/gl", EventIDs: ids[:2], DeadOnly: true, At: clk.Now()})
	if err != nil || res.Requeued != 2 {
		t.Fatalf("replay %+v, %v", res, err)
	}
	r.d.Wake()
	eventually(t, 10*time.Second, func() error {
		clk.Step(time.Second)
		acked, _ := sink.snapshot()
		if acked[ids[0]] != 1 || acked[ids[1]] != 1 {
			return fmt.Errorf("acked %v", acked)
		}
		return nil
	})
	clk.Step(time.Hour)
	time.Sleep(200 * time.Millisecond)
	if acked, _ := sink.snapshot(); len(acked) != 2 || acked[ids[2]] != 0 {
		t.Fatalf("acked %v: only the two replayed dead letters may be delivered", acked)
	}
	if c, _ := r.store.Counts(context.Background(), "ns/gl"); c.Delivered != 2 || c.Dead != 1 {
		t.Fatalf("counts %+v", c)
	}
}

// TestLoadLedger is a load test with an exact ledger: 1,000 events to two sinks, one of which fails every
// fifth attempt and one that goes down mid-run; at the end, for each sink, events
// accepted = delivered + dead-lettered + still pending, the sink acknowledged exactly the delivered
// ones (distinct ids), and nothing arrived unverifiable. A ledger that does not balance voids the run.
func TestLoadLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	secret := newSecret(t)
	flaky, steady := newTestSink(t, secret), newTestSink(t, secret)
	flaky.failEvery.Store(5)
	sinks := []Sink{
		{Key: "ns/flaky", URL: flaky.server.URL, Secrets: []string{secret}, Format: "events", RequestsPerSecond: 5000, MaxInFlight: 16},
		{Key: "ns/steady", URL: steady.server.URL, Secrets: []string{secret}, Format: "events", RequestsPerSecond: 5000, MaxInFlight: 16},
	}
	r := start(t, sinks, nil, fastBackoff())
	const events = 1000
	for i := range events {
		ev := store.Event{ID: fmt.Sprintf("evt_load%04d", i), Endpoint: "payments/platform", Type: "invoice.paid", Created: time.Now(), ReceivedAt: time.Now(),
			Payload: fmt.Appendf(nil, `{"id":"evt_load%04d"}`, i)}
		if _, err := r.store.Put(context.Background(), ev, []string{"ns/flaky", "ns/steady"}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			r.d.Wake()
		}
		if i == events/2 {
			steady.failing.Store(true)
		}
	}
	time.Sleep(300 * time.Millisecond)
	steady.failing.Store(false)
	r.d.Wake()
	eventually(t, 60*time.Second, func() error {
		for _, key := range []string{"ns/flaky", "ns/steady"} {
			if c, err := r.store.Counts(context.Background(), key); err != nil || c.Pending != 0 {
				return fmt.Errorf("%s: %+v, %w", key, c, err)
			}
		}
		return nil
	})
	for key, s := range map[string]*testSink{"ns/flaky": flaky, "ns/steady": steady} {
		c, err := r.store.Counts(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		acked, bad := s.snapshot()
		if c.Delivered+c.Dead+c.Pending != events {
			t.Fatalf("VOID %s: accepted %d != delivered %d + dead %d + pending %d", key, events, c.Delivered, c.Dead, c.Pending)
		}
		if int64(len(acked)) != c.Delivered || bad != 0 {
			t.Fatalf("%s: the sink acknowledged %d distinct events, the store says %d delivered; %d unverifiable", key, len(acked), c.Delivered, bad)
		}
		t.Logf("%s: %d accepted = %d delivered + %d dead + %d pending", key, events, c.Delivered, c.Dead, c.Pending)
	}
}

// splitFormat makes two payloads of every event, or holds the ones whose id says so.
type splitFormat struct{}

func (splitFormat) Payloads(_ context.Context, _ Sink, row store.Delivery) ([]Payload, error) {
	if row.EventID == "evt_001" {
		return nil, fmt.Errorf("%w: does not balance", ErrHold)
	}
	return []Payload{{ID: row.EventID + "-a", Body: row.Payload}, {ID: row.EventID + "-b", Body: row.Payload}}, nil
}

// TestFormats pins the format hook: each payload is posted under its own id, the row is delivered
// when all were; a held payload is never sent, and its row waits, counted as held.
func TestFormats(t *testing.T) {
	secret := newSecret(t)
	sink := newTestSink(t, secret)
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "relay.db"), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	d, err := New(Options{Store: s, Registry: prometheus.NewRegistry(), Backoff: fastBackoff(), Resync: 50 * time.Millisecond,
		Formats: map[string]Format{"split": splitFormat{}},
		Sinks:   StaticSinks{{Key: "ns/split", URL: sink.server.URL, Secrets: []string{secret}, Format: "split", RequestsPerSecond: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	r := &rig{store: s, d: d}
	r.put(t, 2, time.Now(), "ns/split")
	eventually(t, 10*time.Second, func() error {
		acked, _ := sink.snapshot()
		if acked["evt_000-a"] != 1 || acked["evt_000-b"] != 1 {
			return fmt.Errorf("acked %v", acked)
		}
		if c, _ := s.Counts(context.Background(), "ns/split"); c.Delivered != 1 || c.Pending != 1 || c.Retrying != 1 {
			return fmt.Errorf("counts %+v", c)
		}
		return nil
	})
	if acked, _ := sink.snapshot(); len(acked) != 2 {
		t.Fatalf("acked %v: the held event was sent", acked)
	}
	if n := testutil.ToFloat64(d.metrics.held.WithLabelValues("ns/split")); n < 1 {
		t.Fatalf("held attempts %v", n)
	}
}
