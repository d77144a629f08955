// Package controllertest runs the operator's controllers for tests: on the real control plane (envtest)
// and against the Stripe emulator over real HTTP. It owns the plumbing every controller test repeats:
// a manager scoped to the test's namespace, a verified StripeConnection, and polling for conditions.
package controllertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller"
	"github.com/cloudip/stripe-operator/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
)

// SecretNamespace is where tests keep API keys: the only namespace the operator reads Secrets from.
const SecretNamespace = "stripe-operator-system"

// DefaultTimeout bounds every wait for a condition.
const DefaultTimeout = 60 * time.Second

// ManagerOptions configure a test manager.
type ManagerOptions struct {
	// Namespace scopes the manager's namespaced watches, so tests in other namespaces are not touched.
	Namespace string
	// Resync (default 10 h, i.e. never within a test).
	Resync time.Duration
	// Concurrency by kind.
	Concurrency map[string]int
	// NewClient replaces the manager's client, for tests that make Kubernetes writes fail.
	NewClient client.NewClientFunc
	// MaxRetryDelay bounds the backoff of failing objects (default: the operator's 5 min).
	MaxRetryDelay time.Duration
	// RelayURL makes the leader follow a relay's feed (empty: no feed, as without --relay-url).
	RelayURL string
}

// Manager is a running test manager.
type Manager struct {
	ctrl.Manager
	// Metrics holds the operator's own metrics (managed.Metrics), as /metrics would serve them.
	Metrics *prometheus.Registry
	cancel  context.CancelFunc
	done    chan error
	stopped sync.Once
	err     error
}

// Stop stops the manager (as a crash would: nothing is flushed) and waits until it has stopped. It
// returns what the manager returned; calling it again returns the same.
func (m *Manager) Stop() error {
	m.stopped.Do(func() {
		m.cancel()
		m.err = <-m.done
	})
	return m.err
}

// StartManager runs every controller against env, as `go run ./cmd/manager` would, until the test ends or Stop.
func StartManager(t testing.TB, env *testenv.Env, o ManagerOptions) *Manager {
	t.Helper()
	if o.Concurrency == nil {
		o.Concurrency = map[string]int{"BillingPlan": 4, "StripeTenant": 4}
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapLevel())))
	options := ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		NewClient:              o.NewClient,
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{o.Namespace: {}},
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Secret{}:    {Namespaces: map[string]cache.Config{SecretNamespace: {}}},
				&corev1.Namespace{}: {},
			},
			DefaultTransform: cache.TransformStripManagedFields(), // as cmd/manager/main.go
		},
		Controller: ctrlConfig(),
	}
	// The manager acts as the install's ServiceAccount, with the install's RBAC (Run applies it); a
	// request the RBAC forbids fails the test, even where the manager only logs it (an event).
	cfg := env.As(testenv.InstallNamespace, testenv.ManagerServiceAccount)
	forbidden := &forbiddenRequests{}
	cfg.WrapTransport = forbidden.wrap
	mgr, err := ctrl.NewManager(cfg, options)
	if err != nil {
		t.Fatalf("create manager: %v", err)
	}
	registry := prometheus.NewRegistry()
	if err := controller.SetupAll(mgr, controller.Options{
		ClusterID:        "test-cluster",
		Resync:           o.Resync,
		SecretNamespaces: []string{SecretNamespace},
		Concurrency:      o.Concurrency,
		MaxRetryDelay:    o.MaxRetryDelay,
		RelayURL:         o.RelayURL,
		Registerer:       registry,
	}); err != nil {
		t.Fatalf("set up controllers: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{Manager: mgr, Metrics: registry, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("manager: %v", err)
		}
		if seen := forbidden.list(); len(seen) > 0 {
			t.Errorf("the install's RBAC forbade %d of the manager's requests, e.g. %s", len(seen), strings.Join(seen[:min(len(seen), 5)], "; "))
		}
	})
	return m
}

// forbiddenRequests records the requests the API server answered 403.
type forbiddenRequests struct {
	mu   sync.Mutex
	seen []string
}

func (f *forbiddenRequests) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil && resp.StatusCode == http.StatusForbidden {
			f.mu.Lock()
			f.seen = append(f.seen, req.Method+" "+req.URL.Path)
			f.mu.Unlock()
		}
		return resp, err
	})
}

func (f *forbiddenRequests) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// Namespace creates a namespace for one test.
func Namespace(t testing.TB, env *testenv.Env, labels map[string]string) string {
	t.Helper()
	ns, err := env.CreateNamespace(context.Background(), "test-", labels)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// ConnectionOptions shape a test StripeConnection.
type ConnectionOptions struct {
	// Key is the API key stored in the Secret (default sk_test_ + the name).
	Key string
	// RequestsPerSecond is the connection's budget (0: the operator's default).
	RequestsPerSecond int32
	// AllowedNamespaces (default: every namespace).
	AllowedNamespaces *metav1.LabelSelector
	// SkipWait returns without waiting for Ready.
	SkipWait bool
	// Region is the connection's data-residency region (default us).
	Region v1alpha1.Region
}

// Connection creates a key Secret and a StripeConnection named name pointing at baseURL, and waits
// until the operator has verified it.
func Connection(t testing.TB, kube client.Client, name, baseURL string, o ConnectionOptions) *v1alpha1.StripeConnection {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SecretNamespace}}
	if err := kube.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", SecretNamespace, err)
	}
	if o.Key == "" {
		o.Key = "sk_test_" + name
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: SecretNamespace, Name: name + "-key"},
		StringData: map[string]string{"apiKey": o.Key},
	}
	if err := kube.Create(ctx, secret); err != nil {
		t.Fatalf("create key Secret: %v", err)
	}
	if o.AllowedNamespaces == nil {
		o.AllowedNamespaces = &metav1.LabelSelector{}
	}
	if o.Region == "" {
		o.Region = v1alpha1.RegionUS
	}
	connection := &v1alpha1.StripeConnection{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.StripeConnectionSpec{
			SecretRef:         v1alpha1.SecretKeySelector{Namespace: SecretNamespace, Name: secret.Name, Key: "apiKey"},
			Mode:              v1alpha1.StripeModeTest,
			Region:            o.Region,
			AllowedNamespaces: o.AllowedNamespaces,
			APIBaseURL:        baseURL,
		},
	}
	if o.RequestsPerSecond > 0 {
		connection.Spec.RateLimit = &v1alpha1.RateLimit{RequestsPerSecond: o.RequestsPerSecond}
	}
	if err := kube.Create(ctx, connection); err != nil {
		t.Fatalf("create StripeConnection: %v", err)
	}
	if !o.SkipWait {
		WaitForCondition(t, kube, connection, v1alpha1.ConditionReady, metav1.ConditionTrue, "")
	}
	return connection
}

// WaitForCondition polls obj until its condition has status (and reason, when not empty) for its
// current generation, and leaves obj holding the last read.
func WaitForCondition(t testing.TB, kube client.Client, obj v1alpha1.Managed, conditionType string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	WaitForConditionWithin(t, kube, obj, conditionType, status, reason, DefaultTimeout)
}

// WaitForConditionWithin is WaitForCondition with its own timeout.
func WaitForConditionWithin(t testing.TB, kube client.Client, obj v1alpha1.Managed, conditionType string, status metav1.ConditionStatus, reason string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() error {
		if err := kube.Get(context.Background(), client.ObjectKeyFromObject(obj.(client.Object)), obj.(client.Object)); err != nil {
			return err
		}
		c := meta.FindStatusCondition(obj.GetConditions(), conditionType)
		switch {
		case c == nil:
			return fmt.Errorf("no %s condition yet", conditionType)
		case c.Status != status || (reason != "" && c.Reason != reason):
			return fmt.Errorf("%s is %s/%s (%s), want %s/%s", conditionType, c.Status, c.Reason, c.Message, status, reason)
		case c.ObservedGeneration != obj.GetGeneration():
			return fmt.Errorf("%s is for generation %d, object is at %d", conditionType, c.ObservedGeneration, obj.GetGeneration())
		}
		return nil
	})
}

// Eventually polls check until it returns nil, failing the test with the last error after timeout.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not true after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Gone polls until obj no longer exists.
func Gone(t testing.TB, kube client.Client, obj client.Object) {
	t.Helper()
	Eventually(t, DefaultTimeout, func() error {
		err := kube.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return errors.New("still exists (finalizers: " + fmt.Sprint(obj.GetFinalizers()) + ")")
	})
}

// Run is the body of a controller test package's TestMain: it starts the control plane the package's
// tests share, stores it in *env, runs the tests and stops it. Use: os.Exit(controllertest.Run(m, &env)).
func Run(m *testing.M, env **testenv.Env) int {
	started, err := testenv.Start(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*env = started
	if err := started.InstallRBAC(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = started.Stop()
		return 1
	}
	code := m.Run()
	if err := started.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return code
}
