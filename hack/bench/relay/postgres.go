package main

import (
	"context"
	"database/sql"
	"fmt"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" with database/sql

	"github.com/cloudip/stripe-operator/internal/pgtest"
)

// The PostgreSQL phases (issue 10, item 5): after the SQLite phases, a private PostgreSQL
// (internal/pgtest: initdb into a temporary folder, a free loopback port, its own process group, the
// server's default settings, so synchronous_commit=on and an fsync per commit) and on it, each on a
// fresh database:
//
//	relay pg x1, x<N>    the relay phase with 1 and N server processes on one database, the load's
//	                     clients spread round robin over the replicas' URLs (as a Service spreads
//	                     connections); the intake dedupes by event id across replicas
//	deliver pg x1, x<N>  the delivery phase with one sink, 1 and N replicas each running a Deliverer
//	                     on the database (rows claimed FOR UPDATE SKIP LOCKED, the sink's MaxInFlight
//	                     and rate shared through the store), the ledger read from PostgreSQL
//
// PostgreSQL shares the machine's cores with the relay, the sinks and the load generator: its
// processes' CPU (the postmaster's process group, the backends that exited included) is reported, and
// so are its WAL flushes per event (pg_stat_wal), which tell whether commits shared an fsync.

// pgHandle is the private PostgreSQL as the phases see it: its postmaster (whose process group's CPU
// a sample reads) and a connection pool for its statistics.
type pgHandle struct {
	pid   int
	stats *sql.DB
}

// pgInfo is the server the PostgreSQL phases ran on.
type pgInfo struct {
	Version  string            `json:"version"`
	Settings map[string]string `json:"settings"`
}

// pgSettings are the settings the report shows: those that decide what a commit costs.
var pgSettings = []string{"synchronous_commit", "fsync", "wal_sync_method", "commit_delay", "full_page_writes",
	"shared_buffers", "max_connections"}

// walSample is the cluster's WAL and commit counters (pg_stat_wal, pg_stat_database) at a moment.
type walSample struct {
	ok       bool
	syncs    int64   // WAL flushes (fdatasync by default)
	syncMS   float64 // their time (track_wal_io_timing, which the benchmark turns on)
	bytes    int64
	commits  int64
	rollback int64
	sessions int64 // connections established (a backend forked for each)
}

// walStats is a phase's WAL figures over its window.
type walStats struct {
	Syncs         int64   `json:"wal_syncs"`
	SyncsPerEvent float64 `json:"wal_syncs_per_event"`
	SyncMeanMS    float64 `json:"wal_sync_mean_ms"`
	BytesPerEvent float64 `json:"wal_bytes_per_event"`
	Commits       int64   `json:"commits"`
	Rollbacks     int64   `json:"rollbacks"`
	Sessions      int64   `json:"sessions"` // connections established in the window
}

// pgReplicas is the replica counts the PostgreSQL phases run with: 1, and -pg-replicas if more.
func pgReplicas(o options) int {
	if !o.postgres {
		return 0
	}
	return o.pgReplicas
}

// runPostgres starts the private PostgreSQL, runs its phases, and stops it on every way out: the
// deferred Stop here, and killAll (an error elsewhere, a panic, SIGINT) through the kill hook.
func (b *bench) runPostgres(ctx context.Context, res *results) error {
	o := b.o
	step("postgres: starting a private PostgreSQL (internal/pgtest)")
	pg, err := pgtest.StartServer()
	if err != nil {
		return err
	}
	removeHook := onKillAll(func() { killPostgres(pg) })
	defer func() {
		removeHook()
		pg.Stop()
	}()
	stats, err := sql.Open("pgx", pg.DSN)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer func() { _ = stats.Close() }()
	stats.SetMaxOpenConns(2)
	info, err := readPGInfo(ctx, stats)
	if err != nil {
		return err
	}
	res.Postgres = &info
	step("postgres: %s, pid %d, port %d", info.Version, pg.PID(), pg.Port)
	h := &pgHandle{pid: pg.PID(), stats: stats}

	counts := []int{1}
	if o.pgReplicas > 1 {
		counts = append(counts, o.pgReplicas)
	}
	type run struct {
		mode string
		n    int
	}
	var runs []run
	for _, n := range counts {
		runs = append(runs, run{modeRelay, n})
	}
	if !o.skipDelivery {
		for _, n := range counts {
			runs = append(runs, run{modeDeliver, n})
		}
	}
	for _, r := range runs {
		db := fmt.Sprintf("%s_pg_x%d", r.mode, r.n)
		dsn, err := pg.NewDatabase(ctx, db)
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		spec := phaseSpec{name: fmt.Sprintf("%s pg x%d", r.mode, r.n), mode: r.mode, replicas: r.n,
			store: storeRef{dsn: dsn, pg: h}, profile: fmt.Sprintf("%s-pg-x%d", r.mode, r.n)}
		var ph phase
		if r.mode == modeRelay {
			ph, err = b.runPhase(ctx, spec)
		} else {
			ph, err = b.runDeliver(ctx, spec, 1)
		}
		if err != nil {
			return err
		}
		res.Phases = append(res.Phases, ph)
	}
	return nil
}

// killPostgres kills the server with SIGKILL, its backends too: each is a session of its own (they
// would exit on their own once they see the postmaster gone, but not before this process exits).
func killPostgres(pg *pgtest.Server) {
	children := childrenOf(pg.PID())
	pg.Kill()
	for _, c := range children {
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
}

// readPGInfo reads the server's version and settings, and turns on track_wal_io_timing (a reload, no
// restart) so that pg_stat_wal times the WAL flushes.
func readPGInfo(ctx context.Context, db *sql.DB) (pgInfo, error) {
	info := pgInfo{Settings: map[string]string{}}
	if _, err := db.ExecContext(ctx, `ALTER SYSTEM SET track_wal_io_timing = on`); err != nil {
		return info, fmt.Errorf("postgres: track_wal_io_timing: %w", err)
	}
	if _, err := db.ExecContext(ctx, `SELECT pg_reload_conf()`); err != nil {
		return info, fmt.Errorf("postgres: reload: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SHOW server_version`).Scan(&info.Version); err != nil {
		return info, fmt.Errorf("postgres: version: %w", err)
	}
	for _, name := range pgSettings {
		var v string
		if err := db.QueryRowContext(ctx, `SELECT current_setting($1)`, name).Scan(&v); err != nil {
			return info, fmt.Errorf("postgres: setting %s: %w", name, err)
		}
		info.Settings[name] = v
	}
	return info, nil
}

// sampleWAL reads the cluster's WAL and commit counters (ok false if they could not be read: the
// figures are then left out).
func (h *pgHandle) sampleWAL() walSample {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var w walSample
	err := h.stats.QueryRowContext(ctx, `SELECT w.wal_sync, w.wal_sync_time, w.wal_bytes::bigint,
		d.commits, d.rollbacks, d.sessions FROM pg_stat_wal w,
		(SELECT SUM(xact_commit)::bigint AS commits, SUM(xact_rollback)::bigint AS rollbacks, SUM(sessions)::bigint AS sessions
		FROM pg_stat_database) d`).Scan(&w.syncs, &w.syncMS, &w.bytes, &w.commits, &w.rollback, &w.sessions)
	w.ok = err == nil
	return w
}

// walDelta is the WAL figures between two samples, per acknowledged event.
func walDelta(before, after walSample, acked int64) *walStats {
	if !before.ok || !after.ok {
		return nil
	}
	w := &walStats{Syncs: after.syncs - before.syncs, Commits: after.commits - before.commits,
		Rollbacks: after.rollback - before.rollback, Sessions: after.sessions - before.sessions}
	if w.Syncs > 0 {
		w.SyncMeanMS = (after.syncMS - before.syncMS) / float64(w.Syncs)
	}
	if acked > 0 {
		w.SyncsPerEvent = float64(w.Syncs) / float64(acked)
		w.BytesPerEvent = float64(after.bytes-before.bytes) / float64(acked)
	}
	return w
}

// printPostgres prints the PostgreSQL phases beside SQLite's: the server, then per phase what PostgreSQL
// cost and how its commits reached the disk.
func printPostgres(r results) {
	if r.Postgres == nil {
		return
	}
	var sqliteRelay *phase
	var pgs []phase
	for i, p := range r.Phases {
		switch {
		case p.Name == modeRelay:
			sqliteRelay = &r.Phases[i]
		case p.Engine == enginePostgres:
			pgs = append(pgs, p)
		}
	}
	set := r.Postgres.Settings
	fmt.Printf("\n== PostgreSQL %s (private: internal/pgtest, loopback TCP, default settings: synchronous_commit=%s, fsync=%s,\n"+
		"   wal_sync_method=%s, commit_delay=%s, shared_buffers=%s); each phase on a fresh database\n",
		r.Postgres.Version, set["synchronous_commit"], set["fsync"], set["wal_sync_method"], set["commit_delay"], set["shared_buffers"])
	fmt.Printf("%-13s %8s %9s %8s %9s %6s %9s %8s %9s %8s %10s %9s\n", "phase", "replicas", "events/s", "p99", "vs sqlite",
		"pg", "pg/ev", "syncs/ev", "sync mean", "WAL B/ev", "commits/ev", "new conns")
	for _, p := range pgs {
		vs := "-"
		if sqliteRelay != nil && sqliteRelay.EventsPerSec > 0 {
			vs = fmt.Sprintf("%.0f %%", p.EventsPerSec/sqliteRelay.EventsPerSec*100)
		}
		syncs, mean, bytes, commits, conns := "-", "-", "-", "-", "-"
		if w := p.WAL; w != nil {
			syncs, mean = fmt.Sprintf("%.2f", w.SyncsPerEvent), ms(w.SyncMeanMS)
			bytes, conns = thousands(int64(w.BytesPerEvent+0.5)), thousands(w.Sessions)
			if p.Acknowledged > 0 {
				commits = fmt.Sprintf("%.2f", float64(w.Commits)/float64(p.Acknowledged))
			}
		}
		fmt.Printf("%-13s %8d %9s %8s %9s %6.2f %6.0f µs %8s %9s %8s %10s %9s\n", p.Name, p.Replicas, thousands(int64(p.EventsPerSec+0.5)),
			ms(p.P99), vs, p.PGCores, p.PGUSPer, syncs, mean, bytes, commits, conns)
	}
	for _, mode := range []string{modeRelay, modeDeliver} {
		var one, more *phase
		for i, p := range pgs {
			if p.Name == fmt.Sprintf("%s pg x1", mode) {
				one = &pgs[i]
			} else if p.Replicas > 1 && p.Name == fmt.Sprintf("%s pg x%d", mode, p.Replicas) {
				more = &pgs[i]
			}
		}
		if one != nil && more != nil && one.EventsPerSec > 0 {
			fmt.Printf("  %s / %s: %.2f× the events/s\n", more.Name, one.Name, more.EventsPerSec/one.EventsPerSec)
		}
	}
	fmt.Printf("  vs sqlite: events/s against the SQLite relay phase. pg: PostgreSQL's CPU cores in the window; pg/ev: its CPU\n" +
		"  time per acknowledged event. syncs/ev: WAL flushes (pg_stat_wal.wal_sync, any process) per event, 1 when every\n" +
		"  commit flushes alone, below 1 when commits share a flush; sync mean: a flush's time (track_wal_io_timing);\n" +
		"  WAL B/ev: WAL bytes per event; commits/ev: transactions committed (pg_stat_database) per event: the intake's\n" +
		"  Puts, and in the deliver phases the claims and the recorded outcomes; new conns: connections established\n" +
		"  in the window (pg_stat_database.sessions, a backend forked for each). Backends report their statistics at\n" +
		"  most once a second, so the per-event ratios are approximate\n")
}
