package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Relay is the webhook relay binary (./cmd/relay) running against an Env, out of cluster as a person
// runs it: --kubeconfig, its database in DataDir, both listeners on free 127.0.0.1 ports.
type Relay struct {
	*Process
	// IntakeURL is where Stripe delivers (StripeConnection spec.webhooks.relayURL).
	IntakeURL string
	// InternalURL serves /notifications (the manager's --relay-url), /metrics and the probes.
	InternalURL string
}

// RelayOptions shape a Relay.
type RelayOptions struct {
	// Binary is a relay built by BuildBinary (built into DataDir when empty).
	Binary string
	// DataDir holds the SQLite database; keep it to restart the relay on the same store.
	DataDir string
	// SecretNamespaces holds the API keys' Secrets (for backfill).
	SecretNamespaces string
	// IntakeAddr and InternalAddr (default: free ports; set them to restart on the same ones).
	IntakeAddr, InternalAddr string
	// BackfillInterval (default: the relay's).
	BackfillInterval time.Duration
	// PostgresDSN, when set, makes the store PostgreSQL (through --postgres-dsn-file) instead of
	// SQLite in DataDir.
	PostgresDSN string
	// ExtraArgs are appended to the relay's flags (e.g. --leader-elect).
	ExtraArgs []string
	Log       io.Writer
}

// StartRelay starts the relay and waits until it is ready (its cache synced, its store open).
func (e *Env) StartRelay(ctx context.Context, o RelayOptions) (*Relay, error) {
	if o.Binary == "" {
		o.Binary = filepath.Join(o.DataDir, "relay")
		if err := BuildBinary(ctx, e.RepoRoot, "./cmd/relay", o.Binary); err != nil {
			return nil, err
		}
	}
	var err error
	for _, addr := range []*string{&o.IntakeAddr, &o.InternalAddr} {
		if *addr == "" {
			if *addr, err = FreeAddr(); err != nil {
				return nil, err
			}
		}
	}
	// The relay acts as the install's ServiceAccount, with the install's RBAC (InstallRBAC).
	kubeconfig, err := e.KubeconfigAs(InstallNamespace, RelayServiceAccount)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--kubeconfig", kubeconfig,
		"--intake-bind-address", o.IntakeAddr,
		"--internal-bind-address", o.InternalAddr,
		"--data-dir", o.DataDir,
		"--secret-namespaces", o.SecretNamespaces,
		"--zap-log-level", "info",
	}
	if o.PostgresDSN != "" {
		dsnFile := filepath.Join(o.DataDir, "postgres-dsn")
		if err := os.WriteFile(dsnFile, []byte(o.PostgresDSN), 0o600); err != nil {
			return nil, fmt.Errorf("relay: write the DSN file: %w", err)
		}
		args = append(args, "--postgres-dsn-file", dsnFile)
	}
	if o.BackfillInterval > 0 {
		args = append(args, "--backfill-interval", o.BackfillInterval.String())
	}
	args = append(args, o.ExtraArgs...)
	p, err := StartProcess(o.Binary, args, o.Log)
	if err != nil {
		return nil, err
	}
	r := &Relay{Process: p, IntakeURL: "http://" + o.IntakeAddr, InternalURL: "http://" + o.InternalAddr}
	if err := p.WaitHTTP200(ctx, r.InternalURL+"/readyz", time.Minute); err != nil {
		p.Kill()
		return nil, fmt.Errorf("relay: %w", err)
	}
	return r, nil
}
