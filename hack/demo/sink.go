package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudip/stripe-operator/internal/testenv"
)

// The sample sink (hack/sample-sink) stands for a platform module: the relay delivers the
// connection's EU events to it (config/samples/local/05-eventsink.yaml), and it verifies each with
// the Standard Webhooks library and prints it.
const (
	sampleSinkAddr = "127.0.0.1:12114"
	// sampleSinkSecret is the secret of 05-eventsink.yaml's Secret.
	sampleSinkSecret = "whsec_Y2xvdWRpcC1kZW1vLXNpbmstc2lnbmluZy1rZXktMzJi"
)

// startSampleSink builds and starts the sample sink; its secret goes through a file, not argv.
func startSampleSink(ctx context.Context, env *testenv.Env, logPath string) (*testenv.Process, error) {
	dir := filepath.Join(env.RepoRoot, "bin")
	binary := filepath.Join(dir, "sample-sink")
	if err := testenv.BuildBinary(ctx, env.RepoRoot, "./hack/sample-sink", binary); err != nil {
		return nil, fmt.Errorf("build the sample sink: %w", err)
	}
	secretFile := filepath.Join(dir, "demo-sink-secret")
	if err := os.WriteFile(secretFile, []byte(sampleSinkSecret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write the sample sink's secret: %w", err)
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create the sample sink's log: %w", err)
	}
	p, err := testenv.StartProcess(binary, []string{"-addr", sampleSinkAddr, "-secret-file", secretFile}, log)
	if err != nil {
		return nil, err
	}
	if err := p.WaitHTTP200(ctx, "http://"+sampleSinkAddr+"/healthz", 30*time.Second); err != nil {
		p.Kill()
		return nil, fmt.Errorf("sample sink: %w", err)
	}
	return p, nil
}

// demoSink shows what the relay delivered: the sink's status as the relay writes it, and the lines
// the sample sink printed for each verified delivery.
func demoSink(ctx context.Context, env *testenv.Env, namespace, logPath string, timeout time.Duration) error {
	step("the relay delivered the connection's events to StripeEventSink demo-module (hack/sample-sink verified each)")
	deadline := time.Now().Add(timeout)
	for {
		n, err := sampleSinkDeliveries(ctx)
		if err != nil {
			return err
		}
		// The relay writes the sink's status every few seconds: wait until it counts what arrived.
		counts, err := kubectlOutput(ctx, env, "get", "stripeeventsink", "demo-module", "-n", namespace, "-o", "jsonpath={.status.delivered} {.status.pending}")
		if err != nil {
			return err
		}
		var delivered, pending int
		if _, err := fmt.Sscan(counts, &delivered, &pending); err == nil && n > 0 && delivered >= n && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the sample sink has %d deliveries; the sink's status says delivered, pending: %q, after %s", n, counts, timeout)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(500 * time.Millisecond):
		}
	}
	if err := kubectl(ctx, env, "get", "stripeeventsinks", "-n", namespace, "-o", "wide"); err != nil {
		return err
	}
	out, err := os.ReadFile(logPath)
	if err != nil {
		return fmt.Errorf("read the sample sink's log: %w", err)
	}
	fmt.Printf("\n  what hack/sample-sink printed (%s):\n", logPath)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fmt.Println("  " + line)
	}
	return nil
}

func sampleSinkDeliveries(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+sampleSinkAddr+"/deliveries", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ask the sample sink: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var deliveries []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&deliveries); err != nil {
		return 0, fmt.Errorf("the sample sink's deliveries: %w", err)
	}
	return len(deliveries), nil
}
