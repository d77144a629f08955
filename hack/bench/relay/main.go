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
	"strconv"
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
	flag.BoolVar(&o.keep, "keep", false, "Keep the temporary directory with the stores (its path is printed).")
	// The server side: this binary re-executed (server.go). Not for direct use.
	flag.StringVar(&serve.mode, "serve", "", "internal: serve as the benchmark's server process: bare or relay")
	flag.StringVar(&serve.db, "serve-db", "", "internal: the relay's SQLite file")
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

func run(o options) (err error) {
	if o.duration <= 0 || o.warmup < 0 || o.clients <= 0 || o.crashAfter <= 0 || o.outbox < 0 ||
		o.sinks <= 0 || o.maxInFlight <= 0 || o.drainTimeout <= 0 {
		return errors.New("-duration, -clients, -crash-after, -sinks, -max-in-flight and -drain-timeout must be positive, -warmup and -outbox not negative")
	}
	if o.jsonOut {
		progress = os.Stderr
	}
	// Whatever ends this process (an error, a panic, SIGINT/SIGTERM) kills the server's process group
	// first: the deferred killAll, and the signal handler's.
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
	gen := newGenerator(secret)

	if err := runPhases(ctx, self, dir, secret, gen, o, &res); err != nil {
		return err
	}
	judge(&res)
	if o.jsonOut {
		return printJSON(res)
	}
	printReport(res, o)
	return nil
}

// runPhases runs the phases in order: bare, relay, deliver x1 and x<sinks>, crash.
func runPhases(ctx context.Context, self, dir, secret string, gen *generator, o options, res *results) error {
	for _, mode := range []string{modeBare, modeRelay} {
		ph, err := runPhase(ctx, self, dir, mode, secret, gen, o)
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
			ph, err := runDeliver(ctx, self, dir, secret, gen, o, n)
			if err != nil {
				return err
			}
			res.Phases = append(res.Phases, ph)
		}
	}
	if !o.skipCrash {
		c, err := runCrash(ctx, self, dir, secret, gen, o)
		if err != nil {
			return err
		}
		res.Crash = &c
	}
	return nil
}

// runPhase starts a server of that mode, loads it for -warmup, then measures it for -duration, and
// stops it (SIGTERM: the relay closes its store; a profile, if asked for, is written).
func runPhase(ctx context.Context, self, dir, mode, secret string, gen *generator, o options) (phase, error) {
	srv, err := startServer(self, serverArgs(dir, mode, secret, o))
	if err != nil {
		return phase{}, err
	}
	defer func() { _ = srv.stop() }()
	step("%s: server pid %d at %s; %d clients, warm-up %s, measuring %s", mode, srv.pid(), srv.url, o.clients, o.warmup, o.duration)

	lg := newLoad(srv.url, gen, o.clients, false)
	defer lg.close()
	var (
		before   cpuSample
		statsErr error
	)
	workers, window, err := lg.run(ctx, o.warmup, o.duration, func() {
		if mode == modeRelay {
			statsErr = resetPutStats(lg.http, srv.url)
		}
		before = sampleCPU(srv.pid())
		if o.cpuProfile != "" {
			_ = srv.signal(syscall.SIGUSR1) // the server starts its CPU profile
		}
	})
	after := sampleCPU(srv.pid())
	if err != nil {
		return phase{}, err
	}
	var puts *putStats
	if mode == modeRelay && statsErr == nil {
		s, err := readPutStats(lg.http, srv.url)
		puts, statsErr = &s, err
	}
	if statsErr != nil {
		return phase{}, statsErr
	}
	if err := srv.check(); err != nil {
		return phase{}, err
	}
	ph := summarize(mode, merge(workers), window, before, after)
	ph.Put = puts
	if err := srv.stop(); err != nil {
		return phase{}, err
	}
	if mode == modeRelay {
		if ph.Stored, err = countStored(ctx, filepath.Join(dir, mode+".db")); err != nil {
			return phase{}, err
		}
	}
	step("%s: %.0f events/s, p50 %s, p99 %s, %d errors", mode, ph.EventsPerSec, ms(ph.P50), ms(ph.P99), ph.Errors)
	return ph, nil
}

// serverArgs are the server process's flags for a phase (bare, relay or crash): the crash phase serves
// the relay, on a store of its own, and is not profiled.
func serverArgs(dir, name, secret string, o options) []string {
	mode := name
	if name == modeCrash {
		mode = modeRelay
	}
	args := []string{"-serve", mode, "-serve-secret", secret, "-serve-outbox", strconv.Itoa(o.outbox)}
	if mode == modeRelay {
		args = append(args, "-serve-db", filepath.Join(dir, name+".db"))
	}
	if o.cpuProfile != "" && name != modeCrash {
		args = append(args, "-serve-cpuprofile", filepath.Join(o.cpuProfile, name+".pprof"))
	}
	return args
}
