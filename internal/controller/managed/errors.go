package managed

import (
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/internal/stripeconn"
)

// The contract's error types are defined in package stripeconn, beside the connection resolver that
// returns them, so that the relay shares the resolver without importing a controller package. Adapters
// keep using them by these names.
type (
	// DependencyError is stripeconn.DependencyError.
	DependencyError = stripeconn.DependencyError
	// TerminalError is stripeconn.TerminalError.
	TerminalError = stripeconn.TerminalError
)

// WaitingFor returns a DependencyError with the WaitingForDependency reason.
func WaitingFor(format string, args ...any) error { return stripeconn.WaitingFor(format, args...) }

// ReferentMissing returns a DependencyError for a referenced object that does not exist.
func ReferentMissing(format string, args ...any) error {
	return stripeconn.ReferentMissing(format, args...)
}

// ConnectionNotReady returns a DependencyError with the ConnectionNotReady reason.
func ConnectionNotReady(format string, args ...any) error {
	return stripeconn.ConnectionNotReady(format, args...)
}

// Terminal wraps err as a TerminalError.
func Terminal(format string, args ...any) error { return stripeconn.Terminal(format, args...) }

// outcome is what the reconciler does with an error: which Synced reason it reports, whether it asks
// controller-runtime for a rate-limited retry (returning the error), or requeues after a fixed delay.
type outcome struct {
	reason       string
	retry        bool          // return the error: exponential backoff by the workqueue
	requeueAfter time.Duration // quiet requeue after a delay (0: none)
}

// Delays for the quiet requeues. Dependencies are also watched, so these only bound how long a missed
// event can delay progress.
const (
	dependencyRequeue = 30 * time.Second
	authRequeue       = 2 * time.Minute
	rateLimitRequeue  = 2 * time.Second
)

// classify decides what an error means for the object. Stripe's classes come from the wrapper:
// invalid requests are terminal until the spec changes, 401/403 point at the connection, and 429, 5xx
// and network errors are retried with backoff.
func classify(err error) outcome {
	var dependency *DependencyError
	var terminal *TerminalError
	switch {
	case errors.As(err, &dependency):
		if dependency.RetryAfter > 0 {
			return outcome{reason: dependency.Reason, requeueAfter: dependency.RetryAfter}
		}
		return outcome{reason: dependency.Reason, requeueAfter: dependencyRequeue}
	case errors.As(err, &terminal):
		return outcome{reason: v1alpha1.ReasonTerminal}
	case apierrors.IsConflict(err):
		// Someone else wrote the object first: a stale read, not a failure. Retry quietly.
		return outcome{reason: v1alpha1.ReasonReconcileError, requeueAfter: time.Second}
	}
	if stripeapi.IsRateLimited(err) {
		// The connection's shared budget has already slowed down (stripeapi's adaptive budget does
		// the pacing for every controller at once); escalating this object's own backoff on top
		// would only leave it idle once Stripe has room again.
		return outcome{reason: v1alpha1.ReasonReconcileError, requeueAfter: rateLimitRequeue}
	}
	switch stripeapi.Classify(err) {
	case stripeapi.ClassTerminal:
		return outcome{reason: v1alpha1.ReasonTerminal}
	case stripeapi.ClassAuth:
		return outcome{reason: v1alpha1.ReasonConnectionNotReady, requeueAfter: authRequeue}
	default:
		return outcome{reason: v1alpha1.ReasonReconcileError, retry: true}
	}
}
