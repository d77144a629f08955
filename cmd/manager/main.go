// Command manager runs the stripe-operator controllers against the cluster of the current kubeconfig
// (--kubeconfig, $KUBECONFIG, or the in-cluster config).
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudip/stripe-operator/internal/cli"
	"github.com/cloudip/stripe-operator/internal/controller"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/version"

	// Mozilla's root CAs, used only where the system has none: the image has no base (scratch).
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

// gcPercent is the manager's GOGC unless the environment sets one.
const gcPercent = 50

type flags struct {
	metricsAddr      string
	metricsSecure    bool
	probeAddr        string
	leaderElect      bool
	leaderElectionNS string
	clusterID        string
	secretNamespaces string
	resync           time.Duration
	concurrency      string
	maxRetryDelay    time.Duration
	recheckRate      float64
	relayURL         string
}

func parseFlags() (flags, zap.Options) {
	var f flags
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", "0", "Address of the metrics endpoint (:8443 for https, :8080 for http); 0 turns it off.")
	flag.BoolVar(&f.metricsSecure, "metrics-secure", true, "Serve metrics over https with Kubernetes authentication and authorization.")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.BoolVar(&f.leaderElect, "leader-elect", false, "Elect a leader, so that only one replica reconciles at a time.")
	flag.StringVar(&f.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader-election Lease; empty: the pod's own namespace (required out of cluster with --leader-elect).")
	flag.StringVar(&f.clusterID, "cluster-id", "", "Id written into the tags of every Stripe object; default: the UID of the kube-system namespace.")
	flag.StringVar(&f.secretNamespaces, "secret-namespaces", cli.DefaultNamespace(), "Comma-separated namespaces whose Secrets may hold Stripe API keys (the only Secrets the operator reads).")
	flag.DurationVar(&f.resync, "resync-period", 10*time.Hour, "How often an object in sync is observed again (jittered by up to 10%).")
	flag.DurationVar(&f.maxRetryDelay, "max-retry-delay", 5*time.Minute, "Longest wait before retrying a failing object (backoff from 1 s, doubling).")
	flag.StringVar(&f.concurrency, "max-concurrent-reconciles", "BillingPlan=4,StripeTenant=4", "Concurrent reconciles by kind, as Kind=N,Kind=N.")
	flag.Float64Var(&f.recheckRate, "recheck-rate", managed.DefaultRecheckRate, "Passes per second, for all objects of a kind together, of the rechecks adapters ask for (a tenant onboarding).")
	zapOptions := zap.Options{Development: false}
	flag.StringVar(&f.relayURL, "relay-url", "", "Internal base URL of the webhook relay (http://relay-internal.<namespace>.svc:8081): the leader follows its feed and reconciles what Stripe's events concern at once. Empty: Stripe's changes wait for the resync.")
	flag.Var(version.Flag("manager"), "version", "Print the version and exit.")
	zapOptions.BindFlags(flag.CommandLine)
	flag.Parse()
	return f, zapOptions
}

func run() error {
	f, zapOptions := parseFlags()
	if os.Getenv("GOGC") == "" {
		// The operator's heap is small and is mostly its informer cache; Go's default (GOGC=100) lets
		// it grow to twice what is live before collecting. Half that headroom costs a little CPU and
		// keeps resident memory per object lower (bench-converge -scenario tenants). GOGC in the
		// environment still decides.
		debug.SetGCPercent(gcPercent)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOptions)))
	log := ctrl.Log.WithName("setup")

	concurrency, err := parseConcurrency(f.concurrency)
	if err != nil {
		return err
	}
	secretNamespaces := cli.SplitList(f.secretNamespaces)
	if len(secretNamespaces) == 0 {
		return fmt.Errorf("--secret-namespaces names no namespace")
	}

	scheme := cli.NewScheme()

	config, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	metricsOptions := metricsserver.Options{
		BindAddress:   f.metricsAddr,
		SecureServing: f.metricsSecure,
		// HTTP/2 is off: the Rapid Reset and Stream Cancellation CVEs made kubebuilder turn it off too.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if f.metricsSecure {
		metricsOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	secretCache := map[string]cache.Config{}
	for _, ns := range secretNamespaces {
		secretCache[ns] = cache.Config{}
	}
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions,
		HealthProbeBindAddress:  f.probeAddr,
		LeaderElection:          f.leaderElect,
		LeaderElectionID:        "stripe-operator.payments.cloudip.io",
		LeaderElectionNamespace: f.leaderElectionNS,
		// Secrets are watched only where API keys may live: least privilege, and no cluster-wide
		// Secret cache in memory. managedFields are dropped from every cached object: the operator
		// never reads them (it writes by merge patch and server-side apply), and they are a third of
		// a tenant's size (bench-converge: 2.7 of 7.5 KiB).
		Cache: cache.Options{
			ByObject:         map[client.Object]cache.ByObject{&corev1.Secret{}: {Namespaces: secretCache}},
			DefaultTransform: cache.TransformStripManagedFields(),
		},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	clusterID := f.clusterID
	if clusterID == "" {
		if clusterID, err = kubeSystemUID(mgr.GetAPIReader()); err != nil {
			return err
		}
	}
	stripeMetrics, err := stripeapi.NewMetrics(metrics.Registry)
	if err != nil {
		return fmt.Errorf("register Stripe metrics: %w", err)
	}
	if err := version.Register(metrics.Registry); err != nil {
		return err
	}
	if err := controller.SetupAll(mgr, controller.Options{
		ClusterID:        clusterID,
		Resync:           f.resync,
		RecheckRate:      f.recheckRate,
		SecretNamespaces: secretNamespaces,
		Concurrency:      concurrency,
		MaxRetryDelay:    f.maxRetryDelay,
		Metrics:          stripeMetrics,
		Registerer:       metrics.Registry,
		RelayURL:         f.relayURL,
	}); err != nil {
		return fmt.Errorf("set up controllers: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("ready check: %w", err)
	}
	log.Info("starting manager", "clusterID", clusterID, "secretNamespaces", secretNamespaces)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}

// kubeSystemUID is a stable id for the cluster: the kube-system namespace is never deleted.
func kubeSystemUID(reader client.Reader) (string, error) {
	var ns corev1.Namespace
	if err := reader.Get(context.Background(), types.NamespacedName{Name: "kube-system"}, &ns); err != nil {
		return "", fmt.Errorf("read the kube-system namespace for the cluster id (or pass --cluster-id): %w", err)
	}
	return string(ns.UID), nil
}

func parseConcurrency(value string) (map[string]int, error) {
	out := map[string]int{}
	for _, pair := range cli.SplitList(value) {
		kind, n, ok := strings.Cut(pair, "=")
		count, err := strconv.Atoi(n)
		if !ok || err != nil || count < 1 {
			return nil, fmt.Errorf("--max-concurrent-reconciles: %q is not Kind=N with N ≥ 1", pair)
		}
		out[kind] = count
	}
	return out, nil
}
