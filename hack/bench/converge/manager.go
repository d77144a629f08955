package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// secretNamespace is the only namespace the operator reads API keys from (as in controllertest).
const secretNamespace = "stripe-operator-system"

// counts is a set of named counters, safe for concurrent use.
type counts struct {
	mu sync.Mutex
	m  map[string]int64
}

func newCounts() *counts { return &counts{m: map[string]int64{}} }

func (c *counts) add(key string) {
	c.mu.Lock()
	c.m[key]++
	c.mu.Unlock()
}

func (c *counts) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// runningManager is the operator, in process, with its writes counted.
type runningManager struct {
	// writes counts the manager client's writes: "Patch BillingPlan", "Patch BillingPlan/status"...
	// A failed write is counted under the same key with " (failed)" appended.
	writes *counts
	// httpWrites counts every write request the manager process sent the API server (its client, the
	// event recorder, anything else on its rest.Config): "PATCH billingplans/status", "POST events".
	httpWrites *counts
	// registry holds the stripeapi metrics (budget wait, calls by outcome, requests by code).
	registry *prometheus.Registry

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop stops the manager and waits for it; repeated calls return the first answer.
func (m *runningManager) stop() error {
	m.once.Do(func() {
		m.cancel()
		m.err = <-m.done
	})
	return m.err
}

// startManager runs every controller with controller.SetupAll, as `go run ./cmd/manager` would, with its cache
// scoped to namespace (plus the key Secrets and namespaces) and BillingPlan concurrency set.
func startManager(env *testenv.Env, namespace string, concurrency int) (*runningManager, error) {
	m := &runningManager{writes: newCounts(), httpWrites: newCounts(), registry: prometheus.NewRegistry(), done: make(chan error, 1)}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &writeCounter{base: rt, counts: m.httpWrites} })

	stripeMetrics, err := stripeapi.NewMetrics(m.registry)
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		NewClient:              countingClient(m.writes),
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{namespace: {}},
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Secret{}:    {Namespaces: map[string]cache.Config{secretNamespace: {}}},
				&corev1.Namespace{}: {},
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := controller.SetupAll(mgr, controller.Options{
		ClusterID:        "bench-cluster",
		SecretNamespaces: []string{secretNamespace},
		Concurrency:      map[string]int{"BillingPlan": concurrency},
		Metrics:          stripeMetrics,
	}); err != nil {
		return nil, fmt.Errorf("set up controllers: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { m.done <- mgr.Start(ctx) }()
	return m, nil
}

// countingClient wraps the manager's client (the cache-backed one controller-runtime builds by
// default) and counts its writes by verb and kind.
func countingClient(writes *counts) client.NewClientFunc {
	return func(config *rest.Config, options client.Options) (client.Client, error) {
		c, err := client.NewWithWatch(config, options)
		if err != nil {
			return nil, err
		}
		count := func(verb string, gvkOf func(runtime.Object) string, obj runtime.Object, sub string, err error) error {
			key := verb + " " + gvkOf(obj)
			if sub != "" {
				key += "/" + sub
			}
			if err != nil {
				key += " (failed)"
			}
			writes.add(key)
			return err
		}
		kind := func(obj runtime.Object) string {
			if gvk, err := c.GroupVersionKindFor(obj); err == nil {
				return gvk.Kind
			}
			return fmt.Sprintf("%T", obj)
		}
		return interceptor.NewClient(c, interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				return count("Create", kind, obj, "", c.Create(ctx, obj, opts...))
			},
			Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
				return count("Update", kind, obj, "", c.Update(ctx, obj, opts...))
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				return count("Patch", kind, obj, "", c.Patch(ctx, obj, patch, opts...))
			},
			Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				return count("Delete", kind, obj, "", c.Delete(ctx, obj, opts...))
			},
			DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
				return count("DeleteAllOf", kind, obj, "", c.DeleteAllOf(ctx, obj, opts...))
			},
			Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
				writes.add("Apply (apply configuration)")
				return c.Apply(ctx, obj, opts...)
			},
			SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj, subObj client.Object, opts ...client.SubResourceCreateOption) error {
				return count("Create", kind, obj, sub, c.SubResource(sub).Create(ctx, obj, subObj, opts...))
			},
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				return count("Update", kind, obj, sub, c.SubResource(sub).Update(ctx, obj, opts...))
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				return count("Patch", kind, obj, sub, c.SubResource(sub).Patch(ctx, obj, patch, opts...))
			},
			SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
				writes.add("Apply (apply configuration)/" + sub)
				return c.SubResource(sub).Apply(ctx, obj, opts...)
			},
		}), nil
	}
}

// writeCounter counts write requests (POST, PUT, PATCH, DELETE) by method and resource path.
type writeCounter struct {
	base   http.RoundTripper
	counts *counts
}

func (w *writeCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		w.counts.add(req.Method + " " + resourceOf(req.URL.Path))
	}
	return w.base.RoundTrip(req)
}

// resourceOf turns /apis/g/v/namespaces/ns/billingplans/name/status into "billingplans/status".
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return path
	}
	if len(parts) > 2 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	if len(parts) == 0 {
		return path
	}
	if len(parts) >= 3 {
		return parts[0] + "/" + parts[2]
	}
	return parts[0]
}

// createConnection creates the key Secret and a StripeConnection of mode with the given budget pointing
// at baseURL (burst 0: the operator's default), and waits until the operator has verified it. A live
// connection's key is sk_live_... (baseURL is then a liveKeyProxy).
func createConnection(ctx context.Context, kube client.Client, name, baseURL string, mode v1alpha1.StripeMode, budget, burst int32) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: secretNamespace}}
	if err := kube.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", secretNamespace, err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: secretNamespace, Name: name + "-key"},
		StringData: map[string]string{"apiKey": "sk_" + string(mode) + "_" + name},
	}
	if err := kube.Create(ctx, secret); err != nil {
		return fmt.Errorf("create key Secret: %w", err)
	}
	connection := &v1alpha1.StripeConnection{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.StripeConnectionSpec{
			SecretRef:         v1alpha1.SecretKeySelector{Namespace: secretNamespace, Name: secret.Name, Key: "apiKey"},
			Mode:              mode,
			Region:            v1alpha1.RegionUS,
			AllowedNamespaces: &metav1.LabelSelector{},
			APIBaseURL:        baseURL,
			RateLimit:         &v1alpha1.RateLimit{RequestsPerSecond: budget},
		},
	}
	if burst > 0 {
		connection.Spec.RateLimit.Burst = &burst
	}
	if err := kube.Create(ctx, connection); err != nil {
		return fmt.Errorf("create StripeConnection: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if err := kube.Get(ctx, client.ObjectKeyFromObject(connection), connection); err != nil {
			return fmt.Errorf("read StripeConnection: %w", err)
		}
		ready := meta.FindStatusCondition(connection.Status.Conditions, v1alpha1.ConditionReady)
		if ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == connection.Generation {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("StripeConnection %s not Ready after 1m: %+v", name, ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
