// Command converge is the convergence benchmark of DESIGN.md §5. It has two scenarios (-scenario):
//
//   - plans (the default): N BillingPlans applied at once against the Stripe emulator limited to R
//     requests/s. It prints the time to all-Ready against the lower bound (minimal Stripe calls / R),
//     Stripe calls per plan by method and route, duplicates, 429s and API-server writes per plan. The
//     operator's manager runs in this process, with controller.SetupAll.
//   - tenants: N StripeTenants (each a Connect account, a customer and a subscription on the platform
//     account) and the platform BillingPlans they subscribe to, applied at once against the same
//     emulator. It prints the time to all-Synced against the lower bound, Stripe calls per tenant,
//     duplicates, 429s, the operator's resident memory per 1,000 objects, and what the onboarding
//     rechecks of tenants that stay mid-onboarding cost. The manager (./cmd/manager) runs as its own OS process
//     so that its RSS is its own (tenants.go, process.go). Then (-resync) the manager is restarted and
//     the full resync measured: Stripe calls by method, API-server writes, time until every object's
//     Stripe objects were read again against the read bound, and its cost per hour at --resync-period
//     (resync.go). `make bench-scale` runs it at 10,000 objects and Stripe's live limit.
//
// Above Stripe's test-mode limit of 25 req/s the StripeConnection is a live-mode one (the CRD holds a
// test-mode budget to 25), reaching the test-key emulator through a proxy that turns its sk_live_ key
// into sk_test_ (livekey.go).
//
// It prints figures and PASS/SHORT against the targets; it never fails on a missed target (it exits
// non-zero only when the run itself broke). `make bench-converge` runs it.
//
// Everything runs in this process except the control plane: kube-apiserver and etcd (testenv, from
// KUBEBUILDER_ASSETS), the emulator on 127.0.0.1, and (plans) the operator's manager.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// Scenarios of -scenario.
const (
	scenarioPlans   = "plans"
	scenarioTenants = "tenants"
)

type options struct {
	scenario          string
	mode              string
	plans             int
	prices            int
	tenants           int
	rate              float64
	budget            int
	burst             int
	concurrency       int
	tenantConcurrency int
	creators          int
	timeout           time.Duration
	settle            time.Duration
	specCheck         bool
	kubeProxy         bool
	logLevel          int
	resync            bool
	resyncTail        time.Duration
	resyncPeriod      time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.scenario, "scenario", scenarioPlans, "What is applied at once: plans (N BillingPlans, the manager in this process) or tenants (N StripeTenants and the platform plans they subscribe to, the manager as its own process, for its RSS).")
	flag.StringVar(&o.mode, "mode", "", "The StripeConnection's mode: test, live, or empty for live when -rate, -budget or -burst is above Stripe's test-mode limit of 25 (the CRD holds a test-mode connection to 25; a live key reaches the test-key emulator through a proxy that turns sk_live_ into sk_test_).")
	flag.IntVar(&o.plans, "plans", 200, "BillingPlans applied at once; -scenario tenants: 5 unless set (the platform plans the tenants subscribe to, round robin).")
	flag.IntVar(&o.prices, "prices", 3, "Recurring prices per plan (distinct keys and lookup keys); -scenario tenants: 2 unless set.")
	flag.IntVar(&o.tenants, "tenants", 500, "-scenario tenants: StripeTenants applied at once (Express, US, card_payments + transfers + us_bank_account_ach_payments, a billing email and spec.subscription).")
	flag.Float64Var(&o.rate, "rate", 25, "The emulator's rate limit, requests/s (Stripe's test-mode limit is 25).")
	flag.IntVar(&o.budget, "budget", 0, "The StripeConnection's requestsPerSecond (default: -rate).")
	flag.IntVar(&o.burst, "burst", 0, "The StripeConnection's rateLimit.burst (default: unset, the operator's default of 4/5 of a second's worth).")
	flag.IntVar(&o.concurrency, "concurrency", 8, "BillingPlan MaxConcurrentReconciles; -scenario tenants: 4 unless set.")
	flag.IntVar(&o.tenantConcurrency, "tenant-concurrency", 8, "-scenario tenants: StripeTenant MaxConcurrentReconciles.")
	flag.IntVar(&o.creators, "creators", 8, "Goroutines creating the objects (they are applied at once).")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "Give up waiting for all-Ready (all-Synced) after this long (the report is still printed).")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "After all-Ready (all-Synced), keep the operator running this long and report what it still sends; -scenario tenants: 60s unless set (the window the onboarding rechecks are measured over).")
	flag.BoolVar(&o.specCheck, "spec-check", true, "Check every request against Stripe's OpenAPI spec in the emulator (stripe-mock), as in tests.")
	flag.BoolVar(&o.kubeProxy, "kube-proxy", true, "-scenario tenants: the manager process reaches the API server through a proxy in this process that counts its writes; false: straight, with the testenv kubeconfig (writes not counted).")
	flag.BoolVar(&o.resync, "resync", true, "-scenario tenants: after the settle window, restart the manager (SIGTERM, then the same binary and flags) and measure the full resync: Stripe calls by method, API-server writes, time until every object's Stripe objects were read again, vs the read bound.")
	flag.DurationVar(&o.resyncTail, "resync-tail", 20*time.Second, "-scenario tenants: after the resync has read everything, keep watching this long for what the restarted manager still sends (the rechecks) and writes.")
	flag.DurationVar(&o.resyncPeriod, "resync-period", 10*time.Hour, "-scenario tenants: the manager's --resync-period (its default is 10h): what one resync per period costs is reported per hour.")
	flag.IntVar(&o.logLevel, "v", 0, "Operator log verbosity: 0 errors only (no stack traces), 1 info, 2 the reconcilers' V(1) lines.")
	flag.Usage = usage
	flag.Parse()
	if o.scenario == scenarioTenants {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		tenantDefaults(&o, set)
	}
	if o.budget == 0 {
		o.budget = int(o.rate + 0.5)
	}
	var err error
	switch o.scenario {
	case scenarioPlans:
		err = run(o)
	case scenarioTenants:
		err = runTenants(o)
	default:
		err = fmt.Errorf("-scenario %q: want %s or %s", o.scenario, scenarioPlans, scenarioTenants)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-converge:", err)
		os.Exit(1)
	}
}

func usage() {
	out := flag.CommandLine.Output()
	_, _ = fmt.Fprintf(out, `Usage: converge [-scenario plans|tenants] [flags]   (make bench-converge BENCH_ARGS='...')

The convergence benchmark (DESIGN.md §5). One scenario per run; plans is the default.
  plans    -plans BillingPlans with -prices prices each, applied at once against the emulator limited to
           -rate req/s: time to all-Ready vs the lower bound, Stripe calls per plan, duplicates, 429s,
           API-server writes. The manager runs in this process.
  tenants  -tenants StripeTenants subscribed (round robin) to -plans platform BillingPlans, applied at
           once: time to all-Synced vs the lower bound, Stripe calls per tenant, duplicates, 429s, the
           manager's RSS per 1,000 objects (it runs as its own process), and the cost of the onboarding
           rechecks over -settle. Its defaults: -plans 5 -prices 2 -concurrency 4 -settle 60s.
           Then (-resync) the manager is restarted: the full resync's Stripe calls, API-server writes
           and time until everything is read again, vs the read bound.
  Above 25 req/s the connection is live-mode (-mode), through a proxy that turns sk_live_ into sk_test_.

Flags:
`)
	flag.PrintDefaults()
}

// measurement is what the run observed; report prints it.
type measurement struct {
	o            options
	namespace    string
	start        time.Time
	createsDone  time.Duration            // how long the creates took, from the clock's start
	readyAt      map[string]time.Duration // first poll that saw each plan Ready, from the clock's start
	elapsed      time.Duration            // time to all-Ready (or to the timeout)
	allReady     bool
	perSecond    []int64 // Stripe requests received in each 1 s window from the clock's start
	atReady      emulator.Stats
	afterSettle  emulator.Stats
	writesReady  map[string]int64
	writesSettle map[string]int64
	httpReady    map[string]int64
	httpSettle   map[string]int64
	plans        []v1alpha1.BillingPlan // as last read
}

func run(o options) error {
	if o.plans <= 0 || o.prices <= 0 || o.rate < 0 || o.budget <= 0 || o.burst < 0 || o.concurrency <= 0 {
		return fmt.Errorf("-plans, -prices, -budget and -concurrency must be positive, -rate and -burst not negative")
	}
	failed := newFailedPasses()
	ctrl.SetLogger(captureLogger(zap.New(zap.Level(zapLevel(o.logLevel)), zap.StacktraceLevel(zapcore.PanicLevel), zap.WriteTo(os.Stderr)), failed.record))
	// An interrupt ends the run through the deferred stops, so no kube-apiserver or etcd is left behind.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	fmt.Printf("bench-converge: %d BillingPlans x %d prices; emulator limit %g req/s; connection budget %d req/s, burst %d; BillingPlan concurrency %d; spec check %v\n",
		o.plans, o.prices, o.rate, o.budget, connectionBurst(o), o.concurrency, o.specCheck)
	step("starting the control plane (kube-apiserver, etcd)")
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()

	emu, err := emulator.Listen(ctx, "127.0.0.1:0", emulator.Options{RateLimit: emulator.RateLimit{Rate: o.rate}, DisableSpecCheck: !o.specCheck})
	if err != nil {
		return fmt.Errorf("start the emulator: %w", err)
	}
	defer emu.Close()

	namespace, err := env.CreateNamespace(ctx, "bench-", nil)
	if err != nil {
		return err
	}
	mode, endpoint, closeEndpoint, err := connectionEndpoint(o, emu.URL)
	if err != nil {
		return err
	}
	defer closeEndpoint()
	step(fmt.Sprintf("starting the operator (controller.SetupAll) and the emulator at %s; a %s-mode connection to %s", emu.URL, mode, endpoint))
	mgr, err := startManager(env, namespace, o.concurrency)
	if err != nil {
		return err
	}
	defer func() { _ = mgr.stop() }()
	const connection = "bench"
	if err := createConnection(ctx, env.Client, connection, endpoint, mode, int32(o.budget), int32(o.burst)); err != nil {
		return err
	}

	step(fmt.Sprintf("applying %d BillingPlans at once in namespace %s; polling every 200 ms", o.plans, namespace))
	m := &measurement{o: o, namespace: namespace, readyAt: map[string]time.Duration{}}
	if err := measure(ctx, env.Client, emu, mgr, m, connection); err != nil {
		return err
	}
	if m.allReady {
		step(fmt.Sprintf("all Ready; the operator keeps running %s to see what it still sends", o.settle))
	} else {
		step(fmt.Sprintf("timed out after %s with plans not Ready; waiting %s more", o.timeout, o.settle))
	}
	if err := sleep(ctx, o.settle); err != nil {
		return err
	}
	m.afterSettle, m.writesSettle, m.httpSettle = emu.Stats(), mgr.writes.snapshot(), mgr.httpWrites.snapshot()
	events, err := readEvents(ctx, env.Client, namespace, "BillingPlan")
	if err != nil {
		return err
	}
	if err := mgr.stop(); err != nil {
		return fmt.Errorf("manager: %w", err)
	}

	// Stripe's side, read after the run without a limit of its own.
	emu.SetRateLimits(emulator.RateLimit{}, nil)
	dups, err := findDuplicates(ctx, emu.URL, m.plans, o.prices)
	if err != nil {
		return err
	}
	budget, err := budgetFigures(mgr.registry)
	if err != nil {
		return err
	}
	report(m, dups, events, failed, budget)
	return nil
}

// measure creates the plans, starting the clock as the creates begin, and polls until all are Ready
// for their generation (or -timeout). It samples the emulator's request count every second.
func measure(ctx context.Context, kube client.Client, emu *emulator.Server, mgr *runningManager, m *measurement, connection string) error {
	o := m.o
	plans := make([]*v1alpha1.BillingPlan, o.plans)
	for i := range plans {
		plans[i] = newPlan(m.namespace, fmt.Sprintf("plan-%04d", i), connection, o.prices)
	}

	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	var samples []int64
	var samplesMu sync.Mutex
	base := totalRequests(emu.Stats())
	m.start = time.Now()
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-sampleCtx.Done():
				return
			case <-tick.C:
				samplesMu.Lock()
				samples = append(samples, totalRequests(emu.Stats()))
				samplesMu.Unlock()
			}
		}
	}()

	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, o.creators)
	for range o.creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(plans) {
					return
				}
				if err := kube.Create(ctx, plans[i]); err != nil {
					errs <- fmt.Errorf("create %s: %w", plans[i].Name, err)
					return
				}
			}
		}()
	}
	createsDone := make(chan struct{})
	go func() { wg.Wait(); m.createsDone = time.Since(m.start); close(createsDone) }()

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
		var list v1alpha1.BillingPlanList
		if err := kube.List(ctx, &list, client.InNamespace(m.namespace)); err != nil {
			return fmt.Errorf("list BillingPlans: %w", err)
		}
		now := time.Since(m.start)
		for i := range list.Items {
			if _, seen := m.readyAt[list.Items[i].Name]; !seen && readyForGeneration(&list.Items[i]) {
				m.readyAt[list.Items[i].Name] = now
			}
		}
		m.plans = list.Items
		if len(m.readyAt) == o.plans || time.Now().After(deadline) {
			m.elapsed, m.allReady = now, len(m.readyAt) == o.plans
			break
		}
	}
	m.atReady, m.writesReady, m.httpReady = emu.Stats(), mgr.writes.snapshot(), mgr.httpWrites.snapshot()
	stopSampling()
	<-createsDone
	samplesMu.Lock()
	defer samplesMu.Unlock()
	prev := base
	for _, s := range samples {
		m.perSecond = append(m.perSecond, s-prev)
		prev = s
	}
	return nil
}

// connectionBurst is the burst of the connection's token bucket: -burst, or the operator's default.
func connectionBurst(o options) int {
	if o.burst > 0 {
		return o.burst
	}
	return stripeapi.DefaultBurst(float64(o.budget))
}

func readyForGeneration(plan *v1alpha1.BillingPlan) bool {
	for _, c := range plan.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c.Status == metav1.ConditionTrue && c.ObservedGeneration == plan.Generation
		}
	}
	return false
}

func newPlan(namespace, name, connection string, prices int) *v1alpha1.BillingPlan {
	plan := &v1alpha1.BillingPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.BillingPlanSpec{
			ManagedSpec: v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: connection}},
			Product:     v1alpha1.Product{Name: "Bench " + name, Description: "convergence benchmark plan " + name},
		},
	}
	for j := range prices {
		key := fmt.Sprintf("price-%d", j)
		plan.Spec.Prices = append(plan.Spec.Prices, v1alpha1.Price{
			Key:        key,
			Currency:   "usd",
			UnitAmount: ptr.To(int64(1000 + 100*j)),
			Recurring:  &v1alpha1.Recurring{Interval: v1alpha1.IntervalMonth},
			LookupKey:  name + "-" + key,
			Nickname:   key,
		})
	}
	return plan
}

func totalRequests(s emulator.Stats) int64 {
	var n int64
	for _, c := range s.Requests {
		n += c
	}
	return n
}

// zapLevel maps -v to a zap level: 0 errors, 1 info, 2 V(1)...
func zapLevel(v int) zapcore.Level {
	if v <= 0 {
		return zapcore.ErrorLevel
	}
	return zapcore.Level(1 - v)
}

// sleep waits d, or returns the context's error when it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

func step(message string) { fmt.Printf("==> %s\n", message) }
