// Command mirror is the StripeMirror's benchmark (webhookrelay/mirror, issue 12): how fast a mirror
// is filled from Stripe's list endpoints at Stripe's rate limit, and how fast it applies the relay's
// stored events, with the lag, on this machine. `make bench-mirror` runs it.
//
// One run, in one process:
//
//   - a private PostgreSQL (internal/pgtest: its own process group, default settings, stopped on
//     every way out) holding the mirrors' schemas (database mirror) and a PostgreSQL relay store
//     (database relay);
//   - the Stripe emulator (hack/stripe-emulator/emulator) served over real HTTP on 127.0.0.1, its
//     clock five days back; -accounts connected accounts are seeded with no rate limit, each with
//     -customers customers, -charges card charges, -subscriptions subscriptions (a product, a price,
//     an invoice and a charge each) and, three emulated days later, its automatic payout;
//   - backfill (backfill.go): the emulator's limit is set to Stripe's test mode
//     (StripeTestModeLimits: 25 req/s) and a stripeapi.Client with the connection's budget (-budget,
//     25 req/s) serves a mirror's Sources; Backfill runs on a fresh schema, the platform and every
//     connected account, -parallel accounts at once, and is timed against the budget's bound;
//   - catch-up (events.go, follow.go): -events customer.created (captured from the emulator while
//     seeding) and customer.updated events (the same objects changed, new ids, one minute apart per
//     customer) are put into a relay store (SQLite in a temporary folder, as the relay's; then the
//     PostgreSQL one) and the backfilled mirror's CatchUp is timed until its cursor is at the end;
//   - steady: the mirror runs (Mirror.Run, as the relay runs it) while a producer puts -rate
//     customer.updated events per second for -steady, waking the mirror after each Put as the relay's
//     intake does; every event's lag (applied − ReceivedAt, the mirror's cursor watched every 5 ms)
//     and Snapshot().Lag every 100 ms are reported, with the backlog when the producer stopped and the
//     time to drain it.
//
// It prints figures; it never asserts (it exits non-zero only when the run itself broke).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

type options struct {
	accounts      int
	customers     int
	charges       int
	subscriptions int
	budget        float64
	parallel      int
	batch         int
	events        int
	loaders       int
	rate          int
	steady        time.Duration
	drainTimeout  time.Duration
	sameSecond    float64
	postgres      bool
	seedWorkers   int
}

func main() {
	var o options
	flag.IntVar(&o.accounts, "accounts", 20, "Connected accounts (tenants) seeded in the emulator; the platform account is mirrored too.")
	flag.IntVar(&o.customers, "customers", 250, "Customers per connected account.")
	flag.IntVar(&o.charges, "charges", 20, "One-off card charges per connected account (0: none, and no payout).")
	flag.IntVar(&o.subscriptions, "subscriptions", 5, "Subscriptions per connected account (each: an invoice, a payment intent and a charge).")
	flag.Float64Var(&o.budget, "budget", 25, "The connection's budget (stripeapi.Budget.RequestsPerSecond); the emulator's limit is Stripe's test mode, 25 req/s.")
	flag.IntVar(&o.parallel, "parallel", 4, "mirror.Config.Parallel: accounts backfilled at once.")
	flag.IntVar(&o.batch, "batch", 500, "mirror.Config.BatchSize: events applied per transaction.")
	flag.IntVar(&o.events, "events", 50000, "Events put into each relay store before the catch-up (customer.created of the seeded customers first, then customer.updated).")
	flag.IntVar(&o.loaders, "loaders", 64, "Concurrent Puts while loading the stores (the SQLite store commits concurrent Puts together).")
	flag.IntVar(&o.rate, "rate", 2000, "Steady phase: events put per second (open loop).")
	flag.DurationVar(&o.steady, "steady", 10*time.Second, "Steady phase: how long the producer runs.")
	flag.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "Steady phase: after the producer stops, wait at most this long for the mirror to apply the rest.")
	flag.Float64Var(&o.sameSecond, "same-second", 0, "Steady phase: the fraction of events that are a second change of the previous event's customer in the same second (as Stripe sends invoice.created, finalized and paid in one second): the mirror flags the row and refetches it with a GET at the budget.")
	flag.BoolVar(&o.postgres, "postgres", true, "Also run the catch-up and steady phases on a PostgreSQL relay store (store.OpenPostgres on the private server), after SQLite's.")
	flag.IntVar(&o.seedWorkers, "seed-workers", 8, "Concurrent HTTP requests while seeding (no rate limit then).")
	flag.Parse()
	if o.sameSecond < 0 || o.sameSecond > 1 {
		fmt.Fprintln(os.Stderr, "bench-mirror: -same-second is a fraction in [0, 1]")
		os.Exit(2)
	}
	if o.accounts < 1 || o.customers < 1 || o.events < 1 || o.rate < 1 || o.parallel < 1 || o.batch < 1 || o.budget <= 0 {
		fmt.Fprintln(os.Stderr, "bench-mirror: -accounts, -customers, -events, -rate, -parallel, -batch and -budget must be positive")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-mirror:", err)
		os.Exit(1)
	}
	step("done in %s", time.Since(start).Round(100*time.Millisecond))
}

// step prints progress on stderr (the figures go to stdout).
func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func machine() string {
	return fmt.Sprintf("%d cores (runtime.NumCPU), GOMAXPROCS %d, %s %s/%s", runtime.NumCPU(), runtime.GOMAXPROCS(0),
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
