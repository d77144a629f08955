// Command demo runs stripe-operator end to end on one machine: a local control plane (the envtest
// kube-apiserver and etcd), the Stripe emulator on 127.0.0.1:12111 and the operator's manager binary.
// It applies config/samples/local, waits for the objects to become Ready and prints what `kubectl get`
// and `kubectl describe` show. `make demo` runs it; -keep leaves everything running for a person to
// explore with the printed KUBECONFIG.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type options struct {
	emulatorAddr     string
	externalEmulator bool
	samples          string
	keep             bool
	timeout          time.Duration
}

func run() error {
	var o options
	flag.StringVar(&o.emulatorAddr, "emulator-addr", "127.0.0.1:12111", "Address the Stripe emulator listens on (the samples point at 127.0.0.1:12111).")
	flag.BoolVar(&o.externalEmulator, "external-emulator", false, "Use an emulator already running at -emulator-addr instead of starting one.")
	flag.StringVar(&o.samples, "samples", "config/samples/local", "Folder of manifests to apply.")
	flag.BoolVar(&o.keep, "keep", false, "Keep the control plane, emulator and operator running until interrupted.")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "How long to wait for the objects to become Ready.")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	step("starting the control plane (kube-apiserver, etcd) and installing the CRDs")
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()

	var emu *emulator.Server
	if !o.externalEmulator {
		step("starting the Stripe emulator on " + o.emulatorAddr + " (test-mode rate limit: 25 requests/s)")
		emu, err = emulator.Listen(ctx, o.emulatorAddr, emulator.Options{RateLimit: emulator.RateLimit{Rate: 25}})
		if err != nil {
			return fmt.Errorf("start the emulator (is another one running? then pass -external-emulator): %w", err)
		}
		defer emu.Close()
	}

	logPath := filepath.Join(env.RepoRoot, "bin", "demo-manager.log")
	step("building and starting the operator (log: " + logPath + ")")
	manager, err := startManager(ctx, env, logPath)
	if err != nil {
		return err
	}
	defer func() {
		_ = manager.Process.Signal(syscall.SIGTERM)
		_ = manager.Wait()
	}()

	step("kubectl apply --server-side -f " + o.samples)
	if err := kubectl(env, "apply", "--server-side", "-f", filepath.Join(env.RepoRoot, o.samples)); err != nil {
		return err
	}
	step("kubectl wait --for=condition=Ready")
	wait := "--timeout=" + o.timeout.String()
	if err := kubectl(env, "wait", "--for=condition=Ready", "stripeconnections", "--all", wait); err != nil {
		return err
	}
	if err := kubectl(env, "wait", "--for=condition=Ready", "billingplans", "--all", "-A", wait); err != nil {
		return err
	}
	step("kubectl get stripeconnections,billingplans -A")
	if err := kubectl(env, "get", "stripeconnections,billingplans", "-A"); err != nil {
		return err
	}
	step("kubectl describe billingplans -n cloudip-demo")
	if err := kubectl(env, "describe", "billingplans", "-n", "cloudip-demo"); err != nil {
		return err
	}
	if emu != nil {
		step("Stripe requests the operator made (emulator counters)")
		printStats(emu.Stats())
	}

	if o.keep {
		step("running until interrupted; in another shell:\n    export KUBECONFIG=" + env.KubeconfigPath +
			"\n    " + env.KubectlPath() + " get billingplans -A")
		<-ctx.Done()
	}
	return nil
}

func startManager(ctx context.Context, env *testenv.Env, logPath string) (*exec.Cmd, error) {
	binary := filepath.Join(env.RepoRoot, "bin", "manager")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", binary, "./cmd")
	build.Dir, build.Stdout, build.Stderr = env.RepoRoot, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build the manager: %w", err)
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create the manager log: %w", err)
	}
	cmd := exec.Command(binary, //nolint:gosec // the binary was just built from this repository
		"--kubeconfig", env.KubeconfigPath,
		"--secret-namespaces", "stripe-operator-system",
		"--cluster-id", "demo",
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the manager: %w", err)
	}
	return cmd, nil
}

func kubectl(env *testenv.Env, args ...string) error {
	out, err := env.Kubectl(args...)
	fmt.Print(out)
	var kerr *testenv.KubectlError
	if errors.As(err, &kerr) {
		return fmt.Errorf("kubectl %s: %s", strings.Join(args, " "), strings.TrimSpace(kerr.Stderr))
	}
	return err
}

func printStats(stats emulator.Stats) {
	endpoints := make([]string, 0, len(stats.Requests))
	for endpoint := range stats.Requests {
		endpoints = append(endpoints, endpoint)
	}
	sort.Strings(endpoints)
	for _, endpoint := range endpoints {
		fmt.Printf("  %-40s %d\n", endpoint, stats.Requests[endpoint])
	}
	fmt.Printf("  429 answers: %d\n", stats.RateLimited)
}

func step(message string) { fmt.Printf("\n==> %s\n", message) }
