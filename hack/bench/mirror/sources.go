package main

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// sources is the mirrors' view of the world, as the relay's Kubernetes side gives it: every account
// is of region us, the platform's and the tenants'; Stripe is one client with the connection's budget,
// shared by every account (Stripe-Account), counting the calls the mirror makes.
type sources struct {
	client   *stripeapi.Client
	accounts []mirror.Account
	byID     map[string]mirror.Account
	platform string

	lists, gets atomic.Int64
}

func newSources(client *stripeapi.Client, w *world) *sources {
	s := &sources{client: client, platform: w.platform.ID, byID: map[string]mirror.Account{}}
	s.accounts = append([]mirror.Account{w.platform}, w.tenants...)
	for _, a := range w.tenants {
		s.byID[a.ID] = a
	}
	return s
}

func (s *sources) Accounts(context.Context) ([]mirror.Account, error) {
	return append([]mirror.Account(nil), s.accounts...), nil
}

func (s *sources) OwnerOf(_ context.Context, _, account string) (mirror.EventOwner, error) {
	if account == "" {
		return mirror.EventOwner{Connection: connection, Region: region, Account: s.platform}, nil
	}
	a, ok := s.byID[account]
	if !ok {
		return mirror.EventOwner{}, fmt.Errorf("no tenant has account %s", account)
	}
	return mirror.EventOwner{Connection: connection, Tenant: a.Tenant, Region: region, Account: account}, nil
}

func (s *sources) Stripe(_ context.Context, a mirror.Account) (stripeapi.RawReader, error) {
	id := a.ID
	if a.Platform {
		id = ""
	}
	return &countingReader{RawReader: s.client.RawForAccount(id), s: s}, nil
}

// countingReader counts the mirror's list and get calls.
type countingReader struct {
	stripeapi.RawReader
	s *sources
}

func (c *countingReader) ListRaw(ctx context.Context, path string, filters url.Values, after string) (stripeapi.RawPage, error) {
	c.s.lists.Add(1)
	return c.RawReader.ListRaw(ctx, path, filters, after)
}

func (c *countingReader) GetRaw(ctx context.Context, path string) (stripeapi.RawObject, error) {
	c.s.gets.Add(1)
	return c.RawReader.GetRaw(ctx, path)
}

// watchedStore is a relay store as a mirror reads it, recording each event a Follow reads (Since
// with a batch's limit; Snapshot's Since(…, 1) is not recorded) for the lag tracker.
type watchedStore struct {
	store.Store
	tracker *lagTracker
}

func (w *watchedStore) Since(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	events, err := w.Store.Since(ctx, after, limit)
	if err == nil && limit > 1 && w.tracker != nil {
		w.tracker.read(events)
	}
	return events, err
}
