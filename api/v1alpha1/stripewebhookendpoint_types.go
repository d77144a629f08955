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
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceReference points at a Service in the endpoint's namespace (usually the webhook relay's).
type ServiceReference struct {
	// Name of the Service, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// Port of the Service to deliver to.
	// +kubebuilder:default=443
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`

	// Path of the request, starting with '/'.
	// +kubebuilder:default="/"
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/`
	// +optional
	Path string `json:"path,omitempty"`

	// Scheme is https or http (in-cluster hosts only, e.g. the project's Stripe emulator).
	// +kubebuilder:default=https
	// +kubebuilder:validation:Enum=http;https
	// +optional
	Scheme string `json:"scheme,omitempty"`
}

// StripeWebhookEndpointSpec declares a Stripe webhook endpoint.
// +kubebuilder:validation:XValidation:rule="has(self.connectionRef)",message="spec.connectionRef is required"
// +kubebuilder:validation:XValidation:rule="has(self.url) != has(self.serviceRef)",message="spec: set exactly one of url or serviceRef"
// +kubebuilder:validation:XValidation:rule="has(self.apiVersion) == has(oldSelf.apiVersion)",message="spec.apiVersion is immutable: it cannot be added or removed"
// +kubebuilder:validation:XValidation:rule="has(self.secretName) == has(oldSelf.secretName)",message="spec.secretName is immutable: it cannot be added or removed"
type StripeWebhookEndpointSpec struct {
	ManagedSpec `json:",inline"`

	// URL is where Stripe delivers events. It must use https; http is accepted only for loopback hosts
	// (localhost, 127.0.0.0/8, ::1) and in-cluster Service hosts (*.svc, *.svc.cluster.local), for the
	// project's emulator. Set url or serviceRef, not both.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="spec.url must be an absolute http(s) URL"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getScheme() == 'https' || self.matches('^http://(localhost|127[.][0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}|[[]::1[]]|[-a-z0-9.]+[.]svc|[-a-z0-9.]+[.]svc[.]cluster[.]local)(:[0-9]{1,5})?([/?#]|$)')",message="spec.url must use https; http is allowed only for loopback and in-cluster Service (*.svc, *.svc.cluster.local) hosts"
	// +optional
	URL string `json:"url,omitempty"`

	// ServiceRef delivers to a Service of this namespace, at
	// <scheme>://<name>.<namespace>.svc:<port><path>. Set url or serviceRef, not both.
	// +optional
	ServiceRef *ServiceReference `json:"serviceRef,omitempty"`

	// EnabledEvents are the event types Stripe delivers (e.g. account.updated,
	// customer.subscription.updated), or ["*"] for all.
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9_]+(\.[a-z0-9_]+)+)$`
	EnabledEvents []string `json:"enabledEvents"`

	// Connect is true to receive events from connected accounts instead of the platform account.
	// Immutable: Stripe cannot change it on an existing endpoint.
	// +kubebuilder:default=false
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.connect is immutable"
	// +optional
	Connect bool `json:"connect"`

	// APIVersion is the Stripe API version events are rendered in (YYYY-MM-DD). Empty pins the version
	// of the operator's Stripe SDK, which the relay needs to parse signed events. Immutable.
	// +kubebuilder:validation:Pattern=`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.apiVersion is immutable"
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Description says what the endpoint is for (shown in the Stripe Dashboard).
	// +kubebuilder:validation:MaxLength=5000
	// +optional
	Description string `json:"description,omitempty"`

	// SecretName is the Secret of this namespace the endpoint's signing secret (whsec_…) is written to,
	// under the key signingSecret (an endpoint a rotation made: signingSecret.<id>, see
	// status.signingSecretKey). Empty means <metadata.name>-signing-secret. Immutable: Stripe returns
	// the signing secret only once, when the endpoint is created.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.secretName is immutable: Stripe returns the signing secret only once"
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// Rotation rotates the signing secret on request, without losing an event.
	// +optional
	Rotation *SecretRotation `json:"rotation,omitempty"`
}

// SecretRotation asks for a new signing secret. Stripe cannot change an endpoint's secret, so a
// rotation is a second endpoint: same URL, events, connect and API version, its own secret. During
// the overlap both endpoints exist, Stripe sends every event to each of them, the Secret holds both
// secrets and the relay accepts either (it keeps one copy of each event, by id); when the overlap
// ends the previous endpoint is deleted, then its secret is removed from the Secret.
type SecretRotation struct {
	// Request asks for a rotation when it is set to a value it has not held before (a date, a ticket
	// number). Setting the same value again does nothing, and an endpoint created with a request
	// already has a fresh secret: it is not rotated. A new value set during an overlap starts its
	// rotation once that overlap ends.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Request string `json:"request,omitempty"`

	// Overlap is how long the previous endpoint keeps delivering after the new one is created (Go
	// duration, 5s to 72h). It must cover what Stripe may still send only to the previous endpoint:
	// events created before the new endpoint existed, and their retries, which Stripe makes for up to
	// 3 days while the relay fails to answer; deleting the endpoint stops them. It must also cover the
	// time the relay takes to read the new secret. 1h covers a short relay outage; 72h every retry.
	// Changing it during an overlap does not move that overlap's end.
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5s') && duration(self) <= duration('72h')",message="spec.rotation.overlap must be between 5s and 72h"
	// +optional
	Overlap *metav1.Duration `json:"overlap,omitempty"`
}

// StripeWebhookEndpointStatus reports the Stripe webhook endpoint.
type StripeWebhookEndpointStatus struct {
	ManagedStatus `json:",inline"`

	// EndpointID is the Stripe webhook endpoint id (we_…).
	// +optional
	EndpointID string `json:"endpointID,omitempty"`

	// URL is the URL Stripe delivers to (resolved from serviceRef when used).
	// +optional
	URL string `json:"url,omitempty"`

	// SecretName is the Secret holding the signing secret, under the key signingSecretKey.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// SigningSecretKey is the key of Secret secretName that holds the current endpoint's signing
	// secret: signingSecret for the endpoint first created (or adopted), signingSecret.<id> for one a
	// rotation made.
	// +optional
	SigningSecretKey string `json:"signingSecretKey,omitempty"`

	// Rotation reports the rotation in progress; it is cleared when the overlap ends.
	// +optional
	Rotation *SecretRotationStatus `json:"rotation,omitempty"`

	// LastRotationRequest is the spec.rotation.request last completed (or the one the endpoint was
	// created with, which its first secret satisfies).
	// +optional
	LastRotationRequest string `json:"lastRotationRequest,omitempty"`
}

// SecretRotationStatus is a rotation in progress: the new endpoint is status.endpointID, and the
// previous one delivers until overlapEndsAt.
type SecretRotationStatus struct {
	// Request is the spec.rotation.request being carried out.
	Request string `json:"request"`

	// PreviousEndpointID is the endpoint being replaced; it is deleted when the overlap ends.
	// +optional
	PreviousEndpointID string `json:"previousEndpointID,omitempty"`

	// PreviousSecretKey is the key of the previous endpoint's signing secret, removed from the Secret
	// once that endpoint is deleted.
	// +optional
	PreviousSecretKey string `json:"previousSecretKey,omitempty"`

	// OverlapEndsAt is when the previous endpoint is deleted.
	OverlapEndsAt metav1.Time `json:"overlapEndsAt"`
}

// Condition reasons of webhook endpoints.
const (
	// ReasonEndpointLimit: the account already has Stripe's maximum of 16 webhook endpoints, so the
	// operator does not ask Stripe to create another.
	ReasonEndpointLimit = "EndpointLimit"
	// ReasonSecretUnknown: the endpoint was adopted, so the operator never saw its signing secret
	// (Stripe shows it only on create): a person must put it into the endpoint's Secret.
	ReasonSecretUnknown = "SecretUnknown"
)

// SigningSecretKey is the key of the Secret (spec.secretName) that holds a webhook endpoint's signing
// secret: the first endpoint's, and the one a person puts there for an adopted endpoint. An endpoint
// made by a rotation writes its secret under SigningSecretKeyPrefix + its id instead (status says
// which key is current), each key owned by its own server-side-apply field manager, so that the old
// secret stays in place, unread by the operator, until the overlap ends and its key is removed.
const SigningSecretKey = "signingSecret"

// SigningSecretKeyPrefix starts the key of a rotated endpoint's signing secret: "signingSecret.we_…".
const SigningSecretKeyPrefix = SigningSecretKey + "."

// SigningSecretsOf returns the signing secrets a webhook endpoint's Secret holds, in key order: the
// value of SigningSecretKey and of every key starting with SigningSecretKeyPrefix. The relay accepts
// an event signed with any of them: during a rotation both the old and the new endpoint deliver.
func SigningSecretsOf(data map[string][]byte) []string {
	keys := make([]string, 0, len(data))
	for key := range data {
		if key == SigningSecretKey || strings.HasPrefix(key, SigningSecretKeyPrefix) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	secrets := make([]string, 0, len(keys))
	for _, key := range keys {
		if v := strings.TrimSpace(string(data[key])); v != "" {
			secrets = append(secrets, v)
		}
	}
	return secrets
}

// StripeWebhookEndpoint is a Stripe webhook endpoint; its signing secret is written to a Secret that
// the webhook relay reads.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=swebhook,categories=stripe
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpointID`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Connect",type=boolean,JSONPath=`.spec.connect`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`,priority=1
// +kubebuilder:printcolumn:name="Overlap Ends",type=string,JSONPath=`.status.rotation.overlapEndsAt`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StripeWebhookEndpoint struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the endpoint.
	Spec StripeWebhookEndpointSpec `json:"spec"`

	// Status reports the Stripe endpoint and the Secret.
	// +optional
	Status StripeWebhookEndpointStatus `json:"status,omitempty"`
}

// GetManagedSpec returns the embedded ManagedSpec.
func (w *StripeWebhookEndpoint) GetManagedSpec() *ManagedSpec { return &w.Spec.ManagedSpec }

// GetManagedStatus returns the embedded ManagedStatus.
func (w *StripeWebhookEndpoint) GetManagedStatus() *ManagedStatus { return &w.Status.ManagedStatus }

// GetConditions returns status.conditions.
func (w *StripeWebhookEndpoint) GetConditions() []metav1.Condition { return w.Status.Conditions }

// SetConditions replaces status.conditions.
func (w *StripeWebhookEndpoint) SetConditions(conditions []metav1.Condition) {
	w.Status.Conditions = conditions
}

// SigningSecretName returns the Secret the signing secret is written to: spec.secretName, or
// <metadata.name>-signing-secret.
func (w *StripeWebhookEndpoint) SigningSecretName() string {
	if w.Spec.SecretName != "" {
		return w.Spec.SecretName
	}
	return w.Name + "-signing-secret"
}

// +kubebuilder:object:root=true

// StripeWebhookEndpointList is a list of StripeWebhookEndpoint.
type StripeWebhookEndpointList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the StripeWebhookEndpoints.
	Items []StripeWebhookEndpoint `json:"items"`
}

func init() {
	SchemeBuilder.Register(&StripeWebhookEndpoint{}, &StripeWebhookEndpointList{})
}
