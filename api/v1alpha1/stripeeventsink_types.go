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
	// deliveries with, so the sink can verify them.
	SigningSecretRef LocalSecretKeySelector `json:"signingSecretRef"`

	// Format is events (Stripe events as they are) or ledger (records a general ledger can post).
	// +kubebuilder:default=events
	// +optional
	Format SinkFormat `json:"format,omitempty"`
}

// StripeEventSinkStatus is filled by the webhook relay.
type StripeEventSinkStatus struct {
	ManagedStatus `json:",inline"`
}

// StripeEventSink is a destination the webhook relay forwards Stripe events (or ledger records) to,
// with signed payloads, retries and dead letters. It owns no Stripe object.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ssink,categories=stripe
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Format",type=string,JSONPath=`.spec.format`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StripeEventSink struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the destination.
	Spec StripeEventSinkSpec `json:"spec"`

	// Status is filled by the webhook relay.
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
