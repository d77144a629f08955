package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/delivery"
	"github.com/cloudip/stripe-operator/webhookrelay/intake"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// TenantAccountIndex indexes the relay's cached StripeTenants by status.accountID: how an event of a
// connected account finds its tenant's data-residency region.
const TenantAccountIndex = "status.accountID"

// IndexTenants registers TenantAccountIndex with the relay's manager.
func IndexTenants(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.StripeTenant{}, TenantAccountIndex, func(o client.Object) []string {
		if id := o.(*v1alpha1.StripeTenant).Status.AccountID; id != "" {
			return []string{id}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index StripeTenants by account: %w", err)
	}
	return nil
}

// Router decides an event's destinations when it is stored: the sinks of its endpoint's connection
// whose region is the event's — a connected account's event is of its tenant's dataResidency, a
// platform event of the connection's region — and whose type filter takes it. An event of an account
// no tenant claims (yet: its tenant's status may not name it so soon) is held, sent nowhere, and routed
// again by Reroute until it can be.
type Router struct {
	kube  client.Reader
	sinks delivery.SinkSource
	log   logr.Logger
	held  prometheus.Gauge
}

// NewRouter returns the router over the relay's cache.
func NewRouter(kube client.Reader, sinks delivery.SinkSource, registry prometheus.Registerer, log logr.Logger) (*Router, error) {
	r := &Router{kube: kube, sinks: sinks, log: log, held: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "stripe_relay_held_events", Help: "Events held because their data-residency region cannot be decided yet (sent nowhere)."})}
	if err := registry.Register(r.held); err != nil {
		return nil, fmt.Errorf("register router metrics: %w", err)
	}
	return r, nil
}

// Destinations is the intake's routing (intake.Options.Destinations).
func (r *Router) Destinations(key intake.EndpointKey, ev *stripeapi.Event) []string {
	return r.route(context.Background(), key.String(), ev.Account, ev.Type)
}

// EndpointDestinations is the backfill's routing: the same, for an endpoint named namespace/name.
func (r *Router) EndpointDestinations(endpoint string, ev *stripeapi.Event) []string {
	return r.route(context.Background(), endpoint, ev.Account, ev.Type)
}

func (r *Router) route(ctx context.Context, endpointKey, account, typ string) []string {
	who, err := r.OwnerOf(ctx, endpointKey, account)
	connection, region := who.Connection, who.Region
	if err != nil {
		r.log.Info("event region undecidable, held", "endpoint", endpointKey, "account", account, "reason", err.Error())
	}
	sinks, err := r.sinks.Sinks(ctx)
	if err != nil {
		r.log.Error(err, "sinks unreadable: event held", "endpoint", endpointKey)
		return []string{store.Held}
	}
	if connection == "" {
		return nil // an endpoint the relay no longer knows: no connection, so no sink of it
	}
	return delivery.Route(sinks, connection, region, typ)
}

// OwnerOf says whose an event is (the mirrors' routing, mirror.Sources): the endpoint's connection,
// and the tenant whose connected account it is about (with its dataResidency), or the platform (with
// the connection's region and account). Connection is set whenever the endpoint is known, also when
// the rest cannot be decided (the error says why).
func (r *Router) OwnerOf(ctx context.Context, endpointKey, account string) (mirror.EventOwner, error) {
	ns, name, _ := strings.Cut(endpointKey, "/")
	var endpoint v1alpha1.StripeWebhookEndpoint
	if err := r.kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &endpoint); err != nil {
		return mirror.EventOwner{}, fmt.Errorf("endpoint %s: %w", endpointKey, err)
	}
	if endpoint.Spec.ConnectionRef == nil {
		return mirror.EventOwner{}, fmt.Errorf("endpoint %s names no connection", endpointKey)
	}
	who := mirror.EventOwner{Connection: endpoint.Spec.ConnectionRef.Name, Account: account}
	if account != "" {
		var tenants v1alpha1.StripeTenantList
		if err := r.kube.List(ctx, &tenants, client.MatchingFields{TenantAccountIndex: account}); err != nil {
			return who, fmt.Errorf("tenant of %s: %w", account, err)
		}
		for _, t := range tenants.Items {
			if t.Spec.ConnectionRef != nil && t.Spec.ConnectionRef.Name == who.Connection {
				who.Tenant, who.Region = t.Namespace+"/"+t.Name, string(t.Spec.DataResidency)
				return who, nil
			}
		}
		return who, fmt.Errorf("no StripeTenant of connection %s has account %s", who.Connection, account)
	}
	var conn v1alpha1.StripeConnection
	if err := r.kube.Get(ctx, types.NamespacedName{Name: who.Connection}, &conn); err != nil {
		return who, fmt.Errorf("connection %s: %w", who.Connection, err)
	}
	who.Region, who.Account = string(conn.Spec.Region), conn.Status.AccountID
	return who, nil
}

// rerouteEvery is how often held events are routed again.
const rerouteEvery = 10 * time.Second

// Reroute is a Runnable that routes held events again, every rerouteEvery, and wakes the deliverer
// for those that found their destinations.
type Reroute struct {
	Router *Router
	Store  store.Store
	Wake   func()
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (r *Reroute) NeedLeaderElection() bool { return false }

// Start runs until ctx ends.
func (r *Reroute) Start(ctx context.Context) error {
	for {
		if err := r.once(ctx); err != nil {
			r.Router.log.Error(err, "reroute held events")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(rerouteEvery):
		}
	}
}

func (r *Reroute) once(ctx context.Context) error {
	held, err := r.Store.HeldEvents(ctx, 500)
	if err != nil {
		return fmt.Errorf("held events: %w", err)
	}
	still, moved := 0, 0
	for _, ev := range held {
		destinations := r.Router.route(ctx, ev.Endpoint, ev.Account, ev.Type)
		if len(destinations) == 1 && destinations[0] == store.Held {
			still++
			continue
		}
		if err := r.Store.Reroute(ctx, ev.ID, destinations, time.Now()); err != nil {
			return fmt.Errorf("reroute %s: %w", ev.ID, err)
		}
		moved++
	}
	r.Router.held.Set(float64(still))
	if moved > 0 && r.Wake != nil {
		r.Wake()
	}
	return nil
}
