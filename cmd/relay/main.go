// Command relay is the webhook relay: it takes Stripe's events in on /stripe/{namespace}/{endpoint},
// verifies them against the signing secrets the operator writes, stores each once (SQLite in WAL mode
// under --data-dir) before it answers 2xx, backfills what it missed from /v1/events, and serves the
// operator's feed of events about the objects it owns. It runs against the cluster of the current
// kubeconfig (--kubeconfig, $KUBECONFIG, or the in-cluster config), like the manager.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudip/stripe-operator/internal/cli"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
	"github.com/cloudip/stripe-operator/internal/version"
	"github.com/cloudip/stripe-operator/webhookrelay/backfill"
	"github.com/cloudip/stripe-operator/webhookrelay/delivery"
	"github.com/cloudip/stripe-operator/webhookrelay/feed"
	"github.com/cloudip/stripe-operator/webhookrelay/intake"
	"github.com/cloudip/stripe-operator/webhookrelay/kube"
	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
	"github.com/cloudip/stripe-operator/webhookrelay/store"

	// Mozilla's root CAs, used only where the system has none: the image has no base (scratch).
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}

type flags struct {
	intakeAddr       string
	internalAddr     string
	dataDir          string
	postgresDSNFile  string
	leaderElect      bool
	leaderElectionNS string
	secretNamespaces string
	backfillInterval time.Duration
	claimLease       time.Duration
	tolerance        time.Duration
	maxBody          int64
}

// pruneEvery is how often events past store.MinRetention are forgotten.
const pruneEvery = 6 * time.Hour

func run() error {
	var f flags
	flag.StringVar(&f.intakeAddr, "intake-bind-address", ":8080", "Address of Stripe's POSTs to /stripe/{namespace}/{endpoint} (plain HTTP, behind the cluster's TLS Ingress).")
	flag.StringVar(&f.internalAddr, "internal-bind-address", ":8081", "Address of /healthz, /readyz, /metrics and the operator's /notifications feed (in-cluster only).")
	flag.StringVar(&f.dataDir, "data-dir", "/var/lib/stripe-relay", "Folder of the SQLite database (a PersistentVolume).")
	flag.BoolVar(&f.leaderElect, "leader-elect", false, "Elect a leader among the relay's replicas (PostgreSQL store): intake, delivery and the feed run on every replica; backfill, rerouting held events, pruning, sink status and replays on the leader only.")
	flag.StringVar(&f.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader-election Lease (default: the pod's own).")
	flag.StringVar(&f.postgresDSNFile, "postgres-dsn-file", "", "File holding a PostgreSQL connection string (a mounted Secret's key): the store is then PostgreSQL, shared by the relay's replicas, instead of SQLite in --data-dir.")
	flag.DurationVar(&f.claimLease, "claim-lease", store.DefaultClaimLease, "PostgreSQL store: how long a replica's claim on a delivery lasts unless renewed (renewed every third of it while the attempt runs); a replica that dies leaves its deliveries to the others after this long.")
	flag.StringVar(&f.secretNamespaces, "secret-namespaces", cli.DefaultNamespace(), "Comma-separated namespaces whose Secrets may hold Stripe API keys (read for backfill).")
	flag.DurationVar(&f.backfillInterval, "backfill-interval", backfill.DefaultInterval, "How often /v1/events is listed for what the relay missed (also once at start).")
	flag.DurationVar(&f.tolerance, "webhook-tolerance", stripeapi.DefaultWebhookTolerance, "How far a Stripe-Signature timestamp may be from now, either way.")
	flag.Int64Var(&f.maxBody, "max-body-bytes", intake.DefaultMaxBody, "Largest request body accepted (413 beyond).")
	flag.Var(version.Flag("relay"), "version", "Print the version and exit.")
	zapOptions := zap.Options{}
	zapOptions.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOptions)))
	log := ctrl.Log.WithName("relay")

	secretNamespaces := cli.SplitList(f.secretNamespaces)
	if len(secretNamespaces) == 0 {
		return errors.New("--secret-namespaces names no namespace")
	}
	config, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	// The cache holds the webhook endpoints' signing secrets and no other Secret. The API keys (read by
	// backfill every few minutes) and the sinks' secrets (every 30 s) are read from the API server.
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		Scheme:                  cli.NewScheme(),
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		LeaderElection:          f.leaderElect,
		LeaderElectionID:        "stripe-relay.payments.cloudip.io",
		LeaderElectionNamespace: f.leaderElectionNS,
		Cache: cache.Options{
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Secret{}: {Label: kube.SigningSecretSelector()},
			},
			DefaultTransform: cache.TransformStripManagedFields(),
		},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	db, err := openStore(context.Background(), f)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error(err, "close the store")
		}
	}()

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), version.Collector())
	if err := kube.IndexTenants(mgr); err != nil {
		return err
	}
	sinks := kube.NewSinks(mgr.GetClient(), mgr.GetAPIReader())
	router, err := kube.NewRouter(mgr.GetClient(), sinks.ForRouting(), registry, log.WithName("router"))
	if err != nil {
		return err
	}
	stripeMetrics, err := stripeapi.NewMetrics(registry)
	if err != nil {
		return fmt.Errorf("register Stripe metrics: %w", err)
	}
	resolver := stripeconn.NewResolver(mgr.GetAPIReader(), stripeapi.NewPool(stripeMetrics, log.WithName("stripe")), secretNamespaces, nil)
	deliverer, err := delivery.New(delivery.Options{Store: db, Sinks: sinks, Registry: registry, Log: log.WithName("delivery"),
		Formats: map[string]delivery.Format{kube.FormatLedger: &kube.LedgerFormat{Kube: mgr.GetClient(), Stripe: resolver}}})
	if err != nil {
		return err
	}
	mirrorMetrics, err := mirror.NewMetrics(registry)
	if err != nil {
		return err
	}
	mirrors := &kube.Mirrors{Kube: mgr.GetClient(), API: mgr.GetAPIReader(), Router: router, Stripe: resolver, Events: db,
		Metrics: mirrorMetrics, Log: log.WithName("mirror")}
	signal := &feed.Signal{}
	stored := func() { signal.Notify(); deliverer.Wake(); mirrors.Wake() }
	handler, err := intake.New(intake.Options{
		Store: db, Secrets: kube.NewSecrets(mgr.GetClient()), Registry: registry, Destinations: router.Destinations,
		MaxBody: f.maxBody, Tolerance: f.tolerance, Stored: stored, Log: log.WithName("intake"),
	})
	if err != nil {
		return err
	}
	feedServer, err := feed.NewServer(db, signal, registry, log.WithName("feed"))
	if err != nil {
		return err
	}
	backfiller := &backfill.Backfiller{Kube: mgr.GetClient(), Stripe: resolver, Store: db, Interval: f.backfillInterval,
		Destinations: router.EndpointDestinations, Stored: stored, Log: log.WithName("backfill")}
	if err := backfiller.Register(registry); err != nil {
		return err
	}

	internal := internalMux(db, feedServer, registry)
	// The servers are runnables after the cache: the intake answers only once it knows the endpoints
	// (before that, every delivery would be a 404 that Stripe retries later).
	if f.leaderElect && f.postgresDSNFile == "" {
		return errors.New("--leader-elect needs the shared PostgreSQL store (--postgres-dsn-file): replicas on SQLite would each have their own events")
	}
	// On every replica: intake, the feed and delivery (replicas claim rows, never the same one). On
	// the leader only (all of them when there is no election): what would repeat per replica.
	for _, r := range []manager.Runnable{
		everyReplica{httpServer("intake", f.intakeAddr, handler, false, log)},
		everyReplica{httpServer("internal", f.internalAddr, internal, true, log)},
		deliverer,
		// Every replica's feed and deliverer wake for what another replica stored (PostgreSQL's
		// LISTEN/NOTIFY; nothing to do on SQLite).
		everyReplica{manager.RunnableFunc(func(ctx context.Context) error {
			return db.Notifications(ctx, stored, func(err error) { log.Info("store notifications interrupted, listening again", "error", err.Error()) })
		})},
		leaderOnly{backfiller},
		leaderOnly{&kube.Reroute{Router: router, Store: db, Wake: deliverer.Wake}},
		leaderOnly{&kube.SinkStatus{Kube: mgr.GetClient(), Store: db, Deliverer: deliverer, Sinks: sinks, Log: log.WithName("sink-status")}},
		leaderOnly{pruner(db, log)},
		mirrors, // leader only
	} {
		if err := mgr.Add(r); err != nil {
			return fmt.Errorf("add runnable: %w", err)
		}
	}
	replays := &kube.Replays{Kube: mgr.GetClient(), Store: db, Recorder: mgr.GetEventRecorder("stripe-relay"), Wake: deliverer.Wake}
	if err := replays.SetupWithManager(mgr); err != nil {
		return err
	}
	log.Info("starting relay", "intake", f.intakeAddr, "internal", f.internalAddr, "dataDir", f.dataDir)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("run relay: %w", err)
	}
	return nil
}

// leaderOnly runs a runnable on the elected replica only (controller-runtime starts it when this
// replica leads, and at once when there is no election).
type leaderOnly struct{ manager.Runnable }

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (leaderOnly) NeedLeaderElection() bool { return true }

// everyReplica runs a runnable on every replica, leader or not (a manager.RunnableFunc would
// otherwise wait for the election).
type everyReplica struct{ manager.Runnable }

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (everyReplica) NeedLeaderElection() bool { return false }

// openStore opens PostgreSQL when --postgres-dsn-file names one, else SQLite in --data-dir.
func openStore(ctx context.Context, f flags) (*store.DB, error) {
	if f.postgresDSNFile != "" {
		dsn, err := os.ReadFile(f.postgresDSNFile)
		if err != nil {
			return nil, fmt.Errorf("--postgres-dsn-file: %w", err)
		}
		return store.OpenPostgres(ctx, strings.TrimSpace(string(dsn)), store.PostgresOptions{ClaimLease: f.claimLease})
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return store.OpenSQLite(ctx, filepath.Join(f.dataDir, "relay.db"), store.SQLiteOptions{})
}

// shutdownGrace bounds how long the requests in flight get to finish (each is answered after its
// commit) before the store closes.
const shutdownGrace = 20 * time.Second

// httpServer serves handler on addr until the manager stops, then lets the requests in flight finish:
// a delivery is answered after its commit. With endInFlight, the requests' contexts end at the stop
// instead: the feed's long polls (the manager holds one at all times) return at once.
func httpServer(name, addr string, handler http.Handler, endInFlight bool, log logr.Logger) manager.Runnable {
	return manager.RunnableFunc(func(ctx context.Context) error {
		listener, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s server: listen %s: %w", name, addr, err)
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
		if endInFlight {
			srv.BaseContext = func(net.Listener) context.Context { return ctx }
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(listener) }()
		log.Info("listening", "server", name, "address", listener.Addr().String())
		select {
		case err := <-done:
			return fmt.Errorf("%s server: %w", name, err)
		case <-ctx.Done():
		}
		shutdown, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			return fmt.Errorf("%s server: shutdown: %w", name, err)
		}
		return nil
	})
}

// pruner forgets events past Stripe's 30 days, every pruneEvery.
func pruner(db store.Store, log logr.Logger) manager.Runnable {
	return manager.RunnableFunc(func(ctx context.Context) error {
		for {
			if n, err := db.Prune(ctx, time.Now(), store.MinRetention); err != nil {
				log.Error(err, "prune")
			} else if n > 0 {
				log.Info("pruned events past retention", "events", n)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(pruneEvery):
			}
		}
	})
}

// internalMux serves the internal port: the operator's feed, metrics and the probes.
func internalMux(db *store.DB, feedServer http.Handler, registry *prometheus.Registry) *http.ServeMux {
	internal := http.NewServeMux()
	internal.Handle(feed.Path, feedServer)
	internal.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	internal.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	// Ready: the store takes a write (an intake that cannot store must not get Stripe's deliveries;
	// on PostgreSQL the Service sends them to the other replicas meanwhile).
	internal.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.CheckWritable(ctx, time.Now()); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return internal
}
