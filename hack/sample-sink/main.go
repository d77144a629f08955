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
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/cloudip/stripe-operator/hack/internal/whsink"
)

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
	return whsink.Server{
		Name: "sample-sink", Addr: *addr, Secret: *secret, SecretFile: *secretFile, SecretEnv: "SINK_SECRET",
		SetSecrets: h.SetSecrets, Listing: "/deliveries",
		Routes: func(mux *http.ServeMux) {
			mux.HandleFunc("GET /deliveries", h.ServeDeliveries)
			mux.Handle("/", h) // every other path: deliveries (the handler answers 405 to anything but POST)
		},
	}.Run()
}
