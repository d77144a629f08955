package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// Deliveries as Stripe makes them: twice, out of order, concurrently, and with the answer lost.

var rigSecrets = StaticSecrets{{"team-a", "platform"}: {Secrets: []string{secretNew}}}

// eventJSON is a test-mode product.updated event created at created.
func eventJSON(id string, created time.Time) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"product.updated","livemode":false,"created":%d,`+
		`"api_version":%q,"data":{"object":{"id":"prod_%s","object":"product"}}}`,
		id, created.Unix(), stripeapi.APIVersion, id)
}

// hookStore wraps a Store and runs before ahead of each Put and after once it returned (with its
// result): where a test cuts the connection or kills the process.
type hookStore struct {
	store.Store
	before func(ctx context.Context, ev store.Event)
	after  func(ev store.Event, res store.PutResult, err error)
}

func (h *hookStore) Put(ctx context.Context, ev store.Event, dests []string) (store.PutResult, error) {
	if h.before != nil {
		h.before(ctx, ev)
	}
	res, err := h.Store.Put(ctx, ev, dests)
	if h.after != nil {
		h.after(ev, res, err)
	}
	return res, err
}

// openDB opens the real SQLite store at path, closed at the end of the test.
func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.OpenSQLite(context.Background(), path, store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// serve runs the real handler over st on an httptest server; dests is the outbox of each new event.
func serve(t *testing.T, st store.Store, dests func(EndpointKey, *stripeapi.Event) []string) (*httptest.Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := New(Options{Store: st, Secrets: rigSecrets, Registry: reg, Now: func() time.Time { return now },
		Destinations: dests})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, reg
}

// post delivers body signed with secretNew at now, as Stripe does, and returns the status and the
// answer's body; err is a transport error (no answer).
func post(client *http.Client, url string, body []byte) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Stripe-Signature", stripeapi.SignTestPayload(body, secretNew, now))
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func mustPost(t *testing.T, srv *httptest.Server, body []byte, wantStatus int, wantAnswer string) {
	t.Helper()
	status, answer, err := post(srv.Client(), srv.URL, body)
	if err != nil || status != wantStatus || answer != wantAnswer {
		t.Fatalf("delivery = %d %q (%v), want %d %q", status, answer, err, wantStatus, wantAnswer)
	}
}

func mustStored(t *testing.T, st store.Store, ids ...string) {
	t.Helper()
	ctx := context.Background()
	if n, err := st.Count(ctx); err != nil || n != int64(len(ids)) {
		t.Fatalf("store holds %d events (%v), want %d", n, err, len(ids))
	}
	for _, id := range ids {
		if _, err := st.Get(ctx, id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
}

func mustCounters(t *testing.T, reg *prometheus.Registry, want map[string]float64) {
	t.Helper()
	for name, w := range want {
		if got := counter(t, reg, name, ""); got != w {
			t.Fatalf("%s = %v, want %v", name, got, w)
		}
	}
}

// TestIntakeDuplicateDelivery pins duplicate absorption at the handler: Stripe's second delivery of an
// event answers 200 "duplicate", the event stays stored once with its payload, and the outbox keeps
// the first delivery's rows (the second's destinations, different here, are not added).
func TestIntakeDuplicateDelivery(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "relay.db"))
	var calls atomic.Int64
	srv, reg := serve(t, db, func(EndpointKey, *stripeapi.Event) []string {
		return []string{fmt.Sprintf("sink-%d", calls.Add(1))}
	})
	body := eventJSON("evt_dup", now)
	mustPost(t, srv, body, http.StatusOK, "stored\n")
	mustPost(t, srv, body, http.StatusOK, "duplicate\n")
	mustStored(t, db, "evt_dup")
	ctx := context.Background()
	if out, err := db.Outbox(ctx, "evt_dup"); err != nil || !slices.Equal(out, []string{"sink-1"}) {
		t.Fatalf("outbox after the duplicate = %v, %v; want [sink-1]", out, err)
	}
	if ev, err := db.Get(ctx, "evt_dup"); err != nil || !bytes.Equal(ev.Payload, body) || ev.Seq != 1 {
		t.Fatalf("stored %+v, %v; want the payload as signed, seq 1", ev, err)
	}
	mustCounters(t, reg, map[string]float64{"stripe_relay_stored_total": 1, "stripe_relay_duplicates_total": 1})
}

// TestIntakeReverseOrder pins that order is not assumed: 20 events delivered newest first are all
// stored, each once, each with its own created time, in arrival order (Seq); delivering them all again
// in another order stores nothing more.
func TestIntakeReverseOrder(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "relay.db"))
	srv, reg := serve(t, db, nil)
	const n = 20
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("evt_%02d", i) // created in this order, a minute apart
	}
	created := func(i int) time.Time { return now.Add(time.Duration(i-n) * time.Minute) }
	for i := n - 1; i >= 0; i-- {
		mustPost(t, srv, eventJSON(ids[i], created(i)), http.StatusOK, "stored\n")
	}
	mustStored(t, db, ids...)
	for i, id := range ids {
		ev, err := db.Get(ctx, id)
		if err != nil || !ev.Created.Equal(created(i)) || ev.Seq != int64(n-i) {
			t.Fatalf("%s = created %v seq %d (%v), want created %v seq %d", id, ev.Created, ev.Seq, err, created(i), n-i)
		}
	}
	for _, i := range []int{3, 0, 19, 7, 12, 1, 18, 2, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16, 17} {
		mustPost(t, srv, eventJSON(ids[i], created(i)), http.StatusOK, "duplicate\n")
	}
	mustStored(t, db, ids...)
	mustCounters(t, reg, map[string]float64{"stripe_relay_stored_total": n, "stripe_relay_duplicates_total": n})
}

// TestIntakeConcurrentDuplicates pins exactly-once through the handler when one event arrives on many
// connections at once (Stripe's retry racing a slow first delivery, two relay pods' worth of
// requests): all answer 200, exactly one "stored", the rest "duplicate", one row and one outbox set.
func TestIntakeConcurrentDuplicates(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "relay.db"))
	srv, reg := serve(t, db, func(EndpointKey, *stripeapi.Event) []string { return []string{"gl", "notifier"} })
	const n = 32
	body := eventJSON("evt_race", now)
	answers := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			status, answer, err := post(srv.Client(), srv.URL, body)
			if err != nil || status != http.StatusOK {
				t.Errorf("delivery %d = %d %q (%v), want 200", i, status, answer, err)
			}
			answers[i] = answer
		})
	}
	wg.Wait()
	stored := 0
	for _, a := range answers {
		switch a {
		case "stored\n":
			stored++
		case "duplicate\n":
		default:
			t.Fatalf("answer %q, want stored or duplicate", a)
		}
	}
	if stored != 1 {
		t.Fatalf("%d deliveries stored the event, want exactly 1 (%q)", stored, answers)
	}
	mustStored(t, db, "evt_race")
	if out, err := db.Outbox(context.Background(), "evt_race"); err != nil || !slices.Equal(out, []string{"gl", "notifier"}) {
		t.Fatalf("outbox %v, %v; want [gl notifier]", out, err)
	}
	mustCounters(t, reg, map[string]float64{"stripe_relay_stored_total": 1, "stripe_relay_duplicates_total": n - 1})
}

// TestIntakeAnswerLostAfterCommit pins "a crash after the commit but before the 2xx": the connection
// is cut right after Put committed, so Stripe never hears the 200 and retries; the retry is answered
// 200 "duplicate" and the event is stored once, with its outbox as first committed.
func TestIntakeAnswerLostAfterCommit(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "relay.db"))
	var srv *httptest.Server
	var cuts atomic.Int64
	st := &hookStore{Store: db, after: func(_ store.Event, res store.PutResult, err error) {
		if err == nil && res == store.Stored && cuts.Add(1) == 1 {
			srv.CloseClientConnections() // the committed event's answer never reaches Stripe
		}
	}}
	srv, reg := serve(t, st, func(EndpointKey, *stripeapi.Event) []string { return []string{"gl"} })
	body := eventJSON("evt_lost", now)
	if status, answer, err := post(srv.Client(), srv.URL, body); err == nil {
		t.Fatalf("first delivery answered %d %q, want the connection cut", status, answer)
	}
	mustStored(t, db, "evt_lost") // committed before the cut
	mustPost(t, srv, body, http.StatusOK, "duplicate\n")
	mustStored(t, db, "evt_lost")
	if out, _ := db.Outbox(context.Background(), "evt_lost"); !slices.Equal(out, []string{"gl"}) {
		t.Fatalf("outbox %v, want [gl]", out)
	}
	if cuts.Load() != 1 {
		t.Fatalf("%d Puts stored, want 1 (the retry must be a duplicate)", cuts.Load())
	}
	mustCounters(t, reg, map[string]float64{"stripe_relay_duplicates_total": 1})
}

// TestIntakeStoreClosedBeforeCommit pins "a crash before the commit" with the real store: a delivery
// that reaches a closed store is answered 500 (never 2xx) and nothing is written; after the store is
// reopened from the same file, Stripe's retry is stored, once.
func TestIntakeStoreClosedBeforeCommit(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "relay.db")
	db, err := store.OpenSQLite(context.Background(), dbPath, store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var putErr error
	st := &hookStore{Store: db, after: func(_ store.Event, _ store.PutResult, err error) { putErr = err }}
	srv, reg := serve(t, st, nil)
	body := eventJSON("evt_closed", now)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	mustPost(t, srv, body, http.StatusInternalServerError, "store failed\n")
	if !errors.Is(putErr, store.ErrClosed) {
		t.Fatalf("Put on the closed store: %v, want ErrClosed", putErr)
	}
	mustCounters(t, reg, map[string]float64{"stripe_relay_store_errors_total": 1, "stripe_relay_stored_total": 0})

	reopened := openDB(t, dbPath)
	mustStored(t, reopened) // nothing was written
	srv2, reg2 := serve(t, reopened, nil)
	mustPost(t, srv2, body, http.StatusOK, "stored\n")
	mustPost(t, srv2, body, http.StatusOK, "duplicate\n")
	mustStored(t, reopened, "evt_closed")
	mustCounters(t, reg2, map[string]float64{"stripe_relay_stored_total": 1, "stripe_relay_duplicates_total": 1})
}

// TestIntakeClientGoneDuringPut pins the other "before the 2xx" path: the client disconnects before its
// Put reaches the store, so Put runs with a cancelled context and may report failure (not handed to
// the writer, or handed over and committed anyway). Whichever happened, nothing was acknowledged, and
// the retry answers 200 "stored" if the first attempt left nothing, "duplicate" if it committed: the
// event is stored exactly once.
func TestIntakeClientGoneDuringPut(t *testing.T) {
	for attempt := range 20 { // SQLite.Put's selects pick at random: cover its outcomes
		t.Run(fmt.Sprint(attempt), func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t, filepath.Join(t.TempDir(), "relay.db"))
			var srv *httptest.Server
			var first atomic.Bool
			firstDone := make(chan error, 1)
			st := &hookStore{
				before: func(ctx context.Context, _ store.Event) {
					if first.Load() {
						return
					}
					srv.CloseClientConnections()
					select {
					case <-ctx.Done(): // the server saw the connection go and cancelled the request
					case <-time.After(5 * time.Second):
						t.Error("request context not cancelled after the client's connection was closed")
					}
				},
				after: func(_ store.Event, _ store.PutResult, err error) {
					if first.CompareAndSwap(false, true) {
						firstDone <- err
					}
				},
				Store: db,
			}
			srv, _ = serve(t, st, nil)
			body := eventJSON("evt_gone", now)
			if status, answer, err := post(srv.Client(), srv.URL, body); err == nil {
				t.Fatalf("first delivery answered %d %q, want the connection cut", status, answer)
			}
			putErr := <-firstDone
			if putErr != nil && !errors.Is(putErr, context.Canceled) {
				t.Fatalf("first Put: %v, want nil or context.Canceled", putErr)
			}
			// nil means committed; an error leaves it open (a batch handed to the writer before the
			// cancellation may still commit, possibly together with the retry's Put).
			n, err := db.Count(ctx)
			if err != nil || (putErr == nil && n != 1) {
				t.Fatalf("after the first Put (%v): %d stored (%v)", putErr, n, err)
			}
			want := "stored\n"
			if n == 1 {
				want = "duplicate\n"
			}
			status, answer, err := post(srv.Client(), srv.URL, body)
			if err != nil || status != http.StatusOK || (answer != want && (n != 0 || answer != "duplicate\n")) {
				t.Fatalf("retry = %d %q (%v), want 200 %q (first Put: %v, %d stored)", status, answer, err, want, putErr, n)
			}
			mustStored(t, db, "evt_gone")
		})
	}
}
