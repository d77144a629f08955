// Package controller wires every kind's controller into a manager. The reconcile loop of each kind is
// in package managed (the generic loop) and the kind's own package (its Stripe adapter):
//
//	StripeConnection       -> stripeconnection/controller.go
//	BillingPlan            -> billingplan/adapter.go
//	StripeTenant           -> stripetenant/adapter.go
//	StripeWebhookEndpoint  -> stripewebhookendpoint/adapter.go
package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/controller/billingplan"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/controller/relayfeed"
	"github.com/cloudip/stripe-operator/internal/controller/stripeconnection"
	"github.com/cloudip/stripe-operator/internal/controller/stripetenant"
	"github.com/cloudip/stripe-operator/internal/controller/stripewebhookendpoint"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// The operator's own RBAC: read connections and write their status, read the namespaces that
// allowedNamespaces selects, and emit events. Secrets are read only in the namespaces given by
// --secret-namespaces: a Role in the operator's namespace, generated from the marker below (a
// deployment that adds namespaces to the flag grants the same Role there).
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripeconnections,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripeconnections/finalizers,verbs=update
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripetenants;stripewebhookendpoints;stripeeventsinks,verbs=get;list;watch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripeconnections/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=stripe-operator-system,resources=secrets,verbs=get;list;watch

// Options configure every controller.
type Options struct {
	// ClusterID goes into the tags of every Stripe object created.
	ClusterID string
	// Resync is how often an object in sync is observed again (jittered).
	Resync time.Duration
	// RecheckRate bounds, per kind, the rechecks adapters ask for (passes/s; 0: the default).
	RecheckRate float64
	// SecretNamespaces are the only namespaces whose Secrets may hold API keys.
	SecretNamespaces []string
	// Concurrency is MaxConcurrentReconciles by kind ("BillingPlan": 4); absent kinds get 1.
	Concurrency map[string]int
	// MaxRetryDelay bounds the backoff of a failing object (default 5 min).
	MaxRetryDelay time.Duration
	// HTTPClient sends Stripe requests (nil: a default with a timeout).
	HTTPClient *http.Client
	// Metrics records Stripe calls (nil: none).
	Metrics *stripeapi.Metrics
	// Registerer receives the managed objects' metrics (managed.Metrics; nil: none), e.g.
	// controller-runtime's metrics.Registry.
	Registerer prometheus.Registerer
	// RelayURL is the webhook relay's internal base URL: the leader follows its feed of Stripe events
	// and reconciles their owners at once. Empty: no feed; Stripe's changes wait for the resync.
	RelayURL string
}

// Kinds declares every kind that can name a connection, with or without a controller yet: the
// registry derives their field indexes, the watches on what they reference, and in-use protection (a
// connection's deletion waits for all of them) from these declarations.
func Kinds() *managed.Registry {
	return managed.NewRegistry(
		billingplan.Declaration(),
		stripetenant.Declaration(),
		stripewebhookendpoint.Declaration(),
		connectionUser("StripeEventSink", func() managed.Object { return &v1alpha1.StripeEventSink{} }, func() client.ObjectList { return &v1alpha1.StripeEventSinkList{} }),
	)
}

// connectionUser declares a kind whose only reference is its connection.
func connectionUser(name string, newObject func() managed.Object, newList func() client.ObjectList) managed.Kind {
	return managed.Kind{Name: name, New: newObject, NewList: newList, References: []managed.Reference{managed.ConnectionReference()}}
}

// SetupAll registers every controller with the manager. They share one pool of Stripe clients, and so
// one token bucket per connection.
func SetupAll(mgr ctrl.Manager, o Options) error {
	pool := stripeapi.NewPool(o.Metrics, mgr.GetLogger().WithName("stripe"))
	connections := stripeconn.NewResolver(mgr.GetClient(), pool, o.SecretNamespaces, o.HTTPClient)
	kinds := Kinds()
	if err := kinds.Index(mgr); err != nil {
		return err
	}

	watched := map[client.Object]func(client.Object) string{}
	for _, user := range kinds.ReferrersOf(&v1alpha1.StripeConnection{}, true) {
		watched[user.Kind.New()] = user.Reference.Name
	}
	usersOf := func(ctx context.Context, connection string) ([]string, error) {
		return kinds.Users(ctx, mgr.GetClient(), &v1alpha1.StripeConnection{ObjectMeta: metav1.ObjectMeta{Name: connection}})
	}
	recorder := mgr.GetEventRecorder("stripe-operator-stripeconnection")
	if err := stripeconnection.New(mgr.GetClient(), connections, recorder, resyncOrDefault(o.Resync), usersOf).SetupWithManager(mgr, watched); err != nil {
		return err
	}
	reconciled := []managed.Kind{billingplan.Declaration(), stripetenant.Declaration(), stripewebhookendpoint.Declaration()}
	var nudges *managed.Nudges
	if o.RelayURL != "" {
		names := make([]string, 0, len(reconciled))
		for _, k := range reconciled {
			names = append(names, k.Name)
		}
		nudges = managed.NewNudges(names...)
		if err := relayfeed.Setup(mgr, o.RelayURL, nudges, reconciled...); err != nil {
			return err
		}
	}
	var resourceMetrics *managed.Metrics
	if o.Registerer != nil {
		counted := append(kinds.Kinds(), managed.Kind{Name: "StripeConnection", NewList: func() client.ObjectList { return &v1alpha1.StripeConnectionList{} }})
		var err error
		if resourceMetrics, err = managed.NewMetrics(o.Registerer, mgr.GetCache(), mgr.GetLogger().WithName("metrics"), counted...); err != nil {
			return err
		}
	}
	// Ready means the informers have synced: before that, the manager would act on a partial view.
	if err := mgr.AddReadyzCheck("informers", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("informer caches not synced yet")
		}
		return nil
	}); err != nil {
		return fmt.Errorf("ready check: %w", err)
	}
	managedOptions := managed.Options{ClusterID: o.ClusterID, Resync: o.Resync, RecheckRate: o.RecheckRate, Registry: kinds, Nudges: nudges, Metrics: resourceMetrics}
	if err := billingplan.Setup(mgr, connections, managedOptions, managed.ControllerOptions{MaxConcurrentReconciles: o.Concurrency[billingplan.Kind], MaxRetryDelay: o.MaxRetryDelay}); err != nil {
		return fmt.Errorf("billing plans: %w", err)
	}
	if err := stripetenant.Setup(mgr, connections, managedOptions, managed.ControllerOptions{MaxConcurrentReconciles: o.Concurrency[stripetenant.Kind], MaxRetryDelay: o.MaxRetryDelay}); err != nil {
		return fmt.Errorf("tenants: %w", err)
	}
	if err := stripewebhookendpoint.Setup(mgr, connections, managedOptions, managed.ControllerOptions{MaxConcurrentReconciles: o.Concurrency[stripewebhookendpoint.Kind], MaxRetryDelay: o.MaxRetryDelay}); err != nil {
		return fmt.Errorf("webhook endpoints: %w", err)
	}
	return nil
}

func resyncOrDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return 10 * time.Hour
	}
	return d
}
