package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-logr/logr"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/pgtest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// bench is one run's shared state.
type bench struct {
	o         options
	w         *world
	db        *sql.DB // the mirrors' database, pooled as the relay pools it (8 connections)
	mirrorDSN string
	registry  *prometheus.Registry
	metrics   *mirror.Metrics
	gen       *eventGen
}

// lane is one relay store and the mirror that follows it.
type lane struct {
	label   string // sqlite, postgres
	store   store.Store
	name    string // the StripeMirror (namespace/name)
	schema  string
	mirror  *mirror.Mirror
	src     *sources
	tracker *lagTracker

	backfill backfillResult
	catchUp  catchUpResult
	steady   steadyResult
}

func run(ctx context.Context, o options) error {
	step("machine: %s", machine())
	step("postgres: starting a private PostgreSQL (internal/pgtest)")
	pg, err := pgtest.StartServer()
	if err != nil {
		return err
	}
	defer pg.Stop()
	b := &bench{o: o, registry: prometheus.NewRegistry()}
	if b.metrics, err = mirror.NewMetrics(b.registry); err != nil {
		return err
	}
	if b.mirrorDSN, err = pg.NewDatabase(ctx, "mirror"); err != nil {
		return err
	}
	if b.db, err = sql.Open("pgx", b.mirrorDSN); err != nil {
		return err
	}
	defer func() { _ = b.db.Close() }()
	b.db.SetMaxOpenConns(8) // webhookrelay/kube/mirrors.go
	b.db.SetMaxIdleConns(8)
	var pgVersion string
	if err := b.db.QueryRowContext(ctx, `SHOW server_version`).Scan(&pgVersion); err != nil {
		return err
	}
	step("postgres: %s, port %d", pgVersion, pg.Port)

	step("seed: %d accounts × %d customers, %d charges and %d subscriptions each (emulator, no rate limit)",
		o.accounts, o.customers, o.charges, o.subscriptions)
	if b.w, err = seed(ctx, o); err != nil {
		return err
	}
	defer b.w.emu.Close()

	lanes, closeLanes, err := openLanes(ctx, pg, o.postgres)
	defer closeLanes()
	if err != nil {
		return err
	}
	if err := backfillLanes(ctx, b, lanes); err != nil {
		return err
	}
	if err := catchUpLanes(ctx, b, lanes); err != nil {
		return err
	}
	if err := steadyLanes(ctx, b, lanes); err != nil {
		return err
	}
	report(os.Stdout, b, pgVersion, lanes)
	return nil
}

// openLanes opens the relay stores: SQLite in a temporary folder, as the relay's, and with
// withPostgres a PostgreSQL one (database relay on pg). The func it returns closes what was opened
// and removes the folder; it is to be called whatever the error.
func openLanes(ctx context.Context, pg *pgtest.Server, withPostgres bool) ([]*lane, func(), error) {
	var closers []func()
	closeLanes := func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}
	dir, err := os.MkdirTemp("", "bench-mirror-")
	if err != nil {
		return nil, closeLanes, err
	}
	closers = append(closers, func() { _ = os.RemoveAll(dir) })
	sqlite, err := store.OpenSQLite(ctx, filepath.Join(dir, "relay.db"), store.SQLiteOptions{})
	if err != nil {
		return nil, closeLanes, err
	}
	closers = append(closers, func() { _ = sqlite.Close() })
	sqliteLane := &lane{label: "sqlite", store: sqlite, name: "payments/bench-sqlite", schema: "stripe_sqlite"}
	if !withPostgres {
		return []*lane{sqliteLane}, closeLanes, nil
	}
	relayDSN, err := pg.NewDatabase(ctx, "relay")
	if err != nil {
		return nil, closeLanes, err
	}
	pgStore, err := store.OpenPostgres(ctx, relayDSN, store.PostgresOptions{})
	if err != nil {
		return nil, closeLanes, err
	}
	closers = append(closers, func() { _ = pgStore.Close() })
	pgLane := &lane{label: "postgres", store: pgStore, name: "payments/bench-postgres", schema: "stripe_pg"}
	return []*lane{sqliteLane, pgLane}, closeLanes, nil
}

// backfillLanes sets the emulator to Stripe's test-mode limit (from now on) and, lane by lane,
// makes the lane's mirror on a fresh schema and times its Backfill.
func backfillLanes(ctx context.Context, b *bench, lanes []*lane) error {
	global, endpoints := emulator.StripeTestModeLimits()
	b.w.emu.SetRateLimits(global, endpoints)
	// One client for the connection, as the relay has (stripeapi.Pool): both mirrors draw on its
	// budget. (A fresh client per mirror would start with a full burst while the emulator's bucket
	// is still empty from the previous backfill: 429s.)
	client, err := newBudgetClient(b.w, b.o.budget)
	if err != nil {
		return err
	}
	for _, l := range lanes {
		if err := newLaneMirror(ctx, b, l, client); err != nil {
			return err
		}
		step("backfill %s: %d accounts (the platform and %d tenants) at %.0f req/s, %d at once", l.schema, len(l.src.accounts),
			len(b.w.tenants), b.o.budget, b.o.parallel)
		if l.backfill, err = runBackfill(ctx, b.w, l.src, l.mirror, l.schema, b.o); err != nil {
			return err
		}
	}
	return nil
}

// newLaneMirror makes l's mirror (its sources on client, its store watched by its lag tracker) and
// migrates its schema.
func newLaneMirror(ctx context.Context, b *bench, l *lane, client *stripeapi.Client) error {
	l.src = newSources(client, b.w)
	l.tracker = &lagTracker{}
	var err error
	l.mirror, err = mirror.New(mirror.Config{Name: l.name, DB: b.db, Schema: l.schema, Connection: connection, Region: region,
		Events: &watchedStore{Store: l.store, tracker: l.tracker}, Sources: l.src, Parallel: b.o.parallel, BatchSize: b.o.batch,
		Metrics: b.metrics, Log: logr.Discard()})
	if err != nil {
		return err
	}
	return l.mirror.Migrate(ctx)
}

// catchUpLanes puts the same events into each lane's store and times each mirror's CatchUp of its
// own.
func catchUpLanes(ctx context.Context, b *bench, lanes []*lane) error {
	b.gen = newEventGen(b.w, b.w.emu.Now().Add(time.Second).Truncate(time.Second).Add(time.Second))
	events, err := b.gen.catchUp(b.o.events)
	if err != nil {
		return err
	}
	for _, l := range lanes {
		l.catchUp = catchUpResult{store: l.label, events: len(events)}
		step("catch-up %s: putting %d events (%d at once)", l.label, len(events), b.o.loaders)
		if l.catchUp.load, err = load(ctx, l.store, events, b.o.loaders); err != nil {
			return err
		}
		step("catch-up %s: stored in %s (%.0f puts/s)", l.label, l.catchUp.load.wall.Round(10*time.Millisecond),
			float64(len(events))/l.catchUp.load.wall.Seconds())
		if err := catchUp(ctx, b, l.mirror, l.name, l.store, &l.catchUp); err != nil {
			return err
		}
	}
	return nil
}

// steadyLanes runs each lane's steady phase: Run, and a producer at -rate.
func steadyLanes(ctx context.Context, b *bench, lanes []*lane) error {
	if b.o.rate > len(b.w.created) {
		step("steady: -rate %d is above the %d customers: one customer gets two updates in a second, which the mirror flags and refetches", b.o.rate, len(b.w.created))
	}
	for _, l := range lanes {
		l.steady = steadyResult{store: l.label}
		if err := steady(ctx, b, l.mirror, l.name, l.schema, l.store, l.tracker, &l.steady); err != nil {
			return err
		}
	}
	return nil
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
