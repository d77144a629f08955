package stripeapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
)

// Pool hands out one Client per StripeConnection, so that every controller shares the connection's
// client and its one token bucket. The manager creates one Pool and passes it to the controllers;
// the package keeps no state of its own.
//
// Entries are keyed by the connection's identity (its UID). Each Get also gives the connection's
// current Config; when its name, key, base URL, budget or timeout changed, the Client is rebuilt
// but keeps the connection's token bucket (resized), so a key rotation neither resets nor doubles
// the budget. A status update of the connection (a new resourceVersion) changes nothing, and
// neither does a different Logger, HTTPClient or Metrics: those are taken from the Config that
// built the Client.
type Pool struct {
	metrics *Metrics
	log     logr.Logger

	mu      sync.Mutex
	entries map[string]*poolEntry
}

type poolEntry struct {
	fingerprint string
	client      *Client
	adapter     *rateAdapter
}

// NewPool returns an empty Pool whose Clients record into metrics (may be nil) and log to log,
// unless a Config says otherwise.
func NewPool(metrics *Metrics, log logr.Logger) *Pool {
	return &Pool{metrics: metrics, log: log, entries: map[string]*poolEntry{}}
}

// Get returns the Client of the connection identified by id (its UID), creating or rebuilding it
// for cfg as needed.
func (p *Pool) Get(id string, cfg Config) (*Client, error) {
	if id == "" {
		return nil, fmt.Errorf("stripeapi: pool: connection id is required")
	}
	if cfg.Metrics == nil {
		cfg.Metrics = p.metrics
	}
	if cfg.Logger.GetSink() == nil {
		cfg.Logger = p.log
	}
	fp := fingerprint(cfg)

	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[id]
	if e != nil && e.fingerprint == fp {
		return e.client, nil
	}
	var adapter *rateAdapter
	if e != nil {
		adapter = e.adapter
	}
	c, err := newClient(cfg, adapter)
	if err != nil {
		return nil, err
	}
	p.entries[id] = &poolEntry{fingerprint: fp, client: c, adapter: c.adapter}
	return c, nil
}

// Forget drops the connection's Client (the StripeConnection was deleted).
func (p *Pool) Forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.entries, id)
}

// Len returns the number of connections in the pool.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries)
}

// fingerprint hashes what makes two Configs need different Clients. The API key is hashed, never
// kept in the clear outside the Client.
func fingerprint(cfg Config) string {
	h := sha256.New()
	_, _ = fmt.Fprintf(h, "%d:%s|%d:%s|%d:%s|%v|%d|%d",
		len(cfg.APIKey), cfg.APIKey, len(cfg.BaseURL), cfg.BaseURL, len(cfg.Name), cfg.Name,
		cfg.Budget.RequestsPerSecond, cfg.Budget.Burst, cfg.Timeout)
	return hex.EncodeToString(h.Sum(nil))
}
