package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
)

// sinkServer is a platform module receiving the relay's deliveries: it verifies each with the
// Standard Webhooks Go library and records what it acknowledged.
type sinkServer struct {
	verifier *standardwebhooks.Webhook
	failing  atomic.Bool
	delay    atomic.Int64 // per delivery, in ms
	mu       sync.Mutex
	acked    map[string]int    // webhook-id -> 2xx answered
	accounts map[string]string // webhook-id -> the event's account ("" for the platform's)
	bodies   map[string][]byte // webhook-id -> the last body acknowledged
	bad      int
	server   *httptest.Server
}

func newSinkServer(t *testing.T, secret string) *sinkServer {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	s := &sinkServer{verifier: wh, acked: map[string]int{}, accounts: map[string]string{}, bodies: map[string][]byte{}}
	s.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if d := s.delay.Load(); d > 0 {
			time.Sleep(time.Duration(d) * time.Millisecond)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.verifier.Verify(body, r.Header); err != nil {
			s.bad++
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if s.failing.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var ev struct {
			Account string `json:"account"`
		}
		_ = json.Unmarshal(body, &ev)
		id := r.Header.Get("webhook-id")
		s.acked[id]++
		s.accounts[id] = ev.Account
		s.bodies[id] = body
	}))
	t.Cleanup(s.server.Close)
	return s
}

func (s *sinkServer) snapshot() (acked map[string]int, accounts map[string]string, bad int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acked, accounts = map[string]int{}, map[string]string{}
	for k, v := range s.acked {
		acked[k] = v
	}
	for k, v := range s.accounts {
		accounts[k] = v
	}
	return acked, accounts, s.bad
}

func whsec(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// createSink creates a StripeEventSink (format events) of region on the rig's connection,
// delivering to a new sinkServer, with its signing Secret.
func createSink(t *testing.T, r *relayRig, name string, region v1alpha1.Region) (*v1alpha1.StripeEventSink, *sinkServer) {
	t.Helper()
	return createSinkOfFormat(t, r, name, region, v1alpha1.SinkFormatEvents)
}

func createSinkOfFormat(t *testing.T, r *relayRig, name string, region v1alpha1.Region, format v1alpha1.SinkFormat) (*v1alpha1.StripeEventSink, *sinkServer) {
	t.Helper()
	secret := whsec(t)
	server := newSinkServer(t, secret)
	r.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: name + "-signing"}, StringData: map[string]string{"secret": secret}})
	sink := &v1alpha1.StripeEventSink{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: name},
		Spec: v1alpha1.StripeEventSinkSpec{
			ManagedSpec:      v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: r.Connection}},
			URL:              server.server.URL,
			Region:           region,
			Format:           format,
			SigningSecretRef: v1alpha1.LocalSecretKeySelector{Name: name + "-signing", Key: "secret"},
		},
	}
	r.Create(sink)
	return sink, server
}

// TestDeliveryToSinks pins issue 8 end to end, with the relay as a real process:
//   - region routing: the US connection's events (a US tenant's onboarding, a platform product edit)
//     reach the US sink, every delivery verified by the Standard Webhooks library, and never the EU
//     sink (which would get them all if routing were removed);
//   - the sink's status, written by the relay: Ready/Delivering, delivered counts;
//   - a sink down for a while, then up: everything arrives, each event acknowledged once;
//   - the relay killed with kill -9 while deliveries are in flight: after its restart every event is
//     delivered, and an event is acknowledged twice only if its attempt was in flight at the kill;
//   - a StripeEventReplay of delivered events sends exactly those again, with their original ids,
//     once per request, and reports in its status.
func TestDeliveryToSinks(t *testing.T) {
	r := startRelayRig(t)
	usSink, us := createSink(t, r, "gl-us", v1alpha1.RegionUS)
	_, eu := createSink(t, r, "gl-eu", v1alpha1.RegionEU)
	plan := r.Plan("gold", controllertest.Monthly("monthly", 900))
	r.Create(plan)
	controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

	// settled are the events of the first subtest, long delivered by the time of the replay: the
	// replay picks from them, and none but those it names may arrive again.
	var settled map[string]int
	t.Run("a US tenant's and the platform's events reach the US sink only", func(t *testing.T) {
		r := r.in(t)
		tenant := onboardingTenant(t, r, "acme")
		if _, err := r.Emu.CompleteOnboarding(tenant.Status.AccountID); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Emu.DashboardEdit("", plan.Status.ProductID, map[string]any{"name": "renamed"}); err != nil {
			t.Fatal(err)
		}
		controllertest.Eventually(t, eventDeadline, func() error {
			_, accounts, bad := us.snapshot()
			platform, tenantEvents := 0, 0
			for _, account := range accounts {
				switch account {
				case "":
					platform++
				case tenant.Status.AccountID:
					tenantEvents++
				}
			}
			if bad != 0 || platform == 0 || tenantEvents == 0 {
				return fmt.Errorf("US sink: %d platform events, %d of the tenant, %d unverifiable", platform, tenantEvents, bad)
			}
			return nil
		})
		if acked, _, bad := eu.snapshot(); len(acked)+bad != 0 {
			t.Fatalf("the EU sink got %d deliveries of a US connection", len(acked)+bad)
		}
		controllertest.WaitForCondition(t, env.Client, usSink, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonDelivering)
		controllertest.Eventually(t, 15*time.Second, func() error {
			r.Get(usSink)
			if acked, _, _ := us.snapshot(); usSink.Status.Delivered < int64(len(acked)) || usSink.Status.Pending != 0 {
				return fmt.Errorf("sink status delivered %d pending %d; the sink acknowledged %d", usSink.Status.Delivered, usSink.Status.Pending, len(acked))
			}
			return nil
		})
		settled, _, _ = us.snapshot()
	})

	edit := func(t *testing.T, n int) {
		t.Helper()
		for i := range n {
			if _, err := r.Emu.DashboardEdit("", plan.Status.ProductID, map[string]any{"description": fmt.Sprintf("edit %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// eventsSince are the ids of the platform's events since start, as Stripe lists them: what the
	// US sink must get.
	eventsSince := func(t *testing.T, start time.Time) []string {
		t.Helper()
		events, err := r.Stripe.ListEventsSince(context.Background(), start)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, 0, len(events))
		for _, ev := range events {
			ids = append(ids, ev.ID)
		}
		return ids
	}
	// allAcked waits until the US sink acknowledged every event since start and the relay owes it
	// nothing (its status, from the store), and returns the acknowledgements.
	allAcked := func(t *testing.T, start time.Time) (map[string]int, []string) {
		t.Helper()
		var acked map[string]int
		var ids []string
		controllertest.Eventually(t, 90*time.Second, func() error {
			ids = eventsSince(t, start)
			acked, _, _ = us.snapshot()
			for _, id := range ids {
				if acked[id] == 0 {
					return fmt.Errorf("%s not delivered to the US sink yet (%d events since the start)", id, len(ids))
				}
			}
			r.Get(usSink)
			if usSink.Status.Pending != 0 {
				return fmt.Errorf("the relay still owes %d deliveries", usSink.Status.Pending)
			}
			return nil
		})
		return acked, ids
	}

	t.Run("a sink down for a while gets everything once it is up", func(t *testing.T) {
		start := time.Now().Add(-time.Second)
		us.failing.Store(true)
		edit(t, 5)
		time.Sleep(3 * time.Second)
		controllertest.WaitForCondition(t, env.Client, usSink, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDeliveryFailing)
		us.failing.Store(false)
		acked, ids := allAcked(t, start)
		for _, id := range ids {
			if acked[id] != 1 {
				t.Fatalf("%s acknowledged %d times", id, acked[id])
			}
		}
	})

	t.Run("kill -9 during delivery loses nothing", func(t *testing.T) {
		start := time.Now().Add(-time.Second)
		us.delay.Store(300)
		edit(t, 8)
		time.Sleep(700 * time.Millisecond) // deliveries in flight
		r.restartRelay(t, func() {})
		us.delay.Store(0)
		acked, ids := allAcked(t, start)
		twice := 0
		for _, id := range ids {
			twice += acked[id] - 1
		}
		if maxInFlight := int(v1alpha1.DefaultSinkMaxInFlight); twice > maxInFlight {
			t.Fatalf("%d repeated acknowledgements; at most the %d attempts in flight at the kill may repeat", twice, maxInFlight)
		}
	})

	t.Run("a replay sends exactly the events asked for, once", func(t *testing.T) {
		before, _, _ := us.snapshot()
		var ids []string
		for id := range settled {
			if len(ids) < 3 {
				ids = append(ids, id)
			}
		}
		replay := &v1alpha1.StripeEventReplay{
			ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "again"},
			Spec:       v1alpha1.StripeEventReplaySpec{SinkRef: v1alpha1.LocalObjectReference{Name: usSink.Name}, EventIDs: ids, Selection: v1alpha1.ReplaySelectionAll},
		}
		r.Create(replay)
		controllertest.Eventually(t, 30*time.Second, func() error {
			r.Get(replay)
			if replay.Status.Phase != v1alpha1.ReplayPhaseComplete || replay.Status.Requeued != int64(len(ids)) {
				return fmt.Errorf("replay phase %q requeued %d (%s)", replay.Status.Phase, replay.Status.Requeued, replay.Status.Message)
			}
			return nil
		})
		controllertest.Eventually(t, 30*time.Second, func() error {
			after, _, _ := us.snapshot()
			for _, id := range ids {
				if after[id] != before[id]+1 {
					return fmt.Errorf("%s acknowledged %d times, want %d", id, after[id], before[id]+1)
				}
			}
			return nil
		})
		time.Sleep(2 * time.Second)
		after, _, _ := us.snapshot()
		replayed := map[string]bool{}
		for _, id := range ids {
			replayed[id] = true
		}
		for id := range settled {
			if !replayed[id] && after[id] != before[id] {
				t.Fatalf("%s was sent again without being asked for", id)
			}
			if replayed[id] && after[id] != before[id]+1 {
				t.Fatalf("%s sent %d times more, want once", id, after[id]-before[id])
			}
		}
	})
}
