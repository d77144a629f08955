package intake

import (
	"context"
	"errors"
	"fmt"
)

// EndpointKey names a relay endpoint: the namespace and name of its StripeWebhookEndpoint, as in the
// URL path /stripe/{namespace}/{endpoint} Stripe is given.
type EndpointKey struct {
	Namespace string
	Name      string
}

func (k EndpointKey) String() string { return k.Namespace + "/" + k.Name }

// EndpointSecrets is what the intake needs to accept an endpoint's events.
type EndpointSecrets struct {
	// Secrets are the signing secrets active now: more than one while a secret is rolled.
	Secrets []string
	// Livemode is the mode of the endpoint's StripeConnection: an event of the other mode is refused.
	Livemode bool
}

// ErrUnknownEndpoint is returned (wrapped) by a SecretSource for an endpoint it does not know.
var ErrUnknownEndpoint = errors.New("unknown webhook endpoint")

// SecretSource returns an endpoint's active secrets. The relay's implementation reads the Secrets the
// operator writes, so that a rotated secret is picked up without a restart; it is asked on every
// request, so it must answer from memory (an informer cache), not from the API server.
type SecretSource interface {
	// EndpointSecrets returns ErrUnknownEndpoint (wrapped) for an endpoint it does not know; any other
	// error is taken as transient (Stripe is asked to retry).
	EndpointSecrets(ctx context.Context, key EndpointKey) (EndpointSecrets, error)
}

// StaticSecrets is a fixed SecretSource, for tests and out-of-cluster runs.
type StaticSecrets map[EndpointKey]EndpointSecrets

// EndpointSecrets implements SecretSource.
func (s StaticSecrets) EndpointSecrets(_ context.Context, key EndpointKey) (EndpointSecrets, error) {
	e, ok := s[key]
	if !ok {
		return EndpointSecrets{}, fmt.Errorf("%s: %w", key, ErrUnknownEndpoint)
	}
	return e, nil
}
