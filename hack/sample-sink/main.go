// Command sample-sink is a StripeEventSink endpoint to copy: it takes the webhook relay's deliveries,
// verifies them with the Standard Webhooks library, drops duplicates by event id, notes deliveries that
// arrive out of order and prints one line per delivery:
//
//	go run ./hack/sample-sink -addr 127.0.0.1:12114 -secret-file /path/to/secret
//	go run ./hack/sample-sink -secret whsec_...            # or SINK_SECRET=whsec_... in the environment
//
// The secret is the value of the Secret key a StripeEventSink's spec.signingSecretRef selects: one or
// more "whsec_<base64>" separated by white space. During a rotation it holds the old and the new
// secret, and a delivery signed with either verifies. A -secret-file is read again when it changes
// (a mounted Kubernetes Secret is updated in place), so a rotation needs no restart.
//
// Routes: POST to any path other than the two below is a delivery (point spec.url at
// http://127.0.0.1:12114/ or a path under it); GET /healthz answers "ok"; GET /deliveries lists what
// was received as JSON (for tests and the demo). SIGTERM or SIGINT stops it, letting requests in flight
// finish.
//
// sink.go holds the handler (what a module copies); this file is flags and the server.
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
		fmt.Fprintln(os.Stderr, "sample-sink:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:12114", "Address to listen on.")
	secret := flag.String("secret", "", "Signing secret(s): whsec_<base64>, several separated by white space (default: $SINK_SECRET). Prefer -secret-file: a flag shows in the process list.")
	secretFile := flag.String("secret-file", "", "File holding the signing secret(s), read again when it changes (e.g. a mounted Secret's key).")
	jsonOut := flag.Bool("json", false, "Print one JSON object per delivery instead of a line of text.")
	keep := flag.Int("keep", 10000, "How many deliveries GET /deliveries keeps (0: all).")
	flag.Parse()

	h := &Handler{Out: os.Stdout, JSON: *jsonOut, Keep: *keep}
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
		if err := h.SetSecrets(os.Getenv("SINK_SECRET")); err != nil {
			return fmt.Errorf("set -secret-file, -secret or SINK_SECRET: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /deliveries", h.ServeDeliveries)
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
	fmt.Fprintf(os.Stderr, "sample-sink: taking deliveries on http://%s/ (GET /healthz, GET /deliveries)\n", ln.Addr())

	if *secretFile != "" {
		go reload(ctx, h, *secretFile, loaded)
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop() // a second signal kills at once
	fmt.Fprintln(os.Stderr, "sample-sink: stopping")
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
			fmt.Fprintf(os.Stderr, "sample-sink: -secret-file %s changed but is not usable, keeping the secrets in use: %v\n", path, err)
		} else {
			fmt.Fprintf(os.Stderr, "sample-sink: -secret-file %s changed: verifying with its secrets now\n", path)
		}
		last = b
	}
}
