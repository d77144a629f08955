package main

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/testenv"
	relaykube "github.com/cloudip/stripe-operator/webhookrelay/kube"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// relayReplays runs the relay's replay controller (webhookrelay/kube.Replays, as cmd/relay wires
// it, as the relay's ServiceAccount) on db for namespace ns until the test ends.
func relayReplays(t *testing.T, ns string, db store.Store) {
	t.Helper()
	skip := true
	mgr, err := ctrl.NewManager(env.As(testenv.InstallNamespace, testenv.RelayServiceAccount), ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Controller: config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&relaykube.Replays{Kube: mgr.GetClient(), Store: db}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay's replays: %v", err)
		}
	})
}

var createdName = regexp.MustCompile(`^stripeeventreplay\.payments\.cloudip\.io/(\S+) created: `)

// Pins `kubectl stripe replay` against the relay's own replay controller and store: it creates a
// StripeEventReplay whose spec is exactly what the flags say (event ids, or a range of the events'
// Stripe creation time with --to defaulting to now; dead letters only unless --all), and with --wait
// prints what the relay requeued; without --wait it says how to follow the replay, which status
// then shows. Flags the CRD would refuse, and a sink that does not exist, are errors before
// anything is created.
func TestReplay(t *testing.T) {
	ctx := context.Background()
	ns := controllertest.Namespace(t, env, nil)
	sink := &v1alpha1.StripeEventSink{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders"},
		Spec: v1alpha1.StripeEventSinkSpec{
			ManagedSpec: v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: "platform"}},
			URL:         "https://ledger.cloudip.example/stripe", Region: v1alpha1.RegionUS,
			SigningSecretRef: v1alpha1.LocalSecretKeySelector{Name: "orders-signing", Key: "secret"},
		},
	}
	if err := env.Client.Create(ctx, sink); err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "relay.db"), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	// Four events owed to the sink, an hour apart: three given up on (dead letters), one delivered.
	destination := ns + "/orders"
	t0 := time.Now().Add(-24 * time.Hour).Truncate(time.Second).UTC()
	for i, e := range []struct {
		id   string
		dead bool
	}{{"evt_A1", true}, {"evt_B2", true}, {"evt_C3", false}, {"evt_D4", true}} {
		created := t0.Add(time.Duration(i) * time.Hour)
		if _, err := db.Put(ctx, store.Event{ID: e.id, Endpoint: ns + "/hooks", Type: "invoice.paid", ObjectID: "in_" + e.id,
			Created: created, ReceivedAt: created, Payload: []byte(`{"id":"` + e.id + `"}`)}, []string{destination}); err != nil {
			t.Fatal(err)
		}
		if err := db.Record(ctx, store.Outcome{EventID: e.id, Destination: destination, Delivered: !e.dead, Dead: e.dead, Error: "503", At: created}); err != nil {
			t.Fatal(err)
		}
	}
	relayReplays(t, ns, db)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: t0.Add(d)} }
	const unwaited = "since a duration ago, to now, not waited for"
	created := map[string]string{}

	for _, c := range []struct {
		name    string
		args    []string
		want    v1alpha1.StripeEventReplaySpec
		output  string // the line after "created", a pattern
		wantErr string
	}{
		{
			name: "by id, dead letters only, waited for", args: []string{"orders", "--event", "evt_A1,evt_C3", "--event", "evt_A1", "--wait", "--name", "again"},
			want:   v1alpha1.StripeEventReplaySpec{EventIDs: []string{"evt_A1", "evt_C3"}, Selection: v1alpha1.ReplaySelectionDeadLettered},
			output: regexp.QuoteMeta("Complete: 1 dead letters of sink orders selected, 1 sent again with their original ids (matched 1, requeued 1)"),
		},
		{
			name: "by time, every delivery, waited for",
			args: []string{"sink/orders", "--from", t0.Add(30 * time.Minute).Format(time.RFC3339), "--to", t0.Add(150 * time.Minute).Format(time.RFC3339), "--all", "--wait"},
			want: v1alpha1.StripeEventReplaySpec{From: at(30 * time.Minute), To: at(150 * time.Minute), Selection: v1alpha1.ReplaySelectionAll},
			// B2 (dead) and C3 (delivered): both sent again.
			output: regexp.QuoteMeta("Complete: 2 deliveries of sink orders selected, 2 sent again with their original ids (matched 2, requeued 2)"),
		},
		{
			name: unwaited, args: []string{"orders", "--from", "25h"},
			want:   v1alpha1.StripeEventReplaySpec{Selection: v1alpha1.ReplaySelectionDeadLettered},
			output: regexp.QuoteMeta("follow it with: kubectl stripe status replay/") + `orders-replay-\w+` + regexp.QuoteMeta(" -n "+ns),
		},
		{name: "ids and a range", args: []string{"orders", "--event", "evt_A1", "--from", "1h"}, wantErr: "give either --event or --from/--to, not both"},
		{name: "nothing selected", args: []string{"orders", "--all"}, wantErr: "say what to replay: --event evt_… (repeatable) or --from T [--to T]"},
		{name: "not an event id", args: []string{"orders", "--event", "in_123"}, wantErr: `--event "in_123": want a Stripe event id (evt_…)`},
		{name: "range backwards", args: []string{"orders", "--from", "2026-05-04T12:00:00Z", "--to", "2026-05-04"}, wantErr: "--from 2026-05-04T12:00:00Z is not before --to 2026-05-04T00:00:00Z"},
		{name: "not a time", args: []string{"orders", "--from", "yesterday"}, wantErr: `--from: "yesterday": want an RFC 3339 time`},
		{name: "no such sink", args: []string{"ledger", "--event", "evt_A1"}, wantErr: `StripeEventSink "ledger" not found in namespace ` + ns},
		{name: "not a sink", args: []string{"tenant/orders", "--event", "evt_A1"}, wantErr: "tenant/orders is a StripeTenant, want a StripeEventSink"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := replays(t, ns)
			started := time.Now()
			stdout, stderr, err := plugin(t, append([]string{"replay", "-n", ns}, c.args...)...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one with %q", err, c.wantErr)
				}
				if after := replays(t, ns); len(after) != len(before) {
					t.Errorf("a replay was created by a refused command: %v", after)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s%s", err, stdout, stderr)
			}
			lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
			m := createdName.FindStringSubmatch(lines[0])
			if m == nil || len(lines) != 2 || !regexp.MustCompile("^"+c.output+"$").MatchString(lines[1]) {
				t.Fatalf("output:\n%s\nwant a created line, then %s", stdout, c.output)
			}
			created[c.name] = m[1]
			var replay v1alpha1.StripeEventReplay
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: m[1]}, &replay); err != nil {
				t.Fatal(err)
			}
			want := c.want
			want.SinkRef = v1alpha1.LocalObjectReference{Name: "orders"}
			if want.From == nil && want.EventIDs == nil {
				// --from 25h: from 25 h before the command to its end, in whole seconds.
				if replay.Spec.From == nil || replay.Spec.To == nil {
					t.Fatalf("range %v – %v, want 25 h ago to now", replay.Spec.From, replay.Spec.To)
				}
				if from, to := replay.Spec.From.Time, replay.Spec.To.Time; from.Before(started.Add(-25*time.Hour-time.Second)) || to.Before(started) || to.After(time.Now().Add(time.Second)) {
					t.Fatalf("range %s – %s, want 25 h ago to now", from, to)
				}
				want.From, want.To = replay.Spec.From, replay.Spec.To
			}
			if !equalSpec(replay.Spec, want) {
				t.Errorf("spec %+v, want %+v", replay.Spec, want)
			}
		})
	}

	t.Run("status follows a replay to its end", func(t *testing.T) {
		last := v1alpha1.StripeEventReplay{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: created[unwaited]}}
		controllertest.Eventually(t, 30*time.Second, func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&last), &last); err != nil {
				return err
			}
			if last.Status.Phase != v1alpha1.ReplayPhaseComplete {
				return errString("not carried out yet")
			}
			return nil
		})
		out := mustPlugin(t, "status", "replay/"+last.Name, "-n", ns)
		t.Logf("kubectl stripe status replay/%s -n %s\n%s", last.Name, ns, out)
		// Only D4 is still a dead letter: A1 and B2 were sent again above.
		matchLines(t, out,
			cols("├─ Complete", "True", "Replayed", "1 dead letters of sink orders selected, 1 sent again"),
			regexp.QuoteMeta("├─ Phase Complete: 1 matched, 1 requeued, at "),
			regexp.QuoteMeta("├─ Selection: dead letters of events created from "),
			"^"+cols("└─ StripeEventSink/orders", "Unknown", "no status yet")+"$",
		)
		want := "next: nothing to do: 1 dead letters of sink orders selected, 1 sent again with their original ids; the sink receives them at its own pace (`kubectl stripe status sink/orders -n " + ns + "`)"
		if got := nextLine(t, out); got != want {
			t.Errorf("next line:\n got %s\nwant %s", got, want)
		}
	})
}

// replays lists the namespace's StripeEventReplays.
func replays(t *testing.T, ns string) []v1alpha1.StripeEventReplay {
	t.Helper()
	var list v1alpha1.StripeEventReplayList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func equalSpec(a, b v1alpha1.StripeEventReplaySpec) bool {
	sameTime := func(x, y *metav1.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Unix() == y.Unix()) }
	return a.SinkRef == b.SinkRef && a.Selection == b.Selection && slices.Equal(a.EventIDs, b.EventIDs) && sameTime(a.From, b.From) && sameTime(a.To, b.To)
}

type errString string

func (e errString) Error() string { return string(e) }
