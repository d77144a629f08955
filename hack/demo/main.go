// Command demo runs stripe-operator end to end on one machine: a local control plane (the envtest
// kube-apiserver and etcd), the Stripe emulator on 127.0.0.1:12111, the webhook relay's binary on
// 127.0.0.1:12112 and the operator's manager binary following the relay's feed. It applies
// config/samples/local, waits for the objects to become Ready and prints what `kubectl get` and
// `kubectl describe` show, renames the plan's product in the emulator's Dashboard and shows it renamed
// back through the event (events.go), then walks the sample tenant through onboarding as a person
// would (tenant.go), shows the relay's deliveries to the sinks (sink.go) and a tenant payout reconciled
// in the ledger (ledger.go), then has the relay mirror the connection's EU objects into a private
// PostgreSQL and queries the tenant's invoices and their payout there (mirror.go). `make demo` runs it;
// -keep leaves everything running for a person to explore with the printed KUBECONFIG. The manager,
// the relay, the sinks, PostgreSQL, the emulator and the control plane are stopped on every exit:
// success, error, interrupt, or the manager or the relay exiting on its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
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
	relayAddr        string
	relayInternal    string
	externalEmulator bool
	samples          string
	keep             bool
	timeout          time.Duration
}

// demoNamespace is the namespace of the samples' objects (config/samples/local/00-namespace.yaml).
const demoNamespace = "cloudip-demo"

// stopGrace is how long the manager and the relay have to exit after SIGTERM before they are killed.
const stopGrace = 10 * time.Second

//nolint:gocyclo // the demo's steps in order, each one call and its error check; splitting them up would hide the order
func run() error {
	var o options
	flag.StringVar(&o.emulatorAddr, "emulator-addr", "127.0.0.1:12111", "Address the Stripe emulator listens on (the samples point at 127.0.0.1:12111).")
	flag.StringVar(&o.relayAddr, "relay-addr", "127.0.0.1:12112", "Address the webhook relay takes Stripe's events on (the sample connection's spec.webhooks.relayURL).")
	flag.StringVar(&o.relayInternal, "relay-internal-addr", "127.0.0.1:12113", "Address of the relay's feed, metrics and probes (the manager's --relay-url).")
	flag.BoolVar(&o.externalEmulator, "external-emulator", false, "Use an emulator already running at -emulator-addr instead of starting one.")
	flag.StringVar(&o.samples, "samples", "config/samples/local", "Folder of manifests to apply.")
	flag.BoolVar(&o.keep, "keep", false, "Keep the control plane, emulator and operator running until interrupted.")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "How long to wait for the objects to become Ready (and for each tenant step).")
	flag.Parse()

	signals, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The run ends when a signal comes or the manager or the relay exits on its own; kubectl commands run under it.
	ctx, cancel := context.WithCancelCause(signals)
	defer cancel(nil)

	step("starting the control plane (kube-apiserver, etcd) and installing the CRDs and the RBAC")
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	// The manager and the relay run as the install's ServiceAccounts, with its RBAC, as on a cluster.
	if err := env.InstallRBAC(ctx); err != nil {
		return err
	}

	var emu *emulator.Server
	if !o.externalEmulator {
		step("starting the Stripe emulator on " + o.emulatorAddr + " (test-mode rate limit: 25 requests/s)")
		emu, err = emulator.Listen(ctx, o.emulatorAddr, emulator.Options{RateLimit: emulator.RateLimit{Rate: 25}})
		if err != nil {
			return fmt.Errorf("start the emulator (is another one running? then pass -external-emulator): %w", err)
		}
		defer emu.Close()
	}

	relayLogPath := filepath.Join(env.RepoRoot, "bin", "demo-relay.log")
	step("building and starting the webhook relay on " + o.relayAddr + " (log: " + relayLogPath + ")")
	relay, err := startRelay(ctx, env, o, relayLogPath)
	if err != nil {
		return err
	}
	defer relay.Stop(stopGrace)

	sinkLogPath := filepath.Join(env.RepoRoot, "bin", "demo-sample-sink.log")
	step("building and starting the sample sink, a platform module, on " + sampleSinkAddr + " (log: " + sinkLogPath + ")")
	sink, err := startSampleSink(ctx, env, sinkLogPath)
	if err != nil {
		return err
	}
	defer sink.Stop(stopGrace)

	ledgerLogPath := filepath.Join(env.RepoRoot, "bin", "demo-ledger-consumer.log")
	step("building and starting the ledger consumer, a general ledger, on " + ledgerConsumerAddr + " (log: " + ledgerLogPath + ")")
	ledgerConsumer, err := startLedgerConsumer(ctx, env, ledgerLogPath)
	if err != nil {
		return err
	}
	defer ledgerConsumer.Stop(stopGrace)

	logPath := filepath.Join(env.RepoRoot, "bin", "demo-manager.log")
	step("building and starting the operator, following the relay's feed (log: " + logPath + ")")
	manager, err := startManager(ctx, env, relay.InternalURL, logPath)
	if err != nil {
		return err
	}
	defer manager.Stop(stopGrace)
	for name, p := range map[string]*testenv.Process{"the manager": manager, "the relay": relay.Process, "the sample sink": sink, "the ledger consumer": ledgerConsumer} {
		go func() {
			<-p.Done()
			cancel(fmt.Errorf("%w: %s (%w); logs in %s", errProcessExited, name, p.Err(), filepath.Dir(logPath)))
		}()
	}

	step("kubectl apply --server-side -f " + o.samples)
	if err := kubectl(ctx, env, "apply", "--server-side", "-f", filepath.Join(env.RepoRoot, o.samples)); err != nil {
		return err
	}
	step("kubectl wait --for=condition=Ready")
	wait := "--timeout=" + seconds(o.timeout)
	if err := kubectl(ctx, env, "wait", "--for=condition=Ready", "stripeconnections", "--all", wait); err != nil {
		return err
	}
	if err := kubectl(ctx, env, "wait", "--for=condition=Ready", "billingplans", "--all", "-A", wait); err != nil {
		return err
	}
	step("kubectl get stripeconnections,billingplans -A")
	if err := kubectl(ctx, env, "get", "stripeconnections,billingplans", "-A"); err != nil {
		return err
	}
	step("kubectl describe billingplans -n cloudip-demo")
	if err := kubectl(ctx, env, "describe", "billingplans", "-n", demoNamespace); err != nil {
		return err
	}

	var control onboarding = overHTTP{base: "http://" + o.emulatorAddr}
	if emu != nil {
		control = inProcess{emu: emu.Emulator}
	}
	if err := demoDashboardEdit(ctx, env, eventDemo{emulatorBase: "http://" + o.emulatorAddr, namespace: demoNamespace, plan: "cloudip-platform", timeout: o.timeout}); err != nil {
		return err
	}
	if err := demoTenant(ctx, env, control, tenantDemo{namespace: demoNamespace, name: "acme", timeout: o.timeout}); err != nil {
		return err
	}
	if err := demoSink(ctx, env, demoNamespace, sinkLogPath, o.timeout); err != nil {
		return err
	}
	if err := demoLedger(ctx, env, ledgerDemo{emu: emu, emulatorBase: "http://" + o.emulatorAddr, namespace: demoNamespace,
		tenant: "acme", sink: "demo-ledger", logPath: ledgerLogPath, timeout: o.timeout}); err != nil {
		return err
	}
	stopPostgres, err := demoMirror(ctx, env, mirrorDemo{namespace: demoNamespace, tenant: "acme", connection: "stripe-local", region: "eu",
		name: "stripe-eu", schema: "stripe_eu", secret: "reporting-db", database: "reporting", invoices: ledgerInvoices(emu), timeout: o.timeout})
	defer stopPostgres()
	if err != nil {
		return err
	}

	if emu != nil {
		step("Stripe requests the emulator served: the operator's, the relay's (backfill, ledger reads, the mirror's backfill) and the demo's own (the tenant's month)")
		printStats(emu.Stats())
	}

	if o.keep {
		step("running until interrupted; in another shell:\n    export KUBECONFIG=" + env.KubeconfigPath +
			"\n    " + env.KubectlPath() + " get billingplans,stripetenants -A")
		<-ctx.Done()
		if cause := context.Cause(ctx); errors.Is(cause, errProcessExited) {
			return cause
		}
	}
	return nil
}

var (
	errProcessExited = errors.New("a process of the demo exited")
	errInterrupted   = errors.New("interrupted")
)

// startRelay builds and starts the relay (a fresh store each run) and waits until it is ready.
func startRelay(ctx context.Context, env *testenv.Env, o options, logPath string) (*testenv.Relay, error) {
	dataDir := filepath.Join(env.RepoRoot, "bin", "demo-relay")
	if err := os.RemoveAll(dataDir); err != nil {
		return nil, fmt.Errorf("clear the relay's data: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("the relay's data: %w", err)
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create the relay log: %w", err)
	}
	relay, err := env.StartRelay(ctx, testenv.RelayOptions{DataDir: dataDir, SecretNamespaces: "stripe-operator-system",
		IntakeAddr: o.relayAddr, InternalAddr: o.relayInternal, Log: log})
	if err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("start the relay (is a demo already running?): %w", err)
	}
	return relay, nil
}

// startManager builds and starts the manager binary, following the relay's feed at relayURL.
func startManager(ctx context.Context, env *testenv.Env, relayURL, logPath string) (*testenv.Process, error) {
	binary := filepath.Join(env.RepoRoot, "bin", "manager")
	if err := testenv.BuildBinary(ctx, env.RepoRoot, "./cmd/manager", binary); err != nil {
		return nil, fmt.Errorf("build the manager: %w", err)
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create the manager log: %w", err)
	}
	kubeconfig, err := env.KubeconfigAs(testenv.InstallNamespace, testenv.ManagerServiceAccount)
	if err != nil {
		return nil, err
	}
	return testenv.StartProcess(binary, []string{
		"--kubeconfig", kubeconfig,
		"--secret-namespaces", "stripe-operator-system",
		"--cluster-id", "demo",
		"--relay-url", relayURL,
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0",
	}, log)
}

// kubectl runs kubectl and prints what it printed; an interrupt (or the manager exiting) stops it.
func kubectl(ctx context.Context, env *testenv.Env, args ...string) error {
	out, err := kubectlOutput(ctx, env, args...)
	fmt.Print(out)
	return err
}

// kubectlOutput runs kubectl and returns what it printed.
func kubectlOutput(ctx context.Context, env *testenv.Env, args ...string) (string, error) {
	return kubectlInput(ctx, env, "", args...)
}

// kubectlInput runs kubectl with stdin (for "-f -") and returns what it printed.
func kubectlInput(ctx context.Context, env *testenv.Env, stdin string, args ...string) (string, error) {
	out, err := env.KubectlContext(ctx, stdin, args...)
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		if errors.Is(cause, context.Canceled) {
			cause = errInterrupted
		}
		return out, fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), cause)
	}
	var kerr *testenv.KubectlError
	if errors.As(err, &kerr) {
		return out, fmt.Errorf("kubectl %s: %s", strings.Join(args, " "), strings.TrimSpace(kerr.Stderr))
	}
	return out, err
}

// seconds formats a duration as kubectl's --timeout is usually written (120s).
func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds())) }

func printStats(stats emulator.Stats) {
	endpoints := make([]string, 0, len(stats.Requests))
	for endpoint := range stats.Requests {
		endpoints = append(endpoints, endpoint)
	}
	sort.Strings(endpoints)
	width := 0
	for _, endpoint := range endpoints {
		width = max(width, len(endpoint))
	}
	for _, endpoint := range endpoints {
		fmt.Printf("  %-*s %d\n", width, endpoint, stats.Requests[endpoint])
	}
	fmt.Printf("  429 answers: %d\n", stats.RateLimited)
}

func step(message string) { fmt.Printf("\n==> %s\n", message) }
