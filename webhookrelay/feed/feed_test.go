package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

func openStore(t *testing.T) *store.DB {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "relay.db"), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// payload is a Stripe event as the emulator renders it.
func payload(id, typ, account string, object map[string]any, idempotencyKey any) []byte {
	ev := map[string]any{"id": id, "object": "event", "type": typ, "api_version": stripeapi.APIVersion, "created": 1764590400,
		"livemode": false, "data": map[string]any{"object": object}, "request": map[string]any{"id": "req_1", "idempotency_key": idempotencyKey}}
	if account != "" {
		ev["account"] = account
	}
	raw, _ := json.Marshal(ev)
	return raw
}

func put(t *testing.T, s store.Store, signal *Signal, id string, raw []byte) {
	t.Helper()
	ev, err := stripeapi.DecodeEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), store.Event{ID: id, Endpoint: "payments/platform", Type: ev.Type, Account: ev.Account,
		ObjectID: ev.ObjectID, Created: ev.Created, ReceivedAt: time.Now(), Payload: raw}, nil); err != nil {
		t.Fatal(err)
	}
	signal.Notify()
}

// TestNotificationOf pins which stored events reach the operator and what they carry: objects it owns
// (by their tags, or by the connected account), never the echo of its own writes, nothing for the
// objects of the platform's other modules.
func TestNotificationOf(t *testing.T) {
	tags := map[string]any{stripeapi.MetadataKeyKind: "BillingPlan", stripeapi.MetadataKeyName: "team-a/gold", stripeapi.MetadataKeyUID: "uid-1"}
	cases := []struct {
		name   string
		raw    []byte
		want   bool
		expect func(n Notification) string
	}{
		{"a Dashboard edit of a tagged product", payload("evt_1", "product.updated", "", map[string]any{"id": "prod_1", "object": "product", "metadata": tags}, nil), true,
			func(n Notification) string {
				if n.OwnerKind != "BillingPlan" || n.OwnerName != "team-a/gold" || n.OwnerUID != "uid-1" || n.ObjectID != "prod_1" {
					return fmt.Sprintf("owner %s %s %s, object %s", n.OwnerKind, n.OwnerName, n.OwnerUID, n.ObjectID)
				}
				return ""
			}},
		{"the operator's own write", payload("evt_2", "product.updated", "", map[string]any{"id": "prod_1", "object": "product", "metadata": tags}, stripeapi.IdempotencyKey("uid-1", 1, "update-product")), false, nil},
		{"a connected account's onboarding, by Stripe itself", payload("evt_3", "account.updated", "acct_9", map[string]any{"id": "acct_9", "object": "account"}, nil), true,
			func(n Notification) string {
				if n.Account != "acct_9" || n.ObjectType != "account" {
					return fmt.Sprintf("account %q type %q", n.Account, n.ObjectType)
				}
				return ""
			}},
		{"an invoice, found by its customer", payload("evt_4", "invoice.paid", "", map[string]any{"id": "in_1", "object": "invoice", "customer": "cus_7"}, nil), true,
			func(n Notification) string {
				if n.Customer != "cus_7" {
					return "customer " + n.Customer
				}
				return ""
			}},
		{"a charge: the sinks' business, not the operator's", payload("evt_5", "charge.succeeded", "acct_9", map[string]any{"id": "ch_1", "object": "charge"}, nil), false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := notificationOf(store.Event{Seq: 7, Endpoint: "payments/platform", Payload: tc.raw})
			if ok != tc.want {
				t.Fatalf("notified = %v, want %v", ok, tc.want)
			}
			if ok && (n.Seq != 7 || n.Endpoint != "payments/platform") {
				t.Fatalf("seq %d endpoint %q", n.Seq, n.Endpoint)
			}
			if tc.expect != nil {
				if problem := tc.expect(n); problem != "" {
					t.Fatal(problem)
				}
			}
		})
	}
}

// TestFollowerReadsWhatIsStoredAfterItStarts pins the feed end to end over HTTP: the follower starts
// at the store's end (what was stored before is not replayed), a stored event wakes its long poll
// (no wait for the timeout), own-write echoes are passed over, and its cursor moves past them.
func TestFollowerReadsWhatIsStoredAfterItStarts(t *testing.T) {
	s := openStore(t)
	signal := &Signal{}
	tagged := map[string]any{"id": "prod_1", "object": "product", "metadata": map[string]any{stripeapi.MetadataKeyKind: "BillingPlan", stripeapi.MetadataKeyName: "team-a/gold"}}
	put(t, s, signal, "evt_before", payload("evt_before", "product.updated", "", tagged, nil))

	srv, err := NewServer(s, signal, prometheus.NewRegistry(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	http := httptest.NewServer(srv)
	defer http.Close()

	var mu sync.Mutex
	var got []string
	answered := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &Follower{URL: http.URL, Wait: 20 * time.Second, Answered: func() { answered <- struct{}{} },
		Handle: func(_ context.Context, ns []Notification) error {
			mu.Lock()
			defer mu.Unlock()
			for _, n := range ns {
				got = append(got, n.EventID)
			}
			return nil
		}}
	done := make(chan struct{})
	go func() { _ = f.Start(ctx); close(done) }()
	<-answered // the first answer: the cursor at the store's end

	// The poll waits 20 s, the test 10: only the signal can bring the events in time.
	put(t, s, signal, "evt_echo", payload("evt_echo", "product.updated", "", tagged, stripeapi.IdempotencyKey("u", 1, "update-product")))
	put(t, s, signal, "evt_edit", payload("evt_edit", "product.updated", "", tagged, nil))
	deadline := time.After(10 * time.Second)
	for {
		mu.Lock()
		n := strings.Join(got, ",")
		mu.Unlock()
		if n == "evt_edit" {
			break
		}
		select {
		case <-answered:
		case <-deadline:
			t.Fatalf("follower got %q, want evt_edit only", n)
		}
	}
	cancel()
	<-done
}

func testLogger(t *testing.T) logr.Logger { return testr.New(t) }
