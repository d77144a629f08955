package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// bench is what every phase of a run shares: this binary (re-executed as the servers), the run's
// temporary directory, the endpoint's signing secret, the events and the options.
type bench struct {
	self, dir, secret string
	gen               *generator
	o                 options
}

// The stores' engines.
const (
	engineSQLite   = "sqlite"
	enginePostgres = "postgres"
)

// storeRef is where a relay phase's store lives: a SQLite file in the run's directory, or a database
// of the private PostgreSQL that every replica of the phase shares.
type storeRef struct {
	file string    // SQLite
	dsn  string    // PostgreSQL
	pg   *pgHandle // PostgreSQL: the server, whose CPU and WAL flushes the phase reports
}

func (b *bench) sqlite(name string) storeRef { return storeRef{file: filepath.Join(b.dir, name+".db")} }

func (r storeRef) engine() string {
	if r.dsn != "" {
		return enginePostgres
	}
	return engineSQLite
}

// args are the server's flags that open it.
func (r storeRef) args() []string {
	if r.dsn != "" {
		return []string{"-serve-postgres", r.dsn}
	}
	return []string{"-serve-db", r.file}
}

// open opens the store as the relay does (the engines' production settings: the zero options).
func (r storeRef) open(ctx context.Context) (*store.DB, error) {
	var (
		st  *store.DB
		err error
	)
	if r.dsn != "" {
		st, err = store.OpenPostgres(ctx, r.dsn, store.PostgresOptions{})
	} else {
		st, err = store.OpenSQLite(ctx, r.file, store.SQLiteOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("open the relay's store: %w", err)
	}
	return st, nil
}

// phaseSpec is one phase: its name in the report, the servers' mode, their store (none for bare),
// how many replicas serve it, and its CPU profiles' base name in -cpuprofile ("" for none).
type phaseSpec struct {
	name     string
	mode     string
	store    storeRef
	replicas int
	profile  string
}

// serverArgs are the flags of the phase's relay servers (bare, relay or deliver; the crash phase
// serves the relay).
func (b *bench) serverArgs(spec phaseSpec) []string {
	args := []string{"-serve", spec.mode, "-serve-secret", b.secret, "-serve-outbox", strconv.Itoa(b.o.outbox)}
	if spec.mode != modeBare {
		args = append(args, spec.store.args()...)
	}
	return args
}

// startServers starts the phase's replicas with the extra flags.
func (b *bench) startServers(spec phaseSpec, extra ...string) (replicaSet, error) {
	profile := ""
	if b.o.cpuProfile != "" && spec.profile != "" {
		profile = filepath.Join(b.o.cpuProfile, spec.profile)
	}
	return startReplicas(b.self, append(b.serverArgs(spec), extra...), max(spec.replicas, 1), profile)
}

// runPhase starts the phase's servers, loads them for -warmup, then measures them for -duration, and
// stops them (SIGTERM: the relay closes its store; a profile, if asked for, is written).
func (b *bench) runPhase(ctx context.Context, spec phaseSpec) (phase, error) {
	o := b.o
	srv, err := b.startServers(spec)
	if err != nil {
		return phase{}, err
	}
	defer func() { _ = srv.stop() }()
	step("%s: server pid %s at %v; %d clients, warm-up %s, measuring %s", spec.name, srv.pidText(), srv.urls(), o.clients, o.warmup, o.duration)

	lg := newLoad(srv.urls(), b.gen, o.clients, false)
	defer lg.close()
	stores := spec.mode != modeBare
	of := cpuOf{servers: srv.pids(), pg: spec.store.pg}
	var (
		before   cpuSample
		statsErr error
	)
	workers, window, err := lg.run(ctx, o.warmup, o.duration, func() {
		if stores {
			statsErr = resetPutStats(lg.http, srv.urls())
		}
		before = sampleCPU(of)
		if o.cpuProfile != "" {
			srv.signal(syscall.SIGUSR1) // the servers start their CPU profiles
		}
	})
	after := sampleCPU(of)
	if err != nil {
		return phase{}, err
	}
	var puts *putStats
	if stores && statsErr == nil {
		s, err := readPutStats(lg.http, srv.urls())
		puts, statsErr = &s, err
	}
	if statsErr != nil {
		return phase{}, statsErr
	}
	if err := srv.check(); err != nil {
		return phase{}, err
	}
	ph := summarize(spec, merge(workers), window, before, after)
	ph.Put = puts
	if err := srv.stop(); err != nil {
		return phase{}, err
	}
	if stores {
		if ph.Stored, err = countStored(ctx, spec.store); err != nil {
			return phase{}, err
		}
	}
	step("%s: %.0f events/s, p50 %s, p99 %s, %d errors", spec.name, ph.EventsPerSec, ms(ph.P50), ms(ph.P99), ph.Errors)
	return ph, nil
}
