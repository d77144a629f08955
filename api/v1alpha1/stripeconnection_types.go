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

// StripeMode is the Stripe mode of an API key.
// +kubebuilder:validation:Enum=test;live
type StripeMode string

const (
	// StripeModeTest uses a test-mode key (sk_test_…, rk_test_…); Stripe allows 25 requests/s.
	StripeModeTest StripeMode = "test"
	// StripeModeLive uses a live-mode key (sk_live_…, rk_live_…); Stripe allows 100 requests/s.
	StripeModeLive StripeMode = "live"
)

// Default request budgets, applied by the operator when spec.rateLimit is empty. They stay under
// Stripe's own limits (25/s in test mode, 100/s in live mode) so the operator never trips them.
const (
	DefaultTestRequestsPerSecond = 25
	DefaultLiveRequestsPerSecond = 90
)

// RateLimit is the request budget shared by every call made through one StripeConnection.
type RateLimit struct {
	// RequestsPerSecond is the sustained rate of Stripe API calls. At most 25 in test mode and 100 in
	// live mode (Stripe's limits).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	RequestsPerSecond int32 `json:"requestsPerSecond"`

	// Burst is how many calls may be made at once above the sustained rate. Defaults to four fifths
	// of requestsPerSecond, which keeps a bulk apply from arriving at Stripe faster than its limit.
	// When Stripe answers 429 anyway (another client shares the account), the operator halves the
	// rate for every controller at once and climbs back while calls succeed.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	Burst *int32 `json:"burst,omitempty"`
}

// StripeConnectionSpec declares a Stripe platform account and how the operator talks to it.
// +kubebuilder:validation:XValidation:rule="!has(self.rateLimit) || self.mode == 'live' || self.rateLimit.requestsPerSecond <= 25",message="spec.rateLimit.requestsPerSecond must be at most 25 in test mode (Stripe's test-mode limit)"
// +kubebuilder:validation:XValidation:rule="!has(self.rateLimit) || !has(self.rateLimit.burst) || self.mode == 'live' || self.rateLimit.burst <= 25",message="spec.rateLimit.burst must be at most 25 in test mode (Stripe's test-mode limit)"
type StripeConnectionSpec struct {
	// SecretRef selects the Secret key that holds the Stripe secret or restricted API key
	// (sk_… or rk_…). The operator reads it again whenever the Secret changes.
	SecretRef SecretKeySelector `json:"secretRef"`

	// Mode is the Stripe mode the key must be in: test or live. The operator refuses a key of the
	// other mode. Immutable: objects of one mode do not exist in the other; create another
	// StripeConnection instead.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.mode is immutable: create another StripeConnection for the other mode"
	Mode StripeMode `json:"mode"`

	// Region is the data-residency region of this platform account (us, eu or ap). Tenants may use
	// only a connection of their own dataResidency. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.region is immutable"
	Region Region `json:"region"`

	// RateLimit is the request budget shared by every controller using this connection. When empty the
	// operator uses 25 requests/s in test mode and 90 in live mode.
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`

	// AllowedNamespaces selects the namespaces whose objects may use this connection. Required, so that
	// sharing a platform account is a decision: {} allows every namespace; matchLabels or
	// matchExpressions select namespaces by their labels (kubernetes.io/metadata.name names one).
	AllowedNamespaces *metav1.LabelSelector `json:"allowedNamespaces"`

	// APIBaseURL overrides Stripe's API address (https://api.stripe.com), for the project's Stripe
	// emulator or an egress proxy. It must use https; http is accepted only for loopback hosts
	// (localhost, 127.0.0.0/8, ::1) and in-cluster Service hosts (*.svc, *.svc.cluster.local).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="spec.apiBaseURL must be an absolute http(s) URL"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getScheme() == 'https' || self.matches('^http://(localhost|127[.][0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}|[[]::1[]]|[-a-z0-9.]+[.]svc|[-a-z0-9.]+[.]svc[.]cluster[.]local)(:[0-9]{1,5})?([/?#]|$)')",message="spec.apiBaseURL must use https; http is allowed only for loopback and in-cluster Service (*.svc, *.svc.cluster.local) hosts"
	// +optional
	APIBaseURL string `json:"apiBaseURL,omitempty"`

	// Webhooks, when set, has the operator keep this connection's two webhook endpoints, pointing at
	// the webhook relay: one for the platform account's own events and one (connect) for its
	// connected accounts' events. No one configures an endpoint by hand or in the Stripe Dashboard.
	// +optional
	Webhooks *ConnectionWebhooks `json:"webhooks,omitempty"`
}

// ConnectionWebhooks says where a connection's webhook endpoints deliver.
type ConnectionWebhooks struct {
	// RelayURL is the relay's public base URL (https; http only for loopback and in-cluster Service
	// hosts). Each endpoint receives at <relayURL>/stripe/<namespace>/<endpoint name>.
	// +kubebuilder:validation:MaxLength=2000
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="spec.webhooks.relayURL must be an absolute http(s) URL"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getScheme() == 'https' || self.matches('^http://(localhost|127[.][0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}|[[]::1[]]|[-a-z0-9.]+[.]svc|[-a-z0-9.]+[.]svc[.]cluster[.]local)(:[0-9]{1,5})?([/?#]|$)')",message="spec.webhooks.relayURL must use https; http is allowed only for loopback and in-cluster Service hosts"
	RelayURL string `json:"relayURL"`

	// Namespace holds the two StripeWebhookEndpoint objects (<connection>-platform and
	// <connection>-connect) and their signing-secret Secrets: the relay's namespace. The connection's
	// allowedNamespaces must select it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// EnabledEvents are the event types both endpoints receive; empty means all ("*").
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9_]+(\.[a-z0-9_]+)+)$`
	// +optional
	EnabledEvents []string `json:"enabledEvents,omitempty"`
}

// StripeConnectionStatus is what the operator observed about the platform account.
type StripeConnectionStatus struct {
	ManagedStatus `json:",inline"`

	// AccountID is the Stripe id of the platform account the key belongs to (acct_…).
	// +optional
	AccountID string `json:"accountID,omitempty"`

	// Livemode is true when the key is a live-mode key.
	// +optional
	Livemode bool `json:"livemode,omitempty"`

	// Region is the data-residency region the connection was verified for.
	// +optional
	Region Region `json:"region,omitempty"`
}

// StripeConnection is a Stripe platform account the operator may use: a reference to its API key, its
// mode, data-residency region and request budget, and the namespaces allowed to use it. It owns no
// Stripe object: the operator verifies the key (GET /v1/account) and reports the account in status.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=sconn,categories=stripe
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Account",type=string,JSONPath=`.status.accountID`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StripeConnection struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec declares the platform account and how to reach it.
	Spec StripeConnectionSpec `json:"spec"`

	// Status is what the operator observed.
	// +optional
	Status StripeConnectionStatus `json:"status,omitempty"`
}

// GetManagedSpec returns nil: a StripeConnection has no connectionRef and owns no Stripe object.
func (c *StripeConnection) GetManagedSpec() *ManagedSpec { return nil }

// GetManagedStatus returns the embedded ManagedStatus.
func (c *StripeConnection) GetManagedStatus() *ManagedStatus { return &c.Status.ManagedStatus }

// GetConditions returns status.conditions.
func (c *StripeConnection) GetConditions() []metav1.Condition { return c.Status.Conditions }

// SetConditions replaces status.conditions.
func (c *StripeConnection) SetConditions(conditions []metav1.Condition) {
	c.Status.Conditions = conditions
}

// +kubebuilder:object:root=true

// StripeConnectionList is a list of StripeConnection.
type StripeConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the StripeConnections.
	Items []StripeConnection `json:"items"`
}

func init() {
	SchemeBuilder.Register(&StripeConnection{}, &StripeConnectionList{})
}
