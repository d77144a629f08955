// Package kube is the relay's view of the cluster: the webhook endpoints, their signing secrets and
// their connections' modes, read from an informer cache so that every delivery is answered from memory
// and a rotated secret is picked up as soon as the operator writes it, without a restart.
package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/webhookrelay/intake"
)

// SigningSecretSelector selects the Secrets the relay's cache holds: the webhook endpoints' signing
// secrets (v1alpha1.LabelSecretOf=StripeWebhookEndpoint, which the operator puts on them), and no other
// Secret of the cluster — not a tenant's onboarding link, not an API key.
func SigningSecretSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{v1alpha1.LabelSecretOf: "StripeWebhookEndpoint"})
}

// Secrets is the intake's SecretSource over a cache-backed client.
type Secrets struct {
	kube client.Reader
}

var _ intake.SecretSource = (*Secrets)(nil)

// NewSecrets returns the SecretSource reading through kube (the relay's cache).
func NewSecrets(kube client.Reader) *Secrets { return &Secrets{kube: kube} }

// EndpointSecrets implements intake.SecretSource: the endpoint must exist; its secrets are every key
// of its Secret that v1alpha1.SigningSecretsOf accepts (two during a rotation), none when the Secret
// is not there yet (the intake answers 503 and Stripe retries); its mode is its connection's.
func (s *Secrets) EndpointSecrets(ctx context.Context, key intake.EndpointKey) (intake.EndpointSecrets, error) {
	var endpoint v1alpha1.StripeWebhookEndpoint
	if err := s.kube.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: key.Name}, &endpoint); err != nil {
		if apierrors.IsNotFound(err) {
			return intake.EndpointSecrets{}, fmt.Errorf("StripeWebhookEndpoint %s: %w", key, intake.ErrUnknownEndpoint)
		}
		return intake.EndpointSecrets{}, fmt.Errorf("get StripeWebhookEndpoint %s: %w", key, err)
	}
	if endpoint.Spec.ConnectionRef == nil {
		return intake.EndpointSecrets{}, fmt.Errorf("StripeWebhookEndpoint %s names no connection: %w", key, intake.ErrUnknownEndpoint)
	}
	var connection v1alpha1.StripeConnection
	if err := s.kube.Get(ctx, types.NamespacedName{Name: endpoint.Spec.ConnectionRef.Name}, &connection); err != nil {
		return intake.EndpointSecrets{}, fmt.Errorf("StripeWebhookEndpoint %s: get StripeConnection %q: %w", key, endpoint.Spec.ConnectionRef.Name, err)
	}
	secretName := endpoint.Status.SecretName
	if secretName == "" {
		secretName = endpoint.SigningSecretName()
	}
	out := intake.EndpointSecrets{Livemode: connection.Spec.Mode == v1alpha1.StripeModeLive}
	var secret corev1.Secret
	err := s.kube.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: secretName}, &secret)
	switch {
	case apierrors.IsNotFound(err):
		return out, nil
	case err != nil:
		return intake.EndpointSecrets{}, fmt.Errorf("StripeWebhookEndpoint %s: get Secret %s: %w", key, secretName, err)
	}
	out.Secrets = v1alpha1.SigningSecretsOf(secret.Data)
	return out, nil
}
