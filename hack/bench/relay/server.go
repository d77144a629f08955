package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/intake"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// The server's modes (-serve) and the phases' names.
const (
	modeBare  = "bare"
	modeRelay = "relay"
	modeCrash = "crash"
	// modeDeliver is the relay with the real Deliverer sending every event to the sinks (deliver.go);
	// modeSink is the sinks' process (sink.go).
	modeDeliver = "deliver"
	modeSink    = "sink"
)

// The endpoint the events are posted to: /stripe/{namespace}/{endpoint}, as Stripe is given.
var endpoint = intake.EndpointKey{Namespace: "bench", Name: "stripe"}

// readyPrefix starts the one line the server prints on stdout once it serves: the prefix, then its URL.
const readyPrefix = "bench-relay serving "

// serveOptions are the server process's flags (-serve...).
type serveOptions struct {
	mode       string
	db         string // SQLite file
	postgres   string // or PostgreSQL DSN
	secret     string
	outbox     int
	cpuProfile string
	// deliver: the sinks' URLs (comma separated), their Standard Webhooks secret, MaxInFlight; sink:
	// how many.
	sinkURLs    string
	sinkSecret  string
	maxInFlight int
	sinks       int
}

// runServer is the server process: it serves until SIGTERM (or until killed). SIGUSR1 starts the CPU
// profile, so that it covers the measured part of the phase only; SIGTERM stops and writes it.
func runServer(o serveOptions) error {
	if o.mode == modeSink {
		return runSinks(o.sinks, o.sinkSecret)
	}
	if o.secret == "" {
		return errors.New("-serve-secret is required")
	}
	ctx := context.Background()
	handler, st, delivered, err := serverHandler(ctx, o)
	if err != nil {
		return err
	}
	if st != nil {
		defer func() { _ = st.Close() }()
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("%shttp://%s\n", readyPrefix, ln.Addr())

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	var profile *os.File
	for {
		select {
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case s := <-signals:
			if s == syscall.SIGUSR1 {
				if profile == nil && o.cpuProfile != "" {
					if profile, err = startProfile(o.cpuProfile); err != nil {
						return err
					}
				}
				continue
			}
			if profile != nil {
				pprof.StopCPUProfile()
				if err := profile.Close(); err != nil {
					return fmt.Errorf("write the CPU profile: %w", err)
				}
			}
			shutdown, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdown); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			if delivered != nil {
				delivered()
			}
			if st != nil {
				if err := st.Close(); err != nil {
					return fmt.Errorf("close the store: %w", err)
				}
			}
			return nil
		}
	}
}

// serverHandler builds what the server of o.mode serves: its store (nil for bare, closed by the caller)
// and, for deliver, the function that stops the Deliverer and waits for it.
func serverHandler(ctx context.Context, o serveOptions) (http.Handler, *store.DB, func(), error) {
	switch o.mode {
	case modeBare:
		return bareHandler(o.secret), nil, nil, nil
	case modeRelay, modeDeliver:
	default:
		return nil, nil, nil, fmt.Errorf("-serve %q: want %s, %s, %s or %s", o.mode, modeBare, modeRelay, modeDeliver, modeSink)
	}
	if (o.db == "") == (o.postgres == "") {
		return nil, nil, nil, errors.New("-serve relay and deliver need -serve-db or -serve-postgres")
	}
	// The production settings: the zero SQLiteOptions (WAL, synchronous=FULL, group commit of 256),
	// the zero PostgresOptions (a pool of 20 connections; each write its own transaction).
	st, err := storeRef{file: o.db, dsn: o.postgres}.open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	timed := &timedStore{Store: st}
	mux := http.NewServeMux()
	mux.Handle(putStatsPath, timed)
	var (
		relay http.Handler
		stop  func()
	)
	if o.mode == modeRelay {
		relay, err = relayHandler(timed, o.secret, o.outbox)
	} else {
		relay, stop, err = deliverHandler(st, timed, o)
	}
	if err != nil {
		_ = st.Close()
		return nil, nil, nil, err
	}
	mux.Handle("/", relay)
	return mux, st, stop, nil
}

// bareHandler is the ceiling: what any relay must do for an event, and nothing more. It reads the
// body (bounded as the intake bounds it), verifies the signature and answers 200.
func bareHandler(secret string) http.Handler {
	secrets := []string{secret}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, intake.DefaultMaxBody))
		if err != nil {
			http.Error(w, "read_error", http.StatusBadRequest)
			return
		}
		if _, err := stripeapi.VerifyEvent(body, r.Header.Get("Stripe-Signature"), secrets, 0, time.Now()); err != nil {
			http.Error(w, stripeapi.RefusalReason(err), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "verified\n")
	})
}

// relayHandler is the real intake on the real store, with the endpoint's secret in memory and outbox
// rows per event (the deliveries it owes).
func relayHandler(st store.Store, secret string, outbox int) (http.Handler, error) {
	dests := make([]string, outbox)
	for i := range dests {
		dests[i] = fmt.Sprintf("sink-%d", i)
	}
	if outbox > 0 {
		dests[0] = "operator-notifier"
	}
	h, err := intake.New(intake.Options{
		Store:        st,
		Secrets:      intake.StaticSecrets{endpoint: {Secrets: []string{secret}, Livemode: false}},
		Registry:     prometheus.NewRegistry(),
		Destinations: func(intake.EndpointKey, *stripeapi.Event) []string { return dests },
	})
	if err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	return h, nil
}

func startProfile(path string) (*os.File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return f, nil
}

// startLoadgenProfile profiles this process (the load generator) until the returned function is called.
func startLoadgenProfile(path string) (func(), error) {
	f, err := startProfile(path)
	if err != nil {
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}
