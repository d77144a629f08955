// Command ledger-consumer is a sample general-ledger consumer to copy: the endpoint of a
// StripeEventSink with `format: ledger`. The webhook relay POSTs it one ledger record per delivery
// (schema cloudip.ledger/v1: webhookrelay/ledger/schema/ledger-record.v1.json), signed with the
// Standard Webhooks scheme, webhook-id being the record's id. It verifies each delivery with the
// Standard Webhooks library, refuses a record of another schema, posts each record id once (a
// duplicate or a replay is acknowledged and said so), checks that a deposit's lines sum to it, and
// prints every record as an accountant reads it: a deposit with the invoices and customers it pays,
// its refunds and fees, gross, refunds, fees and net; every other record on one line.
//
//	go run ./hack/ledger-consumer -addr 127.0.0.1:12115 -secret-file /path/to/secret
//	go run ./hack/ledger-consumer -secret whsec_...            # or LEDGER_SECRET=whsec_... in the environment
//
// The secret is the value of the Secret key the sink's spec.signingSecretRef selects: one or more
// "whsec_<base64>" separated by white space (during a rotation, the old and the new). A -secret-file
// is read again when it changes, so a rotation needs no restart.
//
// Routes: POST to any path other than the two below is a delivery (point spec.url at
// http://127.0.0.1:12115/ledger); GET /healthz answers "ok"; GET /records lists the records posted,
// as JSON (for tests and the demo). SIGTERM or SIGINT stops it, letting requests in flight finish.
//
// consumer.go holds the handler (what a module copies), record.go the record as the consumer reads
// it and the deposit's sums, print.go the text; this file is flags and the server.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// reloadEvery is how often -secret-file is checked for a change.
const reloadEvery = 2 * time.Second

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ledger-consumer:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:12115", "Address to listen on.")
	secret := flag.String("secret", "", "Signing secret(s): whsec_<base64>, several separated by white space (default: $LEDGER_SECRET). Prefer -secret-file: a flag shows in the process list.")
	secretFile := flag.String("secret-file", "", "File holding the signing secret(s), read again when it changes (e.g. a mounted Secret's key).")
	keep := flag.Int("keep", 10000, "How many records GET /records keeps (0: all).")
	flag.Parse()

	h := &Handler{Out: os.Stdout, Keep: *keep}
	var loaded []byte
	switch {
	case *secret != "" && *secretFile != "":
		return errors.New("give -secret or -secret-file, not both")
	case *secretFile != "":
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return fmt.Errorf("read -secret-file: %w", err)
		}
		if err := h.SetSecrets(string(b)); err != nil {
			return fmt.Errorf("-secret-file %s: %w", *secretFile, err)
		}
		loaded = b
	case *secret != "":
		if err := h.SetSecrets(*secret); err != nil {
			return fmt.Errorf("-secret: %w", err)
		}
	default:
		if err := h.SetSecrets(os.Getenv("LEDGER_SECRET")); err != nil {
			return fmt.Errorf("set -secret-file, -secret or LEDGER_SECRET: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /records", h.ServeRecords)
	mux.Handle("/", h) // every other path: deliveries (the handler answers 405 to anything but POST)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "ledger-consumer: taking ledger records on http://%s/ (GET /healthz, GET /records)\n", ln.Addr())

	if *secretFile != "" {
		go reload(ctx, h, *secretFile, loaded)
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop() // a second signal kills at once
	fmt.Fprintln(os.Stderr, "ledger-consumer: stopping")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// reload sets the handler's secrets again whenever the file's content changes. A value that does not
// parse (a file caught half-written) is reported and the secrets in use are kept.
func reload(ctx context.Context, h *Handler, path string, last []byte) {
	t := time.NewTicker(reloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := os.ReadFile(path)
		if err != nil || bytes.Equal(b, last) {
			continue
		}
		if err := h.SetSecrets(string(b)); err != nil {
			fmt.Fprintf(os.Stderr, "ledger-consumer: -secret-file %s changed but is not usable, keeping the secrets in use: %v\n", path, err)
		} else {
			fmt.Fprintf(os.Stderr, "ledger-consumer: -secret-file %s changed: verifying with its secrets now\n", path)
		}
		last = b
	}
}
