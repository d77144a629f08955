// Package backfill closes the relay's gaps: on start and periodically it lists, through each
// connection's API key, the events Stripe keeps (30 days) since where the last complete listing of
// that source ended, and stores those the relay does not have, as if they had been delivered to the
// endpoint that would have received them. A relay that was down (or an event Stripe gave up
// delivering) therefore misses nothing within Stripe's window; duplicates are absorbed by event id.
//
// Sources: a connection's platform account (for its platform endpoints), and each connected account of
// a tenant on that connection (for its Connect endpoints: Stripe lists a connected account's events
// only with its Stripe-Account header).
package backfill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// Defaults.
const (
	DefaultInterval = 10 * time.Minute
	// DefaultFirstWindow is how far back a source never listed before is read: Stripe retries a
	// failed delivery for three days, so a relay that replaces another (a new volume) still gets what
	// the old one may have refused in that time.
	DefaultFirstWindow = 72 * time.Hour
	// overlap re-reads the end of the last listing: an event may be listed a little after its
	// created time (Stripe's list is eventually consistent, and clocks differ).
	overlap = 5 * time.Minute
)

// Backfiller lists and stores missed events.
type Backfiller struct {
	Kube        client.Reader
	Stripe      stripeconn.ClientSource
	Store       store.Store
	Interval    time.Duration
	FirstWindow time.Duration
	// Destinations routes a backfilled event as the intake routes a delivered one (its sinks' outbox
	// rows are committed with it); nil: none.
	Destinations func(endpoint string, ev *stripeapi.Event) []string
	// Stored is called after a run that stored events (the operator's feed and the deliverer wake).
	Stored func()
	Now    func() time.Time
	Log    logr.Logger

	backfilled prometheus.Counter
	failures   prometheus.Counter
}

// Register creates the backfill's metrics on registry.
func (b *Backfiller) Register(registry prometheus.Registerer) error {
	b.backfilled = prometheus.NewCounter(prometheus.CounterOpts{Name: "stripe_relay_backfilled_total",
		Help: "Events stored by backfill: listed from /v1/events and missing from the store."})
	b.failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "stripe_relay_backfill_failures_total",
		Help: "Backfill listings of one source that failed (retried at the next run)."})
	for _, c := range []prometheus.Collector{b.backfilled, b.failures} {
		if err := registry.Register(c); err != nil {
			return fmt.Errorf("register backfill metrics: %w", err)
		}
	}
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: the relay elects no leader.
func (b *Backfiller) NeedLeaderElection() bool { return false }

// Start runs at once, then every Interval, until ctx ends.
func (b *Backfiller) Start(ctx context.Context) error {
	b.defaults()
	for {
		if n, err := b.RunOnce(ctx); err != nil {
			b.Log.Error(err, "backfill incomplete, retried at the next run", "stored", n)
		} else if n > 0 {
			b.Log.Info("backfilled missed events", "stored", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(b.Interval):
		}
	}
}

func (b *Backfiller) defaults() {
	if b.Interval <= 0 {
		b.Interval = DefaultInterval
	}
	if b.FirstWindow <= 0 {
		b.FirstWindow = DefaultFirstWindow
	}
	if b.Now == nil {
		b.Now = time.Now
	}
	if b.Log.GetSink() == nil {
		b.Log = logr.Discard()
	}
}

// source is one listing: an account of a connection, and the endpoints its events go to.
type source struct {
	connection *v1alpha1.StripeConnection
	account    string // "" for the platform account
	endpoints  []v1alpha1.StripeWebhookEndpoint
}

func (s source) key() string {
	if s.account == "" {
		return s.connection.Name
	}
	return s.connection.Name + "/" + s.account
}

// RunOnce lists every source once and returns how many events it stored. A source that fails is
// reported and keeps its cursor, so the next run lists it again from there.
func (b *Backfiller) RunOnce(ctx context.Context) (int, error) {
	b.defaults()
	sources, err := b.sources(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, src := range sources {
		n, err := b.backfill(ctx, src)
		total += n
		if err != nil {
			if b.failures != nil {
				b.failures.Inc()
			}
			errs = append(errs, fmt.Errorf("backfill %s: %w", src.key(), err))
		}
	}
	if b.backfilled != nil {
		b.backfilled.Add(float64(total))
	}
	if total > 0 && b.Stored != nil {
		b.Stored()
	}
	return total, errors.Join(errs...)
}

// sources groups the webhook endpoints by what must be listed for them: platform endpoints by their
// connection, Connect endpoints by each connected account of the connection's tenants.
func (b *Backfiller) sources(ctx context.Context) ([]source, error) {
	var endpoints v1alpha1.StripeWebhookEndpointList
	if err := b.Kube.List(ctx, &endpoints); err != nil {
		return nil, fmt.Errorf("list StripeWebhookEndpoints: %w", err)
	}
	var tenants v1alpha1.StripeTenantList
	if err := b.Kube.List(ctx, &tenants); err != nil {
		return nil, fmt.Errorf("list StripeTenants: %w", err)
	}
	bySource := map[string]*source{}
	var order []string
	add := func(connection *v1alpha1.StripeConnection, account string, endpoint v1alpha1.StripeWebhookEndpoint) {
		src := source{connection: connection, account: account}
		key := src.key()
		if bySource[key] == nil {
			bySource[key] = &src
			order = append(order, key)
		}
		bySource[key].endpoints = append(bySource[key].endpoints, endpoint)
	}
	connections := map[string]*v1alpha1.StripeConnection{}
	for _, endpoint := range endpoints.Items {
		if endpoint.Spec.ConnectionRef == nil || endpoint.Status.EndpointID == "" {
			continue // not created in Stripe: nothing was sent to it
		}
		name := endpoint.Spec.ConnectionRef.Name
		connection, seen := connections[name]
		if !seen {
			var c v1alpha1.StripeConnection
			if err := b.Kube.Get(ctx, client.ObjectKey{Name: name}, &c); err != nil {
				b.Log.V(1).Info("connection unreadable, its endpoints not backfilled now", "connection", name, "error", err.Error())
				connections[name] = nil
				continue
			}
			connection = &c
			if !v1alpha1.IsReady(connection) {
				connection = nil
			}
			connections[name] = connection
		}
		if connection == nil {
			continue
		}
		if !endpoint.Spec.Connect {
			add(connection, "", endpoint)
			continue
		}
		for _, tenant := range tenants.Items {
			if tenant.Status.AccountID != "" && tenant.Spec.ConnectionRef != nil && tenant.Spec.ConnectionRef.Name == name {
				add(connection, tenant.Status.AccountID, endpoint)
			}
		}
	}
	out := make([]source, 0, len(order))
	for _, key := range order {
		out = append(out, *bySource[key])
	}
	return out, nil
}

// backfill lists one source since its cursor and stores, oldest first, what its endpoints would have
// received; the cursor moves to the listing's start only once every event is stored.
func (b *Backfiller) backfill(ctx context.Context, src source) (int, error) {
	startedAt := b.Now()
	since, listed, err := b.Store.Cursor(ctx, src.key())
	if err != nil {
		return 0, err
	}
	if listed {
		since = since.Add(-overlap)
	} else {
		since = startedAt.Add(-b.FirstWindow)
	}
	stripe, err := b.Stripe.Client(ctx, src.connection)
	if err != nil {
		return 0, fmt.Errorf("client of StripeConnection %q: %w", src.connection.Name, err)
	}
	var lister stripeapi.EventAPI = stripe
	if src.account != "" {
		lister = stripe.ForAccount(src.account)
	}
	events, err := lister.ListEventsSince(ctx, since)
	if err != nil {
		return 0, err
	}
	livemode := src.connection.Spec.Mode == v1alpha1.StripeModeLive
	stored := 0
	for _, ev := range slices.Backward(events) { // Stripe lists newest first; store in arrival order
		if ev.Livemode != livemode {
			continue
		}
		endpoint, ok := receiverOf(src.endpoints, ev.Type)
		if !ok {
			continue
		}
		var destinations []string
		if b.Destinations != nil {
			destinations = b.Destinations(endpoint, &ev)
		}
		res, err := b.Store.Put(ctx, store.Event{ID: ev.ID, Endpoint: endpoint, Type: ev.Type, Account: ev.Account,
			Livemode: ev.Livemode, APIVersion: ev.APIVersion, ObjectID: ev.ObjectID, Created: ev.Created,
			ReceivedAt: b.Now(), Payload: ev.Raw}, destinations)
		if err != nil {
			return stored, err
		}
		if res == store.Stored {
			stored++
		}
	}
	if err := b.Store.SetCursor(ctx, src.key(), startedAt); err != nil {
		return stored, err
	}
	return stored, nil
}

// receiverOf returns the key (namespace/name) of the first endpoint, by name, whose enabled events
// include typ.
func receiverOf(endpoints []v1alpha1.StripeWebhookEndpoint, typ string) (string, bool) {
	keys := make([]string, 0, len(endpoints))
	for _, e := range endpoints {
		if slices.Contains(e.Spec.EnabledEvents, "*") || slices.Contains(e.Spec.EnabledEvents, typ) {
			keys = append(keys, e.Namespace+"/"+e.Name)
		}
	}
	if len(keys) == 0 {
		return "", false
	}
	slices.Sort(keys)
	return keys[0], true
}
