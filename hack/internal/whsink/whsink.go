// Package whsink is what the project's sample receivers of the relay's deliveries share
// (hack/sample-sink for events, hack/ledger-consumer for ledger records): verifying a delivery with
// the Standard Webhooks library against one or more secrets (several during a rotation), and the
// small server around a handler — flags for the secret, a -secret-file read again when it changes,
// /healthz, a clean stop on SIGTERM or SIGINT.
package whsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// ParseSecrets turns a signing secret value, one or more "whsec_<base64>" separated by white space
// (as in the Secret a StripeEventSink's signingSecretRef selects), into verifiers.
func ParseSecrets(value string) ([]*standardwebhooks.Webhook, error) {
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return nil, errors.New("no signing secret (expected whsec_<base64>, several separated by white space)")
	}
	whs := make([]*standardwebhooks.Webhook, 0, len(fields))
	for i, f := range fields {
		if !strings.HasPrefix(f, "whsec_") {
			return nil, fmt.Errorf("secret %d does not start with whsec_", i+1)
		}
		wh, err := standardwebhooks.NewWebhook(f)
		if err != nil { // never print the secret itself
			return nil, fmt.Errorf("secret %d is not whsec_ followed by base64", i+1)
		}
		whs = append(whs, wh)
	}
	return whs, nil
}

// Verifier verifies deliveries with the secrets set last. It is safe for concurrent use; its zero
// value has no secret.
type Verifier struct {
	mu  sync.Mutex
	whs []*standardwebhooks.Webhook
}

// SetSecrets replaces the secrets deliveries are verified with. During a rotation the value holds the
// old and the new secret: a delivery signed with either verifies.
func (v *Verifier) SetSecrets(value string) error {
	whs, err := ParseSecrets(value)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.whs = whs
	return nil
}

// Verify accepts the delivery when any secret verifies it. The relay signs with each of its secrets and
// sends every signature; the library compares each against the one this secret gives.
func (v *Verifier) Verify(body []byte, header http.Header) error {
	v.mu.Lock()
	whs := v.whs
	v.mu.Unlock()
	if len(whs) == 0 {
		return errors.New("no signing secret configured")
	}
	var first error
	for _, wh := range whs {
		// Verify also refuses a webhook-timestamp more than 5 minutes from now: a captured delivery
		// cannot be replayed later by someone else (the relay stamps every attempt afresh).
		err := wh.Verify(body, header)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	// The library's errors read "unable to verify payload, err: <reason>": keep the reason.
	for _, reason := range []error{standardwebhooks.ErrRequiredHeaders, standardwebhooks.ErrInvalidHeaders,
		standardwebhooks.ErrMessageTooOld, standardwebhooks.ErrMessageTooNew, standardwebhooks.ErrNoMatchingSignature} {
		if errors.Is(first, reason) {
			return reason
		}
	}
	return first
}

// reloadEvery is how often -secret-file is checked for a change.
const reloadEvery = 2 * time.Second

// Server is a receiver's process: its name (in messages), address, secret sources and routes.
type Server struct {
	Name, Addr string
	// Secret, SecretFile and SecretEnv are the flags' values and the environment variable's name:
	// one of them gives the secrets (SecretFile is read again when it changes).
	Secret, SecretFile, SecretEnv string
	// SetSecrets is the handler's; Routes adds the handler's routes beside /healthz; Listing names
	// the JSON route, for the start message.
	SetSecrets func(string) error
	Routes     func(mux *http.ServeMux)
	Listing    string
}

// Run serves until SIGTERM or SIGINT, letting requests in flight finish.
func (s Server) Run() error {
	var loaded []byte
	switch {
	case s.Secret != "" && s.SecretFile != "":
		return errors.New("give -secret or -secret-file, not both")
	case s.SecretFile != "":
		b, err := os.ReadFile(s.SecretFile)
		if err != nil {
			return fmt.Errorf("read -secret-file: %w", err)
		}
		if err := s.SetSecrets(string(b)); err != nil {
			return fmt.Errorf("-secret-file %s: %w", s.SecretFile, err)
		}
		loaded = b
	case s.Secret != "":
		if err := s.SetSecrets(s.Secret); err != nil {
			return fmt.Errorf("-secret: %w", err)
		}
	default:
		if err := s.SetSecrets(os.Getenv(s.SecretEnv)); err != nil {
			return fmt.Errorf("set -secret-file, -secret or %s: %w", s.SecretEnv, err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
	s.Routes(mux)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "%s: taking deliveries on http://%s/ (GET /healthz, GET %s)\n", s.Name, ln.Addr(), s.Listing)

	if s.SecretFile != "" {
		go s.reload(ctx, loaded)
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop() // a second signal kills at once
	fmt.Fprintf(os.Stderr, "%s: stopping\n", s.Name)
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// reload sets the secrets again whenever the file's content changes. A value that does not parse (a
// file caught half-written) is reported and the secrets in use are kept.
func (s Server) reload(ctx context.Context, last []byte) {
	t := time.NewTicker(reloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := os.ReadFile(s.SecretFile)
		if err != nil || bytes.Equal(b, last) {
			continue
		}
		if err := s.SetSecrets(string(b)); err != nil {
			fmt.Fprintf(os.Stderr, "%s: -secret-file %s changed but is not usable, keeping the secrets in use: %v\n", s.Name, s.SecretFile, err)
		} else {
			fmt.Fprintf(os.Stderr, "%s: -secret-file %s changed: verifying with its secrets now\n", s.Name, s.SecretFile)
		}
		last = b
	}
}
