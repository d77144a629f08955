package stripeconn

import (
	"fmt"
	"time"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
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
