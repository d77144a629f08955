package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
	"github.com/cloudip/stripe-operator/webhookrelay/delivery"
	"github.com/cloudip/stripe-operator/webhookrelay/ledger"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// FormatLedger is the sink format whose deliveries are ledger records.
const FormatLedger = string(v1alpha1.SinkFormatLedger)

// LedgerFormat is the delivery format of `format: ledger` sinks: each stored event becomes the
// ledger records it gives (webhookrelay/ledger), each posted under its record id, so a replay or a
// duplicate event posts nothing twice. The records are built at delivery time, with the Stripe reads
// they need through the sink's connection (a failed read is a failed attempt, retried); a deposit
// that does not balance is held (delivery.ErrHold), never sent.
type LedgerFormat struct {
	Kube   client.Reader
	Stripe stripeconn.ClientSource

	mu      sync.Mutex
	clients map[string]ledgerClient // by connection name
}

// ledgerClientTTL is how long a connection's client is reused: the resolver reads the API key from
// the API server, which must not happen once per ledger delivery; a rotated key is taken within it.
const ledgerClientTTL = time.Minute

type ledgerClient struct {
	client *stripeapi.Client
	uid    types.UID
	at     time.Time
}

// client returns the connection's Stripe client, read again at most every ledgerClientTTL.
func (f *LedgerFormat) client(ctx context.Context, connection *v1alpha1.StripeConnection) (*stripeapi.Client, error) {
	f.mu.Lock()
	cached, ok := f.clients[connection.Name]
	f.mu.Unlock()
	if ok && cached.uid == connection.UID && time.Since(cached.at) < ledgerClientTTL {
		return cached.client, nil
	}
	c, err := f.Stripe.Client(ctx, connection)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clients == nil {
		f.clients = map[string]ledgerClient{}
	}
	f.clients[connection.Name] = ledgerClient{client: c, uid: connection.UID, at: time.Now()}
	return c, nil
}

var _ delivery.Format = (*LedgerFormat)(nil)

// Payloads implements delivery.Format.
func (f *LedgerFormat) Payloads(ctx context.Context, sink delivery.Sink, row store.Delivery) ([]delivery.Payload, error) {
	ev, err := stripeapi.DecodeEvent(row.Payload)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	var connection v1alpha1.StripeConnection
	if err := f.Kube.Get(ctx, types.NamespacedName{Name: sink.Connection}, &connection); err != nil {
		return nil, fmt.Errorf("ledger: StripeConnection %q: %w", sink.Connection, err)
	}
	owner, err := f.owner(ctx, &connection, ev.Account)
	if err != nil {
		return nil, err
	}
	stripe, err := f.client(ctx, &connection)
	if err != nil {
		return nil, fmt.Errorf("ledger: client of StripeConnection %q: %w", sink.Connection, err)
	}
	builder := ledger.Builder{Stripe: func(account string) stripeapi.LedgerAPI { return stripe.Ledger(account) }}
	records, err := builder.Records(ctx, row.Payload, owner)
	if errors.Is(err, ledger.ErrUnbalanced) {
		return nil, fmt.Errorf("%w: %w", delivery.ErrHold, err)
	}
	if err != nil {
		return nil, err
	}
	payloads := make([]delivery.Payload, 0, len(records))
	for _, r := range records {
		body, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("ledger: encode record %s: %w", r.ID, err)
		}
		payloads = append(payloads, delivery.Payload{ID: r.ID, Body: body})
	}
	return payloads, nil
}

// owner is whose money the event is about: the tenant of the connected account (its
// dataResidency), or the platform (the connection's region).
func (f *LedgerFormat) owner(ctx context.Context, connection *v1alpha1.StripeConnection, account string) (ledger.Owner, error) {
	if account == "" {
		return ledger.Owner{Tenant: ledger.PlatformTenant, Region: string(connection.Spec.Region)}, nil
	}
	var tenants v1alpha1.StripeTenantList
	if err := f.Kube.List(ctx, &tenants, client.MatchingFields{TenantAccountIndex: account}); err != nil {
		return ledger.Owner{}, fmt.Errorf("ledger: tenant of %s: %w", account, err)
	}
	for _, t := range tenants.Items {
		if t.Spec.ConnectionRef != nil && t.Spec.ConnectionRef.Name == connection.Name {
			return ledger.Owner{Tenant: t.Namespace + "/" + t.Name, Region: string(t.Spec.DataResidency)}, nil
		}
	}
	// Routing held the event until a tenant claimed the account; one since deleted leaves this.
	return ledger.Owner{}, fmt.Errorf("%w: no StripeTenant of connection %s has account %s", delivery.ErrHold, connection.Name, account)
}
