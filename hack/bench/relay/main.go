// Command relay is the webhook relay's benchmark of DESIGN.md §5 (issue 7, item 6): signed Stripe
// events per second verified, durably stored and acknowledged, with the acknowledgement latency, on
// this machine; and in the same run a bare handler that only verifies the signature (the ceiling).
//
// The server runs as its own OS process, in its own process group: this binary re-executed with the
// hidden -serve flag (server.go). It serves over real HTTP on 127.0.0.1 either the bare handler
// (read the body, stripeapi.VerifyEvent, 200) or the real intake.Handler on the real SQLite store
// (WAL, synchronous=FULL, as store.OpenSQLite opens it) in a temporary directory, with the secrets in
// memory (intake.StaticSecrets; the relay's come from an informer cache, also in memory). This process
// is the load generator (load.go): -clients keep-alive clients sending realistic events, each signed
// with stripeapi.SignTestPayload as it is sent, closed loop, for -duration after -warmup.
//
// Phases, in one run: bare (the ceiling), relay (the full intake), deliver x1 and deliver x<sinks>
// (deliver.go, issue 8 item 6: the relay with the real delivery.Deliverer sending every event to sinks
// that run in a process of their own and verify each Standard Webhooks signature: delivered/s, lag
// from the ack to the sink, drain time, a ledger per sink), and crash (crash.go): the full relay under
// load is killed with SIGKILL after -crash-after, then its store is opened and every event id that got
// a 2xx is looked up; an acknowledged event missing from the store is a lost event.
//
// Then on PostgreSQL (postgres.go, issue 10 item 5; -postgres=false leaves it out, -sqlite=false runs
// it alone): a private PostgreSQL (internal/pgtest, default settings, its own process group, stopped
// on every way out) and on it, each on a fresh database, relay pg x1 and x<pg-replicas> (the relay
// phase with 1 and N server processes on one database, started with -serve-postgres instead of
// -serve-db, the clients spread round robin over the replicas' URLs as a Service would) and deliver
// pg x1 and x<pg-replicas> (the delivery phase with one sink, every replica running a Deliverer on the
// shared database, lag and the exact ledger read from PostgreSQL). The same figures as SQLite's, the
// servers' CPU summed over the replicas, PostgreSQL's own CPU (its process group) and its WAL flushes
// per event (pg_stat_wal).
//
// It prints figures and PASS/MISS against the targets; it never fails on a missed target (it exits
// non-zero only when the run itself broke). `make bench-relay` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	duration   time.Duration
	warmup     time.Duration
	clients    int
	crashAfter time.Duration
	skipCrash  bool
	outbox     int
	jsonOut    bool
	cpuProfile string
	keep       bool
	// The delivery phases (deliver.go).
	skipDelivery bool
	sinks        int
	maxInFlight  int
	drainTimeout time.Duration
	// The PostgreSQL phases (postgres.go); -sqlite=false runs them alone.
	sqlite     bool
	postgres   bool
	pgReplicas int
}

func main() {
	var o options
	var serve serveOptions
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "Measured time per phase (after -warmup).")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "Load before each phase's measurement, not counted (connections, caches, the store's first pages).")
	flag.IntVar(&o.clients, "clients", 64, "Concurrent keep-alive clients, each sending its next event as soon as the last is answered.")
	flag.DurationVar(&o.crashAfter, "crash-after", 4*time.Second, "Crash phase: load this long, then SIGKILL the relay's process group.")
	flag.BoolVar(&o.skipCrash, "skip-crash", false, "Skip the crash phase (kill -9 under load, then check the store).")
	flag.IntVar(&o.outbox, "outbox", 1, "Outbox rows committed with each event (the deliveries it owes: the operator notifier, sinks).")
	flag.BoolVar(&o.jsonOut, "json", false, "Print the results as one JSON object on stdout (progress goes to stderr).")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "Directory to write the servers' CPU profiles to (bare.pprof, relay.pprof: the measured part of each phase) and the load generator's (loadgen.pprof); inspect with go tool pprof.")
	flag.BoolVar(&o.skipDelivery, "skip-delivery", false, "Skip the delivery phases (Stripe → relay → sinks, end to end: deliver x1 and deliver x<sinks>).")
	flag.IntVar(&o.sinks, "sinks", 3, "Sinks of the second delivery phase (deliver x<sinks>); 1 runs deliver x1 only.")
	flag.IntVar(&o.maxInFlight, "max-in-flight", 32, "Delivery phases: each sink's MaxInFlight (deliveries at once).")
	flag.DurationVar(&o.drainTimeout, "drain-timeout", 20*time.Second, "Delivery phases: after the load, wait at most this long for the sinks' backlog to drain.")
	flag.BoolVar(&o.sqlite, "sqlite", true, "Run the SQLite phases (bare, relay, deliver, crash); -sqlite=false runs the PostgreSQL phases alone.")
	flag.BoolVar(&o.postgres, "postgres", true, "After the SQLite phases, start a private PostgreSQL (internal/pgtest) and run relay pg x1 and x<pg-replicas>, deliver pg x1 and x<pg-replicas> on it (each on a fresh database); -postgres=false leaves them out.")
	flag.IntVar(&o.pgReplicas, "pg-replicas", 3, "PostgreSQL phases: the replicas (server processes on one database) of the second relay pg and deliver pg phases; 1 runs x1 only.")
	flag.BoolVar(&o.keep, "keep", false, "Keep the temporary directory with the stores (its path is printed).")
	// The server side: this binary re-executed (server.go). Not for direct use.
	flag.StringVar(&serve.mode, "serve", "", "internal: serve as the benchmark's server process: bare or relay")
	flag.StringVar(&serve.db, "serve-db", "", "internal: the relay's SQLite file")
	flag.StringVar(&serve.postgres, "serve-postgres", "", "internal: the relay's PostgreSQL database (DSN), instead of -serve-db")
	flag.StringVar(&serve.secret, "serve-secret", "", "internal: the endpoint's signing secret")
	flag.IntVar(&serve.outbox, "serve-outbox", 1, "internal: outbox rows per event")
	flag.StringVar(&serve.cpuProfile, "serve-cpuprofile", "", "internal: CPU profile file, from SIGUSR1 until SIGTERM")
	flag.StringVar(&serve.sinkURLs, "serve-sink-urls", "", "internal: deliver: the sinks' base URLs, comma separated")
	flag.StringVar(&serve.sinkSecret, "serve-sink-secret", "", "internal: deliver and sink: the sinks' Standard Webhooks secret")
	flag.IntVar(&serve.maxInFlight, "serve-max-inflight", 32, "internal: deliver: each sink's MaxInFlight")
	flag.IntVar(&serve.sinks, "serve-sinks", 1, "internal: sink: how many sinks to serve")
	flag.Usage = usage
	flag.Parse()

	if serve.mode != "" {
		if err := runServer(serve); err != nil {
			fmt.Fprintln(os.Stderr, "bench-relay server:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-relay:", err)
		os.Exit(1)
	}
}

func usage() {
	out := flag.CommandLine.Output()
	_, _ = fmt.Fprintf(out, `Usage: relay [flags]   (make bench-relay BENCH_ARGS='...')

The webhook relay benchmark (DESIGN.md §5): -clients keep-alive clients post signed Stripe events over
HTTP on 127.0.0.1 to a server process, for -duration after -warmup, in these phases:
  bare        read the body, stripeapi.VerifyEvent, 200: the ceiling
  relay       the real intake.Handler on the real SQLite store (WAL, synchronous=FULL)
  deliver x1  the relay with the real delivery.Deliverer sending every event to a sink (an HTTP
  deliver xN  server in a process of its own that verifies each Standard Webhooks signature), then
              to -sinks sinks: delivered/s, lag from the ack to the sink, drain time, the ledger
              (-skip-delivery leaves them out)
  crash       the relay under load, kill -9 of its process group after -crash-after; then every
              acknowledged event id is looked up in the store (-skip-crash leaves it out)
then on a private PostgreSQL (internal/pgtest; -postgres=false leaves these out, -sqlite=false
runs them alone), each on a fresh database:
  relay pg x1, relay pg xN      the relay phase with 1 and -pg-replicas server processes on one
                                database, the clients spread round robin over them
  deliver pg x1, deliver pg xN  the delivery phase, one sink, 1 and N replicas each running a
                                Deliverer on the database; the ledger read from PostgreSQL
                                (-skip-delivery leaves them out too)
Figures and PASS/MISS against the targets are printed, never asserted.

Flags:
`)
	flag.VisitAll(func(f *flag.Flag) {
		if len(f.Usage) >= 9 && f.Usage[:9] == "internal:" {
			return
		}
		name, text := flag.UnquoteUsage(f)
		_, _ = fmt.Fprintf(out, "  -%s\n    \t%s", strings.TrimSpace(f.Name+" "+name), text)
		if f.DefValue != "" && f.DefValue != "false" {
			_, _ = fmt.Fprintf(out, " (default %s)", f.DefValue)
		}
		_, _ = fmt.Fprintln(out)
	})
}

// progress is where the "==>" lines go: stdout, or stderr with -json so stdout is only the JSON.
var progress io.Writer = os.Stdout

func step(format string, args ...any) { _, _ = fmt.Fprintf(progress, "==> "+format+"\n", args...) }

func (o options) validate() error {
	if o.duration <= 0 || o.warmup < 0 || o.clients <= 0 || o.crashAfter <= 0 || o.outbox < 0 ||
		o.sinks <= 0 || o.maxInFlight <= 0 || o.drainTimeout <= 0 || o.pgReplicas <= 0 {
		return errors.New("-duration, -clients, -crash-after, -sinks, -max-in-flight, -drain-timeout and -pg-replicas must be positive, -warmup and -outbox not negative")
	}
	if !o.sqlite && !o.postgres {
		return errors.New("-sqlite=false and -postgres=false leave nothing to run")
	}
	return nil
}

func run(o options) (err error) {
	if err := o.validate(); err != nil {
		return err
	}
	if o.jsonOut {
		progress = os.Stderr
	}
	// Whatever ends this process (an error, a panic, SIGINT/SIGTERM) kills the servers' process groups
	// (the private PostgreSQL's too) first: the deferred killAll, and the signal handler's.
	defer killAll()
	defer func() {
		if p := recover(); p != nil {
			killAll()
			panic(p)
		}
	}()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() {
		<-ctx.Done()
		killAll()
	}()

	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "bench-relay-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	if o.keep {
		defer step("kept %s", dir)
	} else {
		defer func() { _ = os.RemoveAll(dir) }()
	}
	if o.cpuProfile != "" {
		if err := os.MkdirAll(o.cpuProfile, 0o755); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		stopProfile, err := startLoadgenProfile(filepath.Join(o.cpuProfile, "loadgen.pprof"))
		if err != nil {
			return err
		}
		defer stopProfile()
	}

	facts := readMachine(dir)
	if !o.jsonOut {
		printMachine(facts, o)
	}
	res := results{Machine: facts, Options: jsonOptions(o)}
	secret := "whsec_" + randomTag(24)
	b := &bench{self: self, dir: dir, secret: secret, gen: newGenerator(secret), o: o}
	if err := b.runPhases(ctx, &res); err != nil {
		return err
	}
	judge(&res)
	if o.jsonOut {
		return printJSON(res)
	}
	printReport(res, o)
	return nil
}

// runPhases runs the phases in order: bare, relay, deliver x1 and x<sinks>, crash (on SQLite), then
// relay pg and deliver pg x1 and x<pg-replicas> (on PostgreSQL).
func (b *bench) runPhases(ctx context.Context, res *results) error {
	if b.o.sqlite {
		if err := b.runSQLite(ctx, res); err != nil {
			return err
		}
	}
	if b.o.postgres {
		return b.runPostgres(ctx, res)
	}
	return nil
}

// runSQLite runs the phases on SQLite (and the bare ceiling).
func (b *bench) runSQLite(ctx context.Context, res *results) error {
	o := b.o
	for _, mode := range []string{modeBare, modeRelay} {
		spec := phaseSpec{name: mode, mode: mode, replicas: 1, profile: mode}
		if mode == modeRelay {
			spec.store = b.sqlite(mode)
		}
		ph, err := b.runPhase(ctx, spec)
		if err != nil {
			return err
		}
		res.Phases = append(res.Phases, ph)
	}
	if !o.skipDelivery {
		counts := []int{1}
		if o.sinks > 1 {
			counts = append(counts, o.sinks)
		}
		for _, n := range counts {
			file := fmt.Sprintf("deliver-x%d", n)
			spec := phaseSpec{name: fmt.Sprintf("deliver x%d", n), mode: modeDeliver, store: b.sqlite(file), replicas: 1, profile: file}
			ph, err := b.runDeliver(ctx, spec, n)
			if err != nil {
				return err
			}
			res.Phases = append(res.Phases, ph)
		}
	}
	if !o.skipCrash {
		c, err := b.runCrash(ctx)
		if err != nil {
			return err
		}
		res.Crash = &c
	}
	return nil
}
