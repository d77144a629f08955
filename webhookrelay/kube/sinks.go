package kube

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/webhookrelay/delivery"
	"github.com/cloudip/stripe-operator/webhookrelay/ledger"
)

// sinkSecretTTL is how long a sink's signing secret is used before it is read again: a rotated secret
// (a new one added beside the old) is picked up within it, without a restart.
const sinkSecretTTL = 30 * time.Second

// Sinks is the deliverer's SinkSource: the StripeEventSinks from the relay's cache, each with its
// signing secrets. Those Secrets are a person's (not the operator's), so they are not in the cache,
// which holds only the operator's Secrets: they are read from the API server, at most every
// sinkSecretTTL per sink.
type Sinks struct {
	cache client.Reader // the informer cache: the sinks
	api   client.Reader // the API server: the sinks' Secrets
	now   func() time.Time

	mu      sync.Mutex
	secrets map[types.NamespacedName]secretRead
}

type secretRead struct {
	at      time.Time
	secrets []string
	err     string
}

// NewSinks returns the sink source.
func NewSinks(cache, api client.Reader) *Sinks {
	return &Sinks{cache: cache, api: api, now: time.Now, secrets: map[types.NamespacedName]secretRead{}}
}

// Sinks implements delivery.SinkSource.
func (s *Sinks) Sinks(ctx context.Context) ([]delivery.Sink, error) { return s.list(ctx, true) }

// ForRouting is the sinks without their secrets: what the router reads for every stored event, from
// the cache alone (a secret read would put an API-server request on the intake's path).
func (s *Sinks) ForRouting() delivery.SinkSource { return routingSinks{s} }

type routingSinks struct{ s *Sinks }

func (r routingSinks) Sinks(ctx context.Context) ([]delivery.Sink, error) {
	return r.s.list(ctx, false)
}

func (s *Sinks) list(ctx context.Context, withSecrets bool) ([]delivery.Sink, error) {
	var list v1alpha1.StripeEventSinkList
	if err := s.cache.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("list StripeEventSinks: %w", err)
	}
	out := make([]delivery.Sink, 0, len(list.Items))
	for i := range list.Items {
		sink := &list.Items[i]
		if sink.Spec.ConnectionRef == nil {
			continue
		}
		d := sink.Spec.DeliveryOrDefaults()
		var secrets []string
		var secretErr string
		if withSecrets {
			secrets, secretErr = s.signingSecrets(ctx, sink)
		}
		var accepts func(string) bool
		if string(sink.Spec.Format) == FormatLedger {
			accepts = ledger.Handles
		}
		out = append(out, delivery.Sink{
			FormatAccepts:     accepts,
			Key:               sink.Namespace + "/" + sink.Name,
			Connection:        sink.Spec.ConnectionRef.Name,
			Region:            string(sink.Spec.Region),
			EventTypes:        sink.Spec.EventTypes,
			Format:            string(sink.Spec.Format),
			URL:               sink.Spec.URL,
			Secrets:           secrets,
			SecretError:       secretErr,
			MaxInFlight:       int(d.MaxInFlight),
			RequestsPerSecond: float64(d.RequestsPerSecond),
			RetryHorizon:      durationOf(d.RetryHorizon),
			Timeout:           durationOf(d.Timeout),
		})
	}
	return out, nil
}

// signingSecrets reads the sink's secrets (whitespace-separated in the key: several during a
// rotation), or says why there are none usable.
func (s *Sinks) signingSecrets(ctx context.Context, sink *v1alpha1.StripeEventSink) ([]string, string) {
	ref := sink.Spec.SigningSecretRef
	name := types.NamespacedName{Namespace: sink.Namespace, Name: ref.Name}
	s.mu.Lock()
	cached, ok := s.secrets[name]
	s.mu.Unlock()
	if ok && s.now().Sub(cached.at) < sinkSecretTTL {
		return cached.secrets, cached.err
	}
	read := secretRead{at: s.now()}
	var secret corev1.Secret
	if err := s.api.Get(ctx, name, &secret); err != nil {
		read.err = fmt.Sprintf("read Secret %s: %v", name, err)
	} else if read.secrets = strings.Fields(string(secret.Data[ref.Key])); len(read.secrets) == 0 {
		read.err = fmt.Sprintf("Secret %s has no key %q", name, ref.Key)
	} else {
		for _, v := range read.secrets {
			if err := delivery.ValidSecret(v); err != nil {
				read.secrets, read.err = nil, fmt.Sprintf("Secret %s key %q: %v", name, ref.Key, err)
				break
			}
		}
	}
	s.mu.Lock()
	s.secrets[name] = read
	s.mu.Unlock()
	return read.secrets, read.err
}

func durationOf(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}
