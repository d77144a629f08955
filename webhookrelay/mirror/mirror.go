package mirror

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// Account is one Stripe account whose objects a mirror keeps.
type Account struct {
	// ID is the account id (acct_…).
	ID string
	// Tenant is the StripeTenant (namespace/name) of a connected account; "" for the platform.
	Tenant string
	// Platform is true for the connection's own account (read without Stripe-Account).
	Platform bool
}

// Sources are what a mirror reads besides its database: the relay's events, the Kubernetes
// objects saying whose account is whose, and Stripe.
type Sources interface {
	// Accounts lists the mirror's accounts now: the platform's when the connection is of the
	// mirror's region, and its tenants' connected accounts of that region.
	Accounts(ctx context.Context) ([]Account, error)
	// OwnerOf says whose an event stored from endpoint (namespace/name) about account ("" for the
	// platform) is; an error when it cannot be decided (an account no tenant claims yet).
	OwnerOf(ctx context.Context, endpoint, account string) (EventOwner, error)
	// Stripe returns the reader of an account of the connection (sharing the connection's budget).
	Stripe(ctx context.Context, account Account) (stripeapi.RawReader, error)
}

// EventOwner is whose an event is.
type EventOwner struct {
	// Connection is the StripeConnection of the endpoint the event came through.
	Connection string
	// Tenant is the StripeTenant (namespace/name) of the event's connected account; "" for the
	// platform's own events.
	Tenant string
	// Region is the tenant's dataResidency, or the connection's region for the platform's events.
	Region string
	// Account is the Stripe account the event is about: the connected account, or the platform's.
	Account string
}

// Config is one StripeMirror.
type Config struct {
	// Name is the StripeMirror (namespace/name), for logs and metrics.
	Name       string
	DB         *sql.DB
	Schema     string
	Connection string
	Region     string
	Types      []v1alpha1.MirrorObjectType
	// Events is the relay's store, followed from the mirror's cursor.
	Events  store.Store
	Sources Sources
	// RevalidateEvery and SampleSize bound revalidation (SampleSize 0: off).
	RevalidateEvery time.Duration
	SampleSize      int
	// Parallel is how many accounts are backfilled at once (default 4).
	Parallel int
	// BatchSize is how many events one transaction applies (default 500).
	BatchSize int
	Metrics   *Metrics
	Log       logr.Logger
}

// Mirror keeps one StripeMirror's schema.
type Mirror struct {
	cfg    Config
	schema string // quoted
	types  map[v1alpha1.MirrorObjectType]objectType
	kept   map[v1alpha1.MirrorObjectType]bool
	wake   chan struct{}

	mu     sync.Mutex
	health Health
	// The last count of the tables' rows (countedRows).
	counts       map[v1alpha1.MirrorObjectType]int64
	countedTotal int64
	countedAt    time.Time
	countTook    time.Duration
}

// Health is what the mirror's loops last saw, for its status.
type Health struct {
	// DatabaseErr is the last database error of the event loop ("" when it works).
	DatabaseErr string
	// BackfillErr is the last backfill error ("" when the last pass worked).
	BackfillErr string
	// ReadsErr is the last error of the reads events asked for, or of revalidation.
	ReadsErr string
}

// New returns the mirror of cfg; Run keeps it.
func New(cfg Config) (*Mirror, error) {
	if cfg.DB == nil || cfg.Events == nil || cfg.Sources == nil || cfg.Schema == "" {
		return nil, errors.New("mirror: DB, Events, Sources and Schema are required")
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.Metrics == nil {
		cfg.Metrics = newUnregisteredMetrics()
	}
	if len(cfg.Types) == 0 {
		cfg.Types = v1alpha1.AllMirrorObjectTypes()
	}
	m := &Mirror{cfg: cfg, schema: quote(cfg.Schema), types: objectTypes(), kept: map[v1alpha1.MirrorObjectType]bool{},
		wake: make(chan struct{}, 1)}
	for _, t := range cfg.Types {
		m.kept[t] = true
	}
	return m, nil
}

// typeNames are the kept types as the schema names them.
func (m *Mirror) typeNames() []string {
	names := make([]string, 0, len(m.cfg.Types))
	for _, t := range m.cfg.Types {
		names = append(names, string(t))
	}
	return names
}

// Wake tells the mirror events were stored.
func (m *Mirror) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Migrate creates or upgrades the schema, and claims it for this mirror: a schema another
// StripeMirror keeps is refused (a StripeMirror deleted and created again under its name resumes).
func (m *Mirror) Migrate(ctx context.Context) error {
	if err := migrate(ctx, m.cfg.DB, m.cfg.Schema); err != nil {
		return err
	}
	var owner string
	err := m.cfg.DB.QueryRowContext(ctx, `INSERT INTO `+m.schema+`.mirror_owner (mirror) VALUES ($1)
ON CONFLICT (singleton) DO UPDATE SET mirror = `+m.schema+`.mirror_owner.mirror RETURNING mirror`, m.cfg.Name).Scan(&owner)
	if err != nil {
		return fmt.Errorf("mirror %s: claim schema %s: %w", m.cfg.Name, m.cfg.Schema, err)
	}
	if owner != m.cfg.Name {
		return fmt.Errorf("schema %s is kept by StripeMirror %s: two mirrors cannot share a schema; choose another spec.database.schema", m.cfg.Schema, owner)
	}
	return nil
}

// pollEvery bounds how long a stored event waits when no wake came (another replica stored it, or
// the wake was lost); backfillEvery is how often new accounts are looked for.
const (
	pollEvery     = time.Second
	backfillEvery = 30 * time.Second
	retryEvery    = 5 * time.Second
)

// Run keeps the mirror until ctx ends: it migrates the schema, then runs three loops. Events: the
// stored events applied (the database only, so Stripe's pace never holds them up). Reads: what the
// events asked for from Stripe (refetches of rows whose order was unknown, refunds of refunded
// charges, balance transactions of new payouts) and revalidation. Backfill: the accounts not listed
// yet.
func (m *Mirror) Run(ctx context.Context) error {
	for {
		err := m.Migrate(ctx)
		m.setErr(&m.health.DatabaseErr, err)
		if err == nil {
			break
		}
		m.cfg.Log.Error(err, "mirror schema")
		if !sleep(ctx, retryEvery) {
			return nil
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	reads := make(chan struct{}, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		m.loop(ctx, "backfill", backfillEvery, nil, &m.health.BackfillErr, func(ctx context.Context) error {
			_, err := m.Backfill(ctx)
			return err
		})
	}()
	go func() {
		defer wg.Done()
		nextRevalidation := time.Now().Add(m.cfg.RevalidateEvery)
		m.loop(ctx, "reads", pollEvery, reads, &m.health.ReadsErr, func(ctx context.Context) error {
			if err := m.readsAsked(ctx); err != nil {
				return err
			}
			if m.cfg.SampleSize > 0 && m.cfg.RevalidateEvery > 0 && !time.Now().Before(nextRevalidation) {
				nextRevalidation = time.Now().Add(m.cfg.RevalidateEvery)
				if _, _, err := m.Revalidate(ctx, m.cfg.SampleSize); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	m.loop(ctx, "events", pollEvery, m.wake, &m.health.DatabaseErr, func(ctx context.Context) error {
		if err := m.followAll(ctx); err != nil {
			return err
		}
		select {
		case reads <- struct{}{}:
		default:
		}
		return nil
	})
	return nil
}

// loop runs pass every interval, or when woken, until ctx ends; a failed pass is counted, logged,
// kept in errField (the status) and retried after retryEvery (a backfill resumes from its cursor).
func (m *Mirror) loop(ctx context.Context, name string, interval time.Duration, wake <-chan struct{}, errField *string, pass func(context.Context) error) {
	for ctx.Err() == nil {
		err := pass(ctx)
		if ctx.Err() != nil {
			return
		}
		m.setErr(errField, err)
		wait := interval
		if err != nil {
			m.cfg.Metrics.errors.WithLabelValues(m.cfg.Name, name).Inc()
			m.cfg.Log.Error(err, "mirror pass failed", "loop", name)
			wait = retryEvery
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-time.After(wait):
		}
	}
}

// followAll applies every event stored since the cursor.
func (m *Mirror) followAll(ctx context.Context) error {
	for {
		n, err := m.Follow(ctx)
		if err != nil || n < m.cfg.BatchSize {
			return err
		}
	}
}

// readsAsked makes the Stripe reads the applied events asked for: refetches of rows whose order was
// unknown, the refunds of refunded charges, and the balance transactions of new payouts.
func (m *Mirror) readsAsked(ctx context.Context) error {
	if _, err := m.RefetchFlagged(ctx); err != nil {
		return err
	}
	if _, err := m.ListRefundsOfCharges(ctx); err != nil {
		return err
	}
	if m.kept[v1alpha1.MirrorBalanceTransaction] {
		if _, err := m.ListPayoutTransactions(ctx, ""); err != nil {
			return err
		}
	}
	return nil
}

// CatchUp applies the events stored since the cursor, then makes the reads they asked for (what Run's
// loops do, in one call).
func (m *Mirror) CatchUp(ctx context.Context) error {
	if err := m.followAll(ctx); err != nil {
		return err
	}
	return m.readsAsked(ctx)
}

func (m *Mirror) setErr(field *string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	*field = ""
	if err != nil {
		*field = err.Error()
	}
}

// Health returns what the loops last saw.
func (m *Mirror) Health() Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.health
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// inTx runs fn in one transaction.
func (m *Mirror) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := m.tryTx(ctx, fn)
		if attempt == txAttempts || !retryableTx(err) {
			return err
		}
		m.cfg.Log.V(1).Info("mirror transaction tried again", "error", err.Error())
	}
}

// txAttempts bounds the attempts of one transaction that PostgreSQL aborted to break a deadlock or
// a serialization conflict (writers lock rows in one order, so this is a safety net).
const txAttempts = 3

// retryableTx reports whether PostgreSQL aborted the transaction for another's sake (deadlock
// detected, serialization failure): the same transaction again may well commit.
func retryableTx(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

func (m *Mirror) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := m.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mirror %s: begin: %w", m.cfg.Name, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mirror %s: commit: %w", m.cfg.Name, err)
	}
	return nil
}
