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
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/cloudip/stripe-operator/hack/internal/whsink"
)

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
	return whsink.Server{
		Name: "ledger-consumer", Addr: *addr, Secret: *secret, SecretFile: *secretFile, SecretEnv: "LEDGER_SECRET",
		SetSecrets: h.SetSecrets, Listing: "/records",
		Routes: func(mux *http.ServeMux) {
			mux.HandleFunc("GET /records", h.ServeRecords)
			mux.Handle("/", h) // every other path: deliveries (the handler answers 405 to anything but POST)
		},
	}.Run()
}
