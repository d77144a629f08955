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
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
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

// Recheck is an adapter's request to be observed again sooner than the resync: something outside the
// cluster is in progress (a tenant's onboarding) or a time is coming (a requirement falls due). The
// reconciler turns it into a delay that starts at MinRecheckDelay and doubles on every pass that asks
// again for the same Why, up to MaxRecheckDelay, so a tenant that takes a week to onboard costs a few
// reads an hour, not thousands; and it spaces the rechecks of all of a kind's waiting objects so that
// together they make at most Options.RecheckRate passes a second, so a thousand tenants onboarding at
// once never crowd out the writes that share their connection's budget.
type Recheck struct {
	// Why names what is awaited ("onboarding", "requirements due"). The backoff restarts when it changes.
	Why string
	// NotAfter, when set, is a moment the next observation should not come after (a link's expiry, a
	// requirement deadline): the backoff is shortened to reach it, but never below MinRecheckDelay,
	// and never below the kind's rate bound either (with many objects waiting, the budget wins).
	NotAfter time.Time
}

// Created is what Create made.
type Created struct {
	// ID is the primary object's Stripe id (also when Create returns an error, if Stripe gave one).
	ID string
	// Secret is what Stripe shows only once, on this create (a webhook endpoint's signing secret).
	// The reconciler writes it into the Secret SecretName, in the object's namespace, before it
	// records the create as done. If that write is lost (a crash, an API error), the next pass
	// repeats the create with the same idempotency key, which Stripe answers with the same object and
	// the same secret within 24 hours; past that window (or after a spec change) the repeat makes a
	// new object, and the one whose secret was lost is deleted (SecretKeeper).
	Secret     map[string][]byte
	SecretName string
}

// SecretKeeper is implemented by adapters whose Create returns a secret. While a create is pending,
// an object found by its tags cannot be adopted: its secret was never stored. The reconciler creates
// again instead, and deletes the found object with DeleteReplaced once its replacement is recorded.
type SecretKeeper interface {
	DeleteReplaced(ctx context.Context, obj Object, id string) error
}

// Readiness is a kind's own verdict on whether its Stripe objects are usable, beyond "in sync".
// A tenant, for example, is in sync long before Stripe lets it take charges.
type Readiness struct {
	Ready   bool
	Reason  string
	Message string
	// Recheck, when set, asks for the object to be observed again soon (see Recheck). It is part of
	// the verdict because it is made at the end of the pass, on what the pass wrote: right after a
	// create, a tenant's new account is already waiting for onboarding.
	Recheck *Recheck
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
	// Create creates the primary Stripe object and returns its id (and, for a kind like a webhook
	// endpoint, the secret Stripe shows only once). It creates nothing else: the reconciler persists
	// the secret and the id first and then calls Update, which creates the secondary objects, each
	// through Pass.Secondaries.Ensure so that its id is persisted the same way.
	Create(ctx context.Context, obj Object) (Created, error)
	// Update makes Stripe match the spec, changing only what differs. It is also called right after
	// Create, with nothing observed but what Create returned.
	Update(ctx context.Context, obj Object) error
	// Delete removes the Stripe objects, or archives them where Stripe cannot delete (a product with
	// prices, a price). It is only called when Observe said the object exists. It returns what it did,
	// as the reconciler's event says it ("archived product prod_1 and its 3 prices"), so a person reads
	// which of deleted, archived or cancelled happened.
	Delete(ctx context.Context, obj Object) (done string, err error)
}

// Connecter builds the ExternalClient for one pass. It is where a kind decides which account its Stripe
// objects live in (the platform, or a tenant's connected account) and waits for what it depends on:
// return a *DependencyError when something it needs is not ready yet.
type Connecter interface {
	Connect(ctx context.Context, obj Object, pass *Pass) (ExternalClient, error)
}

// ReadinessReporter is implemented by adapters whose Ready condition needs more than "in sync".
type ReadinessReporter interface {
	Readiness(obj Object) Readiness
}
