// Package managed holds the one reconcile loop that drives every Stripe-backed kind.
//
// A kind plugs in through two small interfaces: a Connecter that, once per reconcile pass, decides which
// Stripe account the object lives in and returns an ExternalClient; and the ExternalClient itself, which
// knows one Stripe resource and nothing else. Everything else — finalizers, the external-name
// annotation, deletion and management policies, pausing, conditions, events, requeue and backoff, error
// classification — lives here, so each kind's adapter stays a small file.
package managed

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Object is what the generic reconciler drives: a Kubernetes object with the shared spec and status shapes.
type Object interface {
	client.Object
	v1alpha1.Managed
}

// Observation is what Observe learned about the Stripe side of an object.
type Observation struct {
	// Exists is true when the primary Stripe object exists (an archived product still exists).
	Exists bool
	// UpToDate is true when Stripe already matches the spec, so no Update call is needed.
	UpToDate bool
	// ExternalID is the primary object's Stripe id. Observe sets it when it found the object without a
	// usable external-name annotation (by its metadata tags after a crash, or when an id is adopted); the
	// reconciler persists it on the object before anything else happens.
	ExternalID string
	// Diff names what differs when UpToDate is false, for the event and the log ("price monthly: nickname").
	Diff string
}

// Readiness is a kind's own verdict on whether its Stripe objects are usable, beyond "in sync".
// A tenant, for example, is in sync long before Stripe lets it take charges.
type Readiness struct {
	Ready   bool
	Reason  string
	Message string
}

// ExternalClient manages one kind of Stripe object for one Kubernetes object, for the length of one
// reconcile pass. Implementations may keep what Observe read and use it in Create and Update, which is
// how a pass avoids reading Stripe twice.
//
// Every method must be idempotent: the reconciler may call it again after a crash at any line. Create
// must send the idempotency key the wrapper derives from the object's UID, generation and purpose, and
// tag what it creates, so that a repeated Create returns the same Stripe object rather than a second one.
type ExternalClient interface {
	// Observe reads Stripe and never writes. It records what it read in the object's status (ids and the
	// facts users check) and reports whether the primary object exists and matches the spec. When the
	// external-name annotation is empty, nothing was ever created for this object and Observe need not
	// look for it; when it holds the create-pending marker, a create may have happened, and Observe must
	// look the object up by its metadata tags (list, never search: search lags) before reporting !Exists.
	Observe(ctx context.Context, obj Object) (Observation, error)
	// Create creates the primary Stripe object and returns its id. It creates nothing else: the
	// reconciler persists the id first and then calls Update, which creates the secondary objects.
	Create(ctx context.Context, obj Object) (externalID string, err error)
	// Update makes Stripe match the spec, changing only what differs. It is also called right after
	// Create, with nothing observed but what Create returned.
	Update(ctx context.Context, obj Object) error
	// Delete removes the Stripe objects, or archives them where Stripe cannot delete (a product with
	// prices, a price). It is only called when Observe said the object exists.
	Delete(ctx context.Context, obj Object) error
}

// Connection is what a Connecter receives for one pass: a Stripe client for the object's connection,
// scoped to the platform account, and what the adapter needs to tag and report its writes.
type Connection struct {
	// Stripe is the platform account's client. Adapters scope it to a connected account with ForAccount.
	Stripe stripeapi.Interface
	// Tags are the metadata every Stripe object created for this Kubernetes object carries.
	Tags stripeapi.Tags
	// Record notes a Stripe write as a Kubernetes event on the object (reason, then a message).
	Record func(reason, messageFmt string, args ...any)
	// Pass identifies this reconcile pass. Creates must NOT use it: their idempotency key comes from
	// the UID, generation and purpose alone, so a create repeated after a crash returns the first
	// object. Updates should: an update is idempotent by nature and re-derived from a fresh
	// observation every pass, while a key reused within Stripe's 24 hours would be answered from its
	// cache without being applied, so the same drift corrected twice would stay drifted.
	Pass string
}

// Connecter builds the ExternalClient for one pass. It is where a kind decides which account its Stripe
// objects live in (the platform, or a tenant's connected account) and waits for what it depends on:
// return a *DependencyError when something it needs is not ready yet.
type Connecter interface {
	Connect(ctx context.Context, obj Object, conn Connection) (ExternalClient, error)
}

// ReadinessReporter is implemented by adapters whose Ready condition needs more than "in sync".
type ReadinessReporter interface {
	Readiness(obj Object) Readiness
}
