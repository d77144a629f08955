package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// tenantDefaults applies the tenant scenario's defaults to the flags the command line did not set.
func tenantDefaults(o *options, set map[string]bool) {
	if !set["plans"] {
		o.plans = 5
	}
	if !set["prices"] {
		o.prices = 2
	}
	if !set["concurrency"] {
		o.concurrency = 4
	}
	if !set["settle"] {
		o.settle = 60 * time.Second
	}
}

// tenantMeasurement is what the tenant scenario observed; reportTenants prints it.
type tenantMeasurement struct {
	o           options
	namespace   string
	start       time.Time
	createsDone time.Duration
	syncedAt    map[string]time.Duration // first poll that saw each tenant Synced with its subscription
	planReadyAt map[string]time.Duration
	elapsed     time.Duration // time to all-Synced (or to the timeout)
	allSynced   bool
	perSecond   []int64

	atSynced, settleStart, afterSettle emulator.Stats
	settleFrom, settleTo               time.Time
	writesSynced, writesSettle         map[string]int64

	memBaseline, memSynced, memEnd memory

	tenants  []v1alpha1.StripeTenant
	plans    []v1alpha1.BillingPlan
	requests []loggedRequest
}

// objects is what the operator holds: tenants and plans.
func (m *tenantMeasurement) objects() int { return m.o.tenants + m.o.plans }

func validTenantOptions(o options) error {
	for _, f := range []struct {
		name  string
		value int
	}{{"-tenants", o.tenants}, {"-plans", o.plans}, {"-prices", o.prices}, {"-budget", o.budget}, {"-concurrency", o.concurrency}, {"-tenant-concurrency", o.tenantConcurrency}, {"-creators", o.creators}} {
		if f.value <= 0 {
			return fmt.Errorf("%s must be positive", f.name)
		}
	}
	if o.rate < 0 || o.burst < 0 {
		return fmt.Errorf("-rate and -burst must not be negative")
	}
	return nil
}

// world is what the tenant scenario runs against: the control plane, the emulator (with its request
// log), the namespace, the API-server proxy and the manager process.
type world struct {
	env       *testenv.Env
	emu       *emulator.Server
	requests  *requestLog
	namespace string
	proxy     *kubeProxy      // nil with -kube-proxy=false
	mgr       *managerProcess // replaced by the restart (resync.go)
	bin       string          // the manager's binary
	args      []string
	failed    *failedPasses
	closers   []func()
}

// close stops everything in reverse order: the manager first (its process group), the control plane last.
func (w *world) close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
	w.closers = nil
}

// startWorld builds and starts everything; on an error it stops what it started.
func startWorld(ctx context.Context, o options, failed *failedPasses) (_ *world, err error) {
	w := &world{requests: &requestLog{}}
	defer func() {
		if err != nil {
			w.close() // w itself, not the nil the error returns
		}
	}()
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "bench-converge-")
	if err != nil {
		return nil, fmt.Errorf("temporary folder: %w", err)
	}
	w.closers = append(w.closers, func() { _ = os.RemoveAll(tmp) })
	step("building the manager: go build ./cmd/manager")
	if w.bin, err = buildManager(root, tmp); err != nil {
		return nil, err
	}
	step("starting the control plane (kube-apiserver, etcd)")
	if w.env, err = testenv.Start(testenv.Options{}); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() { _ = w.env.Stop() })
	if w.emu, err = emulator.Listen(ctx, "127.0.0.1:0", emulator.Options{
		RateLimit: emulator.RateLimit{Rate: o.rate}, DisableSpecCheck: !o.specCheck, Logger: slog.New(w.requests),
	}); err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	w.closers = append(w.closers, w.emu.Close)
	if w.namespace, err = w.env.CreateNamespace(ctx, "bench-", nil); err != nil {
		return nil, err
	}
	kubeconfig, via := w.env.KubeconfigPath, "straight to the API server"
	if o.kubeProxy {
		if w.proxy, err = startKubeProxy(w.env.Config); err != nil {
			return nil, err
		}
		w.closers = append(w.closers, w.proxy.close)
		kubeconfig, via = filepath.Join(tmp, "manager.kubeconfig"), "through a write-counting API-server proxy at "+w.proxy.url
		if err := w.proxy.writeKubeconfig(kubeconfig); err != nil {
			return nil, err
		}
	}
	w.args = managerArgs(kubeconfig, o)
	step(fmt.Sprintf("starting the manager as its own process, %s: manager %s", via, strings.Join(w.args, " ")))
	w.failed = failed
	if w.mgr, err = startManagerProcess(w.bin, w.args, failed); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() { _ = w.mgr.stop() })
	return w, nil
}

func runTenants(o options) error {
	if err := validTenantOptions(o); err != nil {
		return err
	}
	// This process's own controller-runtime pieces (the cache the polls read) log errors only.
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel), zap.StacktraceLevel(zapcore.PanicLevel), zap.WriteTo(os.Stderr)))
	// An interrupt ends the run through the deferred stops, so no manager, kube-apiserver or etcd is
	// left behind; so does a panic of this goroutine.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	fmt.Printf("bench-converge -scenario tenants: %d objects (the Kubernetes objects the operator manages: %d StripeTenants on %d platform BillingPlans x %d prices); emulator limit %g req/s; connection budget %d req/s, burst %d; concurrency StripeTenant %d, BillingPlan %d; spec check %v; settle %s\n",
		o.tenants+o.plans, o.tenants, o.plans, o.prices, o.rate, o.budget, connectionBurst(o), o.tenantConcurrency, o.concurrency, o.specCheck, o.settle)
	failed := newFailedPasses()
	w, err := startWorld(ctx, o, failed)
	if err != nil {
		return err
	}
	defer w.close()
	m := &tenantMeasurement{o: o, namespace: w.namespace, syncedAt: map[string]time.Duration{}, planReadyAt: map[string]time.Duration{}}
	if err := runTenantScenario(ctx, w, m); err != nil {
		return err
	}
	m.requests = w.requests.snapshot() // the onboarding figures are the first manager's, up to the restart
	var resync *resyncMeasurement
	if o.resync {
		if resync, err = measureResync(ctx, w, m); err != nil {
			return err
		}
	}
	events, err := readEvents(ctx, w.env.Client, w.namespace, "StripeTenant")
	if err != nil {
		return err
	}
	if err := w.mgr.stop(); err != nil {
		return fmt.Errorf("manager: %w", err)
	}

	// Stripe's side, read after the run without a limit of its own.
	w.emu.SetRateLimits(emulator.RateLimit{}, nil)
	dups, err := findTenantDuplicates(ctx, w.emu.URL, m.tenants)
	if err != nil {
		return err
	}
	planDups, err := findDuplicates(ctx, w.emu.URL, m.plans, o.prices)
	if err != nil {
		return err
	}
	reportTenants(m, dups, planDups, events, failed, resync)
	return nil
}

// runTenantScenario verifies the connection, reads the baseline RSS, applies everything, waits for
// all-Synced and the settle window, and reads the end RSS and the objects.
func runTenantScenario(ctx context.Context, w *world, m *tenantMeasurement) error {
	o := m.o
	const connection = "bench"
	mode, endpoint, closeEndpoint, err := connectionEndpoint(o, w.emu.URL)
	if err != nil {
		return err
	}
	w.closers = append(w.closers, closeEndpoint)
	step(fmt.Sprintf("emulator at %s; creating a %s-mode StripeConnection (apiBaseURL %s) and waiting for the manager to verify it", w.emu.URL, mode, endpoint))
	if err := createConnection(ctx, w.env.Client, connection, endpoint, mode, int32(o.budget), int32(o.burst)); err != nil {
		return err
	}
	if err := w.mgr.check(); err != nil {
		return err
	}
	if m.memBaseline, err = w.mgr.readMemory(); err != nil {
		return err
	}
	step(fmt.Sprintf("connection Ready; manager RSS %.1f MiB. Applying %d BillingPlans and %d StripeTenants at once in namespace %s; polling every 200 ms",
		float64(m.memBaseline.rss)/mib, o.plans, o.tenants, w.namespace))
	reader, err := startCache(ctx, w.env, w.namespace)
	if err != nil {
		return err
	}
	if err := measureTenants(ctx, w, reader, m, connection); err != nil {
		return err
	}
	if m.allSynced {
		step(fmt.Sprintf("all Synced; the manager keeps running %s (the tenants stay mid-onboarding): what it still sends, and its rechecks", o.settle))
	} else {
		step(fmt.Sprintf("timed out after %s with tenants not Synced; waiting %s more", o.timeout, o.settle))
	}
	m.settleFrom, m.settleStart = time.Now(), w.emu.Stats()
	if err := sleepWatching(ctx, o.settle, w.mgr); err != nil {
		return err
	}
	m.settleTo, m.afterSettle, m.writesSettle = time.Now(), w.emu.Stats(), w.proxy.snapshot()
	if m.memEnd, err = w.mgr.readMemory(); err != nil {
		return err
	}
	return listObjects(ctx, reader, m)
}

// startCache starts an informer cache of the namespace's tenants and plans for the polls: a list every
// 200 ms of 500 tenants from the API server would cost the two cores more than the operator does.
func startCache(ctx context.Context, env *testenv.Env, namespace string) (cache.Cache, error) {
	c, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme, DefaultNamespaces: map[string]cache.Config{namespace: {}}})
	if err != nil {
		return nil, fmt.Errorf("create the benchmark's cache: %w", err)
	}
	for _, obj := range []client.Object{&v1alpha1.StripeTenant{}, &v1alpha1.BillingPlan{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return nil, fmt.Errorf("benchmark's informer: %w", err)
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the benchmark's cache did not sync")
	}
	return c, nil
}

// measureTenants creates the plans and then the tenants (the clock starts as the creates begin), and
// polls until every tenant is Synced for its generation with its subscription id (or -timeout).
func measureTenants(ctx context.Context, w *world, reader client.Reader, m *tenantMeasurement, connection string) error {
	o := m.o
	objects := make([]client.Object, 0, o.plans+o.tenants)
	for i := range o.plans {
		objects = append(objects, newPlan(m.namespace, planName(i), connection, o.prices))
	}
	for i := range o.tenants {
		plan, key := planName(i%o.plans), fmt.Sprintf("price-%d", (i/o.plans)%o.prices)
		objects = append(objects, newTenant(m.namespace, fmt.Sprintf("tenant-%04d", i), connection, plan, key))
	}

	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	samples := sampleRequests(sampleCtx, w.emu)
	m.start = time.Now()
	errs, createsDone := createAll(ctx, w.env.Client, objects, o.creators, func(d time.Duration) { m.createsDone = d })

	deadline := m.start.Add(o.timeout)
	for {
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
		select {
		case err := <-errs:
			return err
		default:
		}
		if err := w.mgr.check(); err != nil {
			return err
		}
		if err := listObjects(ctx, reader, m); err != nil {
			return err
		}
		now := time.Since(m.start)
		m.notePolled(now)
		if len(m.syncedAt) == o.tenants || time.Now().After(deadline) {
			m.elapsed, m.allSynced = now, len(m.syncedAt) == o.tenants
			break
		}
	}
	m.atSynced, m.writesSynced = w.emu.Stats(), w.proxy.snapshot()
	var err error
	if m.memSynced, err = w.mgr.readMemory(); err != nil {
		return err
	}
	stopSampling()
	<-createsDone
	m.perSecond = <-samples
	return nil
}

// notePolled records the tenants seen Synced and the plans seen Ready for the first time at now.
func (m *tenantMeasurement) notePolled(now time.Duration) {
	for i := range m.tenants {
		if _, seen := m.syncedAt[m.tenants[i].Name]; !seen && tenantSynced(&m.tenants[i]) {
			m.syncedAt[m.tenants[i].Name] = now
		}
	}
	for i := range m.plans {
		if _, seen := m.planReadyAt[m.plans[i].Name]; !seen && readyForGeneration(&m.plans[i]) {
			m.planReadyAt[m.plans[i].Name] = now
		}
	}
}

// sampleRequests counts the emulator's requests in each 1 s window from now until ctx ends, and
// then sends the counts.
func sampleRequests(ctx context.Context, emu *emulator.Server) <-chan []int64 {
	out := make(chan []int64, 1)
	prev := totalRequests(emu.Stats())
	go func() {
		var perSecond []int64
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				out <- perSecond
				return
			case <-tick.C:
				n := totalRequests(emu.Stats())
				perSecond = append(perSecond, n-prev)
				prev = n
			}
		}
	}()
	return out
}

// createAll creates objects in order from creators goroutines; the first error goes to the channel,
// and done is closed (after took is told how long the creates took) once every goroutine is done.
func createAll(ctx context.Context, kube client.Client, objects []client.Object, creators int, took func(time.Duration)) (<-chan error, <-chan struct{}) {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, creators)
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(objects) {
					return
				}
				if err := kube.Create(ctx, objects[i]); err != nil {
					errs <- fmt.Errorf("create %s: %w", objects[i].GetName(), err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); took(time.Since(start)); close(done) }()
	return errs, done
}

// listObjects reads the namespace's tenants and plans from the cache into m, without the cache's deep
// copies (m's objects are only read): at 10,000 tenants a copied list every 200 ms would allocate
// hundreds of MB/s and take the two cores' time from the operator.
func listObjects(ctx context.Context, reader client.Reader, m *tenantMeasurement) error {
	var tenants v1alpha1.StripeTenantList
	if err := reader.List(ctx, &tenants, client.InNamespace(m.namespace), client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list StripeTenants: %w", err)
	}
	var plans v1alpha1.BillingPlanList
	if err := reader.List(ctx, &plans, client.InNamespace(m.namespace), client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("list BillingPlans: %w", err)
	}
	m.tenants, m.plans = tenants.Items, plans.Items
	return nil
}

// tenantSynced: Synced=True for the current generation, and the subscription exists.
func tenantSynced(t *v1alpha1.StripeTenant) bool {
	c := meta.FindStatusCondition(t.Status.Conditions, v1alpha1.ConditionSynced)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == t.Generation && t.Status.SubscriptionID != ""
}

// onboarded: the account's onboarding is complete (none is, in this benchmark: the emulator's new
// accounts have requirements due, and nobody submits them).
func onboarded(t *v1alpha1.StripeTenant) bool {
	return meta.IsStatusConditionTrue(t.Status.Conditions, v1alpha1.ConditionOnboardingComplete)
}

func planName(i int) string { return fmt.Sprintf("plan-%04d", i) }

// newTenant is a US Express tenant asking for cards, transfers and ACH, billed by the platform on
// plan's price key.
func newTenant(namespace, name, connection, plan, key string) *v1alpha1.StripeTenant {
	return &v1alpha1.StripeTenant{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.StripeTenantSpec{
			ManagedSpec:   v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: connection}},
			DataResidency: v1alpha1.RegionUS,
			Account: v1alpha1.TenantAccount{
				Type: v1alpha1.AccountTypeExpress, Country: "US", Email: name + "@tenants.example",
				Capabilities: []v1alpha1.Capability{v1alpha1.CapabilityCardPayments, v1alpha1.CapabilityTransfers, v1alpha1.CapabilityUSBankAccountACHPayments},
			},
			BillingEmail: "billing@" + name + ".example",
			Subscription: &v1alpha1.TenantSubscription{PlanRef: v1alpha1.LocalObjectReference{Name: plan}, PriceKey: key},
		},
	}
}

// sleepWatching sleeps d, failing early if the manager exits or the context ends.
func sleepWatching(ctx context.Context, d time.Duration, mgr *managerProcess) error {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return mgr.check()
		}
		if err := sleep(ctx, min(left, time.Second)); err != nil {
			return err
		}
		if err := mgr.check(); err != nil {
			return err
		}
	}
}
