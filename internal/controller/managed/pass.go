package managed

import (
	"context"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Pass is what a Connecter receives for one reconcile pass of one object: a Stripe client for the
// object's connection (scoped to the platform account), the object's tags, its event recorder, the
// idempotency keys of its writes, and the store of its secondary objects' ids.
type Pass struct {
	// Stripe is the platform account's client. Adapters scope it to a connected account with ForAccount.
	Stripe stripeapi.Interface
	// Connection is the StripeConnection the client is for, as this pass read it (mode, region).
	Connection *v1alpha1.StripeConnection
	// Tags are the metadata every Stripe object created for this Kubernetes object carries.
	Tags stripeapi.Tags
	// Record notes a Stripe write as a Kubernetes event on the object (reason, then a message).
	Record func(reason, messageFmt string, args ...any)
	// Warn notes, as a Warning event, something a person must act on that is not an error of the pass.
	Warn func(reason, messageFmt string, args ...any)
	// Secondaries persists the ids of the Stripe objects a kind creates besides its primary one.
	Secondaries *Secondaries
	// PublishSecret writes what must not appear in status, events or logs (an onboarding link, a
	// signing secret) into a Secret of the object's namespace that the object owns.
	PublishSecret func(ctx context.Context, name string, data map[string][]byte) error
	// PublishSecretKey writes one key of such a Secret as its own server-side-apply field manager,
	// "stripe-operator/<holder>" (holder: the id of the Stripe object the secret belongs to), beside
	// the keys of Created.Secret and of other holders, none of which it changes or needs to read: a
	// webhook endpoint made by a rotation puts its secret next to the previous endpoint's.
	PublishSecretKey func(ctx context.Context, name, holder, key string, value []byte) error
	// RemoveSecretKey removes the key PublishSecretKey wrote for holder, leaving every other key;
	// holder "" removes the keys of Created.Secret. Repeating it is harmless.
	RemoveSecretKey func(ctx context.Context, name, holder string) error

	id         string // this reconcile pass (controller-runtime's reconcile id)
	uid        string
	generation int64
}

// CreateKey is the Idempotency-Key of a create: derived from the object's UID, its generation and the
// purpose ("create-product", "create-price/monthly/<shape>"), never from the pass, so a create repeated
// after a crash or a timeout is answered by Stripe with the object the first attempt made.
func (p *Pass) CreateKey(purpose string) string {
	return stripeapi.IdempotencyKey(p.uid, p.generation, purpose)
}

// UpdateKey is the Idempotency-Key of an update: the purpose, this pass, and a digest of the change.
// The pass is in it because an update is re-derived from a fresh observation every pass, and a key
// reused within Stripe's 24 hours is answered from its cache without being applied: the same drift
// corrected twice would stay drifted. The digest keeps two different changes of one pass apart.
func (p *Pass) UpdateKey(purpose string, change ...any) string {
	return stripeapi.IdempotencyKey(p.uid, p.generation, purpose+"/"+p.id+"/"+stripeapi.Digest(change...))
}

// ID identifies this reconcile pass, for logs.
func (p *Pass) ID() string { return p.id }

// NewPass returns a pass without a reconciler, for an adapter's unit tests on the stripeapi fake: its
// events are dropped, and it has no Secondaries and no Secret writes (PublishSecret, PublishSecretKey,
// RemoveSecretKey).
func NewPass(stripe stripeapi.Interface, tags stripeapi.Tags, generation int64, passID string) *Pass {
	drop := func(string, string, ...any) {}
	return &Pass{Stripe: stripe, Tags: tags, Record: drop, Warn: drop, id: passID, uid: tags.UID, generation: generation}
}
