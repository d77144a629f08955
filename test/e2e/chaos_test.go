package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/pgtest"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// balancer is the relay's Service: each request goes to the next replica, skipping a replica that
// refuses the connection (a dead pod's endpoint). A request cut off by a replica's death fails (502),
// as through a real Service: Stripe's retry is what recovers it.
type balancer struct {
	mu       sync.Mutex
	backends []string // base URLs, "" while a replica is down
	next     int
	client   *http.Client
	server   *http.Server
}

// newBalancer serves on addr (host:port).
func newBalancer(t *testing.T, addr string, backends []string) *balancer {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("balancer on %s: %v", addr, err)
	}
	b := &balancer{backends: backends, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	b.server = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.server.Serve(l) }()
	t.Cleanup(func() { _ = b.server.Close() })
	return b
}

func (b *balancer) set(i int, backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends[i] = backend
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	backends := append([]string(nil), b.backends...)
	start := b.next
	b.next++
	b.mu.Unlock()
	for i := range backends {
		target := backends[(start+i)%len(backends)]
		if target == "" {
			continue
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := b.client.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) {
			continue
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		_ = resp.Body.Close()
		return
	}
	http.Error(w, "no replica accepts connections", http.StatusServiceUnavailable)
}

// chaosReplica is one relay replica of the chaos test.
type chaosReplica struct {
	relay *testenv.Relay
	log   *os.File
}

// TestChaosRelayReplicas pins issue 10's chaos: three relay replicas on PostgreSQL behind one
// Service, under a steady load of Stripe events (customers created on the platform account, each a
// customer.created event pushed by the emulator with Stripe's retries), while one replica is killed
// with kill -9, then a second, then both are started again, then PostgreSQL itself is killed and
// restarted. Afterwards:
//   - every event Stripe got a 2xx for is in the store, once (0 acknowledged events lost);
//   - the sink acknowledged every one of them (0 deliveries lost), more than once only for attempts
//     whose answer a kill could have lost (at most the sink's in-flight bound per kill);
//   - the sink's outbox is an exact ledger: accepted = delivered + dead-lettered + pending, with
//     everything delivered;
//   - the operator's feed, through the same Service, still reverts a Dashboard edit.
func TestChaosRelayReplicas(t *testing.T) {
	pg := pgtest.Start(t)
	r := startRelayRigOn(t, pg.DSN)
	r.Emu.SetWebhookOptions(emulator.WebhookOptions{Retry: []time.Duration{
		200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second,
		5 * time.Second, 5 * time.Second, 5 * time.Second, 10 * time.Second, 10 * time.Second,
	}})
	sinkObj, sink := createSink(t, r, "gl-us", v1alpha1.RegionUS)
	plan := r.Plan("gold", controllertest.Monthly("monthly", 900))
	r.Create(plan)
	controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	r.Get(plan)

	// The rig's relay gives way to three replicas; the balancers take its two addresses, so the
	// endpoints (intake) and the manager (feed) reach the replicas through them.
	leaderNS := electionNamespace(t, relayElectionRole, testenv.RelayServiceAccount)
	opts := r.options
	r.relay.Stop(10 * time.Second)
	replicas := make([]*chaosReplica, 3)
	start := func(i int) {
		t.Helper()
		o := opts
		o.DataDir = t.TempDir()
		o.IntakeAddr, o.InternalAddr = "", ""
		o.ExtraArgs = []string{"--leader-elect", "--leader-election-namespace", leaderNS, "--claim-lease", "3s"}
		logFile, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("replica-%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		o.Log = logFile
		relay, err := env.StartRelay(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		replicas[i] = &chaosReplica{relay: relay, log: logFile}
	}
	for i := range replicas {
		start(i)
	}
	t.Cleanup(func() {
		for i, rep := range replicas {
			rep.relay.Stop(10 * time.Second)
			noForbidden(t, fmt.Sprintf("relay replica %d", i), rep.log.Name())
			if t.Failed() {
				if out, err := os.ReadFile(rep.log.Name()); err == nil {
					t.Logf("replica %d log (tail):\n%s", i, tail(string(out), 4000))
				}
			}
			_ = rep.log.Close()
		}
	})
	urls := func(internal bool) []string {
		var out []string
		for _, rep := range replicas {
			out = append(out, map[bool]string{false: rep.relay.IntakeURL, true: rep.relay.InternalURL}[internal])
		}
		return out
	}
	intake := newBalancer(t, opts.IntakeAddr, urls(false))
	internal := newBalancer(t, opts.InternalAddr, urls(true))
	kill := func(i int) {
		intake.set(i, "")
		internal.set(i, "")
		replicas[i].relay.Kill()
	}
	restart := func(i int) {
		_ = replicas[i].log.Close()
		start(i)
		intake.set(i, replicas[i].relay.IntakeURL)
		internal.set(i, replicas[i].relay.InternalURL)
	}

	// The steady load: 20 customers a second, until the chaos is over.
	var created atomic.Int64
	loadCtx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-loadCtx.Done():
				loadDone <- nil
				return
			case <-tick.C:
			}
			if err := createCustomer(loadCtx, r, fmt.Sprintf("chaos-%d@example.com", n)); err != nil && loadCtx.Err() == nil {
				loadDone <- err
				return
			}
			created.Add(1)
		}
	}()
	steps := []struct {
		what string
		do   func()
	}{
		{"kill -9 replica 0", func() { kill(0) }},
		{"kill -9 replica 1", func() { kill(1) }},
		{"restart replicas 0 and 1", func() { restart(0); restart(1) }},
		{"kill -9 PostgreSQL and restart it", func() { pg.Kill(); pg.Restart(t) }},
		{"stop the load", func() {}},
	}
	for _, step := range steps {
		time.Sleep(4 * time.Second)
		t.Logf("%s (%d customers created so far)", step.what, created.Load())
		step.do()
	}
	stopLoad()
	if err := <-loadDone; err != nil {
		t.Fatalf("the load broke: %v", err)
	}

	acknowledged, failedAttempts := waitAcknowledged(t, r)
	db, err := sql.Open("pgx", opts.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	stored := map[string]bool{}
	controllertest.Eventually(t, 90*time.Second, func() error {
		ids, err := storedEventIDs(db)
		if err != nil {
			return err
		}
		stored = ids
		acked, _, bad := sink.snapshot()
		for id := range acknowledged {
			if !stored[id] {
				return fmt.Errorf("acknowledged event %s is not in the store", id)
			}
			if acked[id] == 0 {
				return fmt.Errorf("%s not delivered to the sink yet (%d of %d acknowledged events delivered, %d unverifiable)", id, countIn(acked, acknowledged), len(acknowledged), bad)
			}
		}
		return nil
	})
	acked, _, bad := sink.snapshot()
	duplicates := 0
	for id := range acknowledged {
		duplicates += acked[id] - 1
	}
	// Each kill (two replicas, then PostgreSQL) can lose the answers of the attempts in flight, at
	// most the sink's MaxInFlight across the replicas.
	if bound := 3 * int(v1alpha1.DefaultSinkMaxInFlight); duplicates > bound || bad != 0 {
		t.Errorf("%d duplicate deliveries (at most %d: attempts in flight at the 3 kills), %d unverifiable", duplicates, bound, bad)
	}
	controllertest.Eventually(t, 30*time.Second, func() error {
		return exactLedger(context.Background(), db, sinkObj, acknowledged)
	})
	t.Logf("%d customers created; %d events acknowledged by the relay after %d failed attempts that Stripe retried; %d stored; %d delivered to the sink; %d duplicate deliveries",
		created.Load(), len(acknowledged), failedAttempts, len(stored), countIn(acked, acknowledged), duplicates)

	// The operator's feed came through the chaos: a Dashboard edit is still reverted.
	want := plan.Spec.Product.Name
	if _, err := r.Emu.DashboardEdit("", plan.Status.ProductID, map[string]any{"name": want + " (after the chaos)"}); err != nil {
		t.Fatal(err)
	}
	productNamed(t, r, plan.Status.ProductID, want)
}

// createCustomer creates a customer on the platform account: one customer.created event.
func createCustomer(ctx context.Context, r *relayRig, email string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Emu.URL+"/v1/customers", strings.NewReader(url.Values{"email": {email}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer sk_test_e2e")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("create customer: %s: %s", resp.Status, body)
	}
	return nil
}

// waitAcknowledged waits until the emulator has no platform delivery left to attempt, fails on any
// that Stripe gave up on, and returns the events it delivered (got a 2xx for).
// It also returns how many attempts failed (the chaos's bite: Stripe had to retry).
func waitAcknowledged(t *testing.T, r *relayRig) (acknowledged map[string]bool, failedAttempts int) {
	t.Helper()
	acknowledged = map[string]bool{}
	controllertest.Eventually(t, 90*time.Second, func() error {
		clear(acknowledged)
		pending := 0
		failedAttempts = 0
		for _, d := range r.Emu.Deliveries(emulator.DeliveryFilter{}) {
			if d.EventAccount != "" || d.Duplicate {
				continue
			}
			for _, a := range d.Attempts {
				if a.StatusCode < 200 || a.StatusCode > 299 {
					failedAttempts++
				}
			}
			switch d.Status {
			case emulator.DeliveryDelivered:
				acknowledged[d.Event] = true
			case emulator.DeliveryFailed:
				t.Fatalf("Stripe gave up on %s (%s): %s", d.Event, d.EventType, d.Reason)
			default:
				pending++
			}
		}
		if pending > 0 {
			return fmt.Errorf("%d platform deliveries still being attempted (%d acknowledged)", pending, len(acknowledged))
		}
		return nil
	})
	return acknowledged, failedAttempts
}

func storedEventIDs(db *sql.DB) (map[string]bool, error) {
	rows, err := db.Query(`SELECT id FROM events`)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rows.Err()
}

// exactLedger checks the sink's outbox against what Stripe got a 2xx for and against the sink's
// status (written by whichever replica leads): accepted = delivered + dead-lettered + pending, every
// acknowledged event among the delivered, none dead or pending, and the status counting the same.
func exactLedger(ctx context.Context, db *sql.DB, sink *v1alpha1.StripeEventSink, acknowledged map[string]bool) error {
	rows, err := db.QueryContext(ctx, `SELECT event_id, state FROM outbox WHERE destination = $1`, sink.Namespace+"/"+sink.Name)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	states, counts := map[string]string{}, map[string]int64{}
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return err
		}
		states[id] = state
		counts[state]++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for id := range acknowledged {
		if states[id] != "delivered" {
			return fmt.Errorf("acknowledged event %s: outbox row %q, want delivered", id, states[id])
		}
	}
	accepted := int64(len(states))
	if accepted != counts["delivered"]+counts["dead"]+counts["pending"] || counts["delivered"] != accepted {
		return fmt.Errorf("sink ledger: accepted %d, delivered %d, dead %d, pending %d (%v)", accepted, counts["delivered"], counts["dead"], counts["pending"], counts)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sink), sink); err != nil {
		return err
	}
	if st := sink.Status; st.Delivered != accepted || st.Pending != 0 || st.DeadLettered != 0 {
		return fmt.Errorf("sink status: delivered %d, pending %d, dead %d; the store: %d delivered", st.Delivered, st.Pending, st.DeadLettered, accepted)
	}
	return nil
}

func countIn(acked map[string]int, ids map[string]bool) int {
	n := 0
	for id := range ids {
		if acked[id] > 0 {
			n++
		}
	}
	return n
}
