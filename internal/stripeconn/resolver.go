// Package stripeconn resolves a StripeConnection into a Stripe client: it reads the API key from the
// Secret the connection names, checks it against the connection's mode, and hands out the pool's one
// client (so one token bucket) per connection. The manager's controllers and the relay's backfill both
// use it; its errors (DependencyError, TerminalError) are the reconcile contract's.
package stripeconn

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Resolver turns a StripeConnection into a Stripe client: it reads the API key from the Secret the
// connection names (only from the namespaces the operator is configured to read), checks that the key
// fits the connection's mode, and hands out the one client, and so the one token bucket, that the pool
// keeps for the connection. Every controller asks it, so every controller shares that budget.
type Resolver struct {
	kube             client.Reader
	pool             *stripeapi.Pool
	secretNamespaces map[string]bool
	httpClient       *http.Client
}

// NewResolver returns a Resolver reading Secrets only in secretNamespaces. httpClient may be nil.
func NewResolver(kube client.Reader, pool *stripeapi.Pool, secretNamespaces []string, httpClient *http.Client) *Resolver {
	allowed := map[string]bool{}
	for _, ns := range secretNamespaces {
		allowed[ns] = true
	}
	return &Resolver{kube: kube, pool: pool, secretNamespaces: allowed, httpClient: httpClient}
}

// SecretNamespaces lists the namespaces whose Secrets may hold API keys.
func (c *Resolver) SecretNamespaces() []string {
	namespaces := make([]string, 0, len(c.secretNamespaces))
	for ns := range c.secretNamespaces {
		namespaces = append(namespaces, ns)
	}
	return namespaces
}

// ClientFor returns the platform-account client of the named connection for an object in namespace,
// and the connection as it read it (its mode and region, for the adapter).
// It refuses, with a DependencyError that names the cause, a connection that is missing, not Ready, or
// whose allowedNamespaces does not select the namespace; and, unless the object is itself being
// deleted (its clean-up still needs the connection), one that is being deleted.
func (c *Resolver) ClientFor(ctx context.Context, name, namespace string, objectDeleting bool) (stripeapi.Interface, *v1alpha1.StripeConnection, error) {
	var connection v1alpha1.StripeConnection
	if err := c.kube.Get(ctx, types.NamespacedName{Name: name}, &connection); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, &DependencyError{Reason: v1alpha1.ReasonConnectionNotReady, Message: fmt.Sprintf("StripeConnection %q does not exist", name), Missing: true}
		}
		return nil, nil, fmt.Errorf("get StripeConnection %q: %w", name, err)
	}
	if !objectDeleting && !connection.DeletionTimestamp.IsZero() {
		return nil, nil, ConnectionNotReady("StripeConnection %q is being deleted: it takes no new work; name another connection", name)
	}
	if !v1alpha1.IsReady(&connection) {
		why := "it has not been verified yet"
		if ready := meta.FindStatusCondition(connection.Status.Conditions, v1alpha1.ConditionReady); ready != nil && ready.Message != "" {
			why = ready.Message
		}
		return nil, nil, ConnectionNotReady("StripeConnection %q is not Ready: %s", name, why)
	}
	if namespace != "" {
		allowed, err := c.namespaceAllowed(ctx, &connection, namespace)
		if err != nil {
			return nil, nil, err
		}
		if !allowed {
			return nil, nil, &DependencyError{Reason: v1alpha1.ReasonNamespaceNotAllowed,
				Message: fmt.Sprintf("StripeConnection %q does not allow namespace %q (spec.allowedNamespaces)", name, namespace)}
		}
	}
	stripe, err := c.Client(ctx, &connection)
	if err != nil {
		return nil, nil, err
	}
	return stripe, &connection, nil
}

// ClientSource gives a connection's client: what the relay's backfill and ledger format need of the
// Resolver (and tests fake).
type ClientSource interface {
	Client(ctx context.Context, connection *v1alpha1.StripeConnection) (*stripeapi.Client, error)
}

var _ ClientSource = (*Resolver)(nil)

// Client returns the connection's client without checking its Ready condition: the StripeConnection
// controller uses it to verify the key in the first place.
func (c *Resolver) Client(ctx context.Context, connection *v1alpha1.StripeConnection) (*stripeapi.Client, error) {
	key, err := c.apiKey(ctx, connection)
	if err != nil {
		return nil, err
	}
	cfg := stripeapi.Config{Name: connection.Name, APIKey: key, BaseURL: connection.Spec.APIBaseURL, HTTPClient: c.httpClient}
	if limit := connection.Spec.RateLimit; limit != nil {
		cfg.Budget.RequestsPerSecond = float64(limit.RequestsPerSecond)
		if limit.Burst != nil {
			cfg.Budget.Burst = int(*limit.Burst)
		}
	}
	stripe, err := c.pool.Get(string(connection.UID), cfg)
	if err != nil {
		return nil, Terminal("StripeConnection %q: %v", connection.Name, err)
	}
	return stripe, nil
}

// Forget drops the client of a deleted connection.
func (c *Resolver) Forget(uid types.UID) { c.pool.Forget(string(uid)) }

// apiKey reads the key and checks it against the connection's mode: a live key on a test connection
// (or the reverse) is refused before it is ever sent to Stripe.
func (c *Resolver) apiKey(ctx context.Context, connection *v1alpha1.StripeConnection) (string, error) {
	ref := connection.Spec.SecretRef
	if !c.secretNamespaces[ref.Namespace] {
		return "", &DependencyError{Reason: v1alpha1.ReasonInvalidCredentials,
			Message: fmt.Sprintf("the operator reads API keys only from namespaces %v, not %q (its --secret-namespaces flag)", c.SecretNamespaces(), ref.Namespace)}
	}
	keyName := ref.Key
	if keyName == "" {
		keyName = "apiKey"
	}
	var secret corev1.Secret
	if err := c.kube.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", &DependencyError{Reason: v1alpha1.ReasonInvalidCredentials, Message: fmt.Sprintf("Secret %s/%s does not exist", ref.Namespace, ref.Name)}
		}
		return "", fmt.Errorf("get Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	key := strings.TrimSpace(string(secret.Data[keyName]))
	if key == "" {
		return "", &DependencyError{Reason: v1alpha1.ReasonInvalidCredentials, Message: fmt.Sprintf("Secret %s/%s has no key %q", ref.Namespace, ref.Name, keyName)}
	}
	if err := checkKeyMode(key, connection.Spec.Mode); err != nil {
		return "", &DependencyError{Reason: v1alpha1.ReasonInvalidCredentials, Message: fmt.Sprintf("Secret %s/%s: %v", ref.Namespace, ref.Name, err)}
	}
	return key, nil
}

// checkKeyMode refuses a key whose prefix contradicts the mode. Stripe's secret (sk_) and restricted
// (rk_) keys say their mode in their prefix.
func checkKeyMode(key string, mode v1alpha1.StripeMode) error {
	var keyMode v1alpha1.StripeMode
	switch {
	case strings.HasPrefix(key, "sk_live_"), strings.HasPrefix(key, "rk_live_"):
		keyMode = v1alpha1.StripeModeLive
	case strings.HasPrefix(key, "sk_test_"), strings.HasPrefix(key, "rk_test_"):
		keyMode = v1alpha1.StripeModeTest
	default:
		return fmt.Errorf("the value is not a Stripe secret or restricted key (sk_test_, sk_live_, rk_test_, rk_live_)")
	}
	if keyMode != mode {
		return fmt.Errorf("the key is a %s-mode key but spec.mode is %s", keyMode, mode)
	}
	return nil
}

func (c *Resolver) namespaceAllowed(ctx context.Context, connection *v1alpha1.StripeConnection, namespace string) (bool, error) {
	if connection.Spec.AllowedNamespaces == nil {
		return false, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(connection.Spec.AllowedNamespaces)
	if err != nil {
		return false, Terminal("StripeConnection %q: spec.allowedNamespaces: %v", connection.Name, err)
	}
	if selector.Empty() {
		return true, nil
	}
	var ns corev1.Namespace
	if err := c.kube.Get(ctx, types.NamespacedName{Name: namespace}, &ns); err != nil {
		return false, fmt.Errorf("get namespace %q: %w", namespace, err)
	}
	return selector.Matches(labels.Set(ns.Labels)), nil
}
