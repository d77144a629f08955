// Command stripe-emulator serves the project's Stripe emulator over HTTP for
// demos and manual testing:
//
//	go run ./hack/stripe-emulator -addr 127.0.0.1:12111
//
// Point a Stripe client at http://127.0.0.1:12111 with any sk_test_ key.
// The control API lives under /_emulator/ (see README.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:12111", "address to listen on (keep it on loopback: the control API is unauthenticated)")
	rate := flag.Float64("rate", 25, "global request rate limit in requests/s (Stripe test mode: 25; 0 = unlimited); the Search API is also held to 20/s")
	specCheck := flag.Bool("spec-check", true, "validate every request against Stripe's OpenAPI spec through stripe-mock")
	seed := flag.Uint64("seed", 1, "seed of the fault-injection random source (faults are configured through POST /_emulator/faults)")
	logRequests := flag.Bool("log", false, "log every API request to stderr")
	searchLag := flag.Duration("search-lag", emulator.DefaultSearchLag, "delay before new or changed objects become searchable (Stripe: under a minute)")
	platform := flag.String("platform-account", "", "platform account id (default: a fresh acct_ id)")
	flag.Parse()

	opts := emulator.Options{
		PlatformAccount:  *platform,
		SearchLag:        *searchLag,
		Faults:           emulator.FaultConfig{Seed: *seed},
		DisableSpecCheck: !*specCheck,
	}
	if *searchLag == 0 {
		opts.SearchLag = -1 // the flag's 0 means "immediately"
	}
	if *rate > 0 {
		_, endpoints := emulator.StripeTestModeLimits()
		opts.RateLimit, opts.EndpointLimits = emulator.RateLimit{Rate: *rate}, endpoints
	}
	if *logRequests {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	srv, err := emulator.Listen(ctx, *addr, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stripe-emulator:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "stripe-emulator: serving Stripe API %s on %s (platform account %s, rate %s, spec check %v, ready in %v)\n",
		emulator.SpecVersionOrEmpty(), srv.URL, srv.PlatformAccount(), rateString(*rate), *specCheck, time.Since(start).Round(time.Millisecond))
	<-ctx.Done()
	srv.Close()
}

func rateString(r float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%g/s", r)
}
