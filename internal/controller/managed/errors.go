package managed

import (
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// DependencyError says that something an object needs is not ready yet (its connection, its tenant's
// connected account). It is not a failure: the object waits, with a condition that names what it waits
// for, and is woken by a watch on the dependency (the periodic requeue is only a safety net).
type DependencyError struct {
	// Reason is the condition reason, such as ConnectionNotReady or WaitingForDependency.
	Reason string
	// Message says what is awaited, in words a person can act on.
	Message string
	// Missing says the awaited object does not exist at all (as opposed to not being ready): an
	// object being deleted need not wait for it, since there is nothing left to reach through it.
	Missing bool
	// RetryAfter, when set, replaces the default wait before the next pass: a cause that changes
	// slowly and costs a Stripe read to check (a balance that must reach zero) is not polled often.
	RetryAfter time.Duration
}

func (e *DependencyError) Error() string { return e.Message }

// WaitingFor returns a DependencyError with the WaitingForDependency reason.
func WaitingFor(format string, args ...any) error {
	return &DependencyError{Reason: v1alpha1.ReasonWaitingForDependency, Message: fmt.Sprintf(format, args...)}
}

// ReferentMissing returns a DependencyError for a referenced object that does not exist.
func ReferentMissing(format string, args ...any) error {
	return &DependencyError{Reason: v1alpha1.ReasonWaitingForDependency, Message: fmt.Sprintf(format, args...), Missing: true}
}

// ConnectionNotReady returns a DependencyError with the ConnectionNotReady reason.
func ConnectionNotReady(format string, args ...any) error {
	return &DependencyError{Reason: v1alpha1.ReasonConnectionNotReady, Message: fmt.Sprintf(format, args...)}
}

// TerminalError marks an error that retrying cannot fix: only a change to the spec (or to Stripe, by a
// person) can. The reconciler reports it and stops retrying until the object changes.
type TerminalError struct{ Err error }

func (e *TerminalError) Error() string { return e.Err.Error() }
func (e *TerminalError) Unwrap() error { return e.Err }

// Terminal wraps err as a TerminalError.
func Terminal(format string, args ...any) error {
	return &TerminalError{Err: fmt.Errorf(format, args...)}
}

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
