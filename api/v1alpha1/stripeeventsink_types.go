/*
Copyright 2026 CloudIP.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SinkFormat is the shape of what the relay sends to a sink.
// +kubebuilder:validation:Enum=events;ledger
type SinkFormat string

// Sink formats.
const (
	// SinkFormatEvents sends Stripe events as they are.
	SinkFormatEvents SinkFormat = "events"
	// SinkFormatLedger sends records a general ledger can post (payments, refunds, fees, payouts
	// expanded into the balance transactions they settle).
	SinkFormatLedger SinkFormat = "ledger"
)

// StripeEventSinkSpec declares where the webhook relay forwards events.
// +kubebuilder:validation:XValidation:rule="has(self.connectionRef)",message="spec.connectionRef is required"
type StripeEventSinkSpec struct {
	ManagedSpec `json:",inline"`

	// URL is where the relay POSTs signed deliveries. It must use https; http is accepted only for
	// loopback hosts (localhost, 127.0.0.0/8, ::1) and in-cluster Service hosts (*.svc,
	// *.svc.cluster.local).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="spec.url must be an absolute http(s) URL"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getScheme() == 'https' || self.matches('^http://(localhost|127[.][0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}|[[]::1[]]|[-a-z0-9.]+[.]svc|[-a-z0-9.]+[.]svc[.]cluster[.]local)(:[0-9]{1,5})?([/?#]|$)')",message="spec.url must use https; http is allowed only for loopback and in-cluster Service (*.svc, *.svc.cluster.local) hosts"
	URL string `json:"url"`

	// EventTypes filters the events sent: exact types (invoice.paid), prefixes (invoice.*) or "*".
	// Empty means every event.
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$`
	// +optional
	EventTypes []string `json:"eventTypes,omitempty"`

	// Region is the data-residency region (us, eu or ap) of this sink: it receives only events of
	// tenants whose dataResidency is this region.
	Region Region `json:"region"`

	// SigningSecretRef selects the Secret key (in this namespace) with the key the relay signs
	// deliveries with (Standard Webhooks), so the sink can verify them. The value is one or more
	// secrets "whsec_<base64>" separated by white space: the relay signs every delivery with each, and
	// the webhook-signature header carries one "v1,<signature>" per secret, separated by spaces. That
	// is how the secret is rotated without a delivery the sink cannot verify: add the new secret next
	// to the old one, update the sink to verify with the new one, then remove the old one.
	SigningSecretRef LocalSecretKeySelector `json:"signingSecretRef"`

	// Format is events (Stripe events as they are) or ledger (records a general ledger can post).
	// +kubebuilder:default=events
	// +optional
	Format SinkFormat `json:"format,omitempty"`

	// Delivery bounds how the relay delivers to this sink: concurrency, rate, how long one attempt may
	// take and how long a failing delivery is retried before it is dead-lettered.
	// +kubebuilder:default={}
	// +optional
	Delivery *SinkDelivery `json:"delivery,omitempty"`
}

// Defaults of SinkDelivery, as the API server fills them in (see StripeEventSinkSpec.DeliveryOrDefaults).
const (
	DefaultSinkMaxInFlight       int32 = 4
	DefaultSinkRequestsPerSecond int32 = 50
	DefaultSinkRetryHorizon            = 72 * time.Hour
	DefaultSinkTimeout                 = 10 * time.Second
)

// SinkDelivery bounds how the relay delivers to one sink.
type SinkDelivery struct {
	// MaxInFlight is how many deliveries to this sink the relay makes at once (1 to 64).
	// +kubebuilder:default=4
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	MaxInFlight int32 `json:"maxInFlight,omitempty"`

	// RequestsPerSecond is the sink's rate limit: the relay starts at most this many attempts per
	// second to it (1 to 1000), retries included.
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	RequestsPerSecond int32 `json:"requestsPerSecond,omitempty"`

	// RetryHorizon is how long a failing delivery is retried (Go duration, 1m to 168h): a delivery
	// still failing this long after its event was stored is dead-lettered (see StripeEventReplay to
	// send dead letters again). The default, 72h, matches the 3 days Stripe retries its own deliveries.
	// +kubebuilder:default="72h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('168h')",message="spec.delivery.retryHorizon must be between 1m and 168h"
	// +optional
	RetryHorizon *metav1.Duration `json:"retryHorizon,omitempty"`

	// Timeout bounds one attempt (Go duration, 1s to 60s): connecting, sending and reading the
	// sink's answer. An attempt that runs out of time fails and is retried.
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('60s')",message="spec.delivery.timeout must be between 1s and 60s"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// DeliveryOrDefaults returns spec.delivery with every unset field at its default, for objects that
// did not go through the API server's defaulting (a fake client, an object built in code).
func (s *StripeEventSinkSpec) DeliveryOrDefaults() SinkDelivery {
	d := SinkDelivery{}
	if s.Delivery != nil {
		d = *s.Delivery.DeepCopy()
	}
	if d.MaxInFlight == 0 {
		d.MaxInFlight = DefaultSinkMaxInFlight
	}
	if d.RequestsPerSecond == 0 {
		d.RequestsPerSecond = DefaultSinkRequestsPerSecond
	}
	if d.RetryHorizon == nil {
		d.RetryHorizon = &metav1.Duration{Duration: DefaultSinkRetryHorizon}
	}
	if d.Timeout == nil {
		d.Timeout = &metav1.Duration{Duration: DefaultSinkTimeout}
	}
	return d
}

// Condition reasons of event sinks (Ready), set by the relay.
const (
	// ReasonDelivering (Ready True): the relay delivers to the sink; recent attempts succeed (or
	// nothing was owed).
	ReasonDelivering = "Delivering"
	// ReasonDeliveryFailing (Ready False): recent attempts to the sink fail; they are retried until
	// spec.delivery.retryHorizon, then dead-lettered. The message holds the last error.
	ReasonDeliveryFailing = "DeliveryFailing"
	// ReasonInvalidSecret (Ready False): the Secret or key of spec.signingSecretRef is missing, or its
	// value is not one or more whsec_<base64> secrets; nothing is delivered until it is fixed.
	ReasonInvalidSecret = "InvalidSecret"
	// ReasonDeliveryHeld (Ready False): the relay holds a delivery rather than send it wrong: a
	// ledger deposit whose lines do not sum to the payout (the message has the figures). It is tried
	// again on the retry schedule (Stripe may still be reconciling) and dead-lettered past the horizon.
	ReasonDeliveryHeld = "DeliveryHeld"
)

// SinkLastErrorMaxLength bounds status.lastError; the relay cuts longer errors.
const SinkLastErrorMaxLength = 1024

// StripeEventSinkStatus is written by the webhook relay, not the operator: the relay delivers to the
// sink, so it is the one that knows. The counts are always written (0 included), so kubectl get shows
// them; they count the relay's deliveries to this sink (one per event the sink is owed).
type StripeEventSinkStatus struct {
	ManagedStatus `json:",inline"`

	// Delivered counts the deliveries the sink acknowledged (answered 2xx).
	// +optional
	Delivered int64 `json:"delivered"`

	// Pending counts the deliveries still owed: waiting for a first attempt or for a retry.
	// +optional
	Pending int64 `json:"pending"`

	// Retrying counts the pending deliveries that failed at least once (a subset of pending).
	// +optional
	Retrying int64 `json:"retrying"`

	// DeadLettered counts the deliveries given up on after spec.delivery.retryHorizon; a
	// StripeEventReplay sends them again.
	// +optional
	DeadLettered int64 `json:"deadLettered"`

	// OldestPendingAt is when the oldest event still owed to the sink was stored by the relay; the
	// sink's lag is now minus this. Empty when nothing is pending.
	// +optional
	OldestPendingAt *metav1.Time `json:"oldestPendingAt,omitempty"`

	// LastDeliveredAt is when the sink last acknowledged a delivery.
	// +optional
	LastDeliveredAt *metav1.Time `json:"lastDeliveredAt,omitempty"`

	// LastError is the last failed attempt's error (an HTTP status and the start of the body, or a
	// network error), cut to 1024 characters.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	LastError string `json:"lastError,omitempty"`

	// LastErrorAt is when the last attempt failed.
	// +optional
	LastErrorAt *metav1.Time `json:"lastErrorAt,omitempty"`
}

// StripeEventSink is a destination the webhook relay forwards Stripe events (or ledger records) to,
// with signed payloads (Standard Webhooks), a rate limit, retries and dead letters. It owns no Stripe
// object; its status is written by the relay.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ssink,categories=stripe
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Format",type=string,JSONPath=`.spec.format`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.pending`
// +kubebuilder:printcolumn:name="Dead",type=integer,JSONPath=`.status.deadLettered`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Delivered",type=integer,JSONPath=`.status.delivered`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`,priority=1
type StripeEventSink struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the destination.
	Spec StripeEventSinkSpec `json:"spec"`

	// Status is written by the webhook relay, not the operator: delivery counts, lag and the last error.
	// +optional
	Status StripeEventSinkStatus `json:"status,omitempty"`
}

// GetManagedSpec returns the embedded ManagedSpec.
func (s *StripeEventSink) GetManagedSpec() *ManagedSpec { return &s.Spec.ManagedSpec }

// GetManagedStatus returns the embedded ManagedStatus.
func (s *StripeEventSink) GetManagedStatus() *ManagedStatus { return &s.Status.ManagedStatus }

// GetConditions returns status.conditions.
func (s *StripeEventSink) GetConditions() []metav1.Condition { return s.Status.Conditions }

// SetConditions replaces status.conditions.
func (s *StripeEventSink) SetConditions(conditions []metav1.Condition) {
	s.Status.Conditions = conditions
}

// +kubebuilder:object:root=true

// StripeEventSinkList is a list of StripeEventSink.
type StripeEventSinkList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the StripeEventSinks.
	Items []StripeEventSink `json:"items"`
}

func init() {
	SchemeBuilder.Register(&StripeEventSink{}, &StripeEventSinkList{})
}
