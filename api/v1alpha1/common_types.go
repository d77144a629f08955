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

// Annotations and the finalizer the operator puts on every managed object.
const (
	// AnnotationExternalName holds the id of the primary Stripe object (acct_…, prod_…, we_…). The
	// operator writes it before anything else after a create; a user sets it to adopt an existing object.
	AnnotationExternalName = "payments.cloudip.io/external-name"

	// AnnotationPaused, set to "true", stops every write to Stripe for the object (reads go on).
	AnnotationPaused = "payments.cloudip.io/paused"

	// Finalizer keeps an object until its Stripe objects are deleted, archived or orphaned.
	Finalizer = "payments.cloudip.io/finalizer"

	// LabelSecretOf is on every Secret the operator writes, with the kind of the object it belongs to
	// (StripeWebhookEndpoint: a signing secret; StripeTenant: an onboarding link). The relay's cache
	// holds only the StripeWebhookEndpoint ones, so it never keeps a tenant's onboarding link in
	// memory; a person putting an adopted endpoint's secret into its Secret sets it too.
	LabelSecretOf = "payments.cloudip.io/secret-of"
)

// Condition types every kind reports.
const (
	// ConditionReady is True when the Stripe objects exist and match the spec (for a StripeConnection:
	// the key works and the account matches the mode).
	ConditionReady = "Ready"

	// ConditionSynced is True when the last reconcile succeeded, False when it failed (the reason and
	// message say why and whether it retries).
	ConditionSynced = "Synced"
)

// Condition reasons. They are CamelCase, stable, and meant to tell a person what to do next.
const (
	// ReasonCreating: the Stripe object is being created.
	ReasonCreating = "Creating"
	// ReasonAvailable: the Stripe object exists and matches the spec.
	ReasonAvailable = "Available"
	// ReasonUnavailable: the Stripe object exists but cannot be used yet (e.g. account charges disabled).
	ReasonUnavailable = "Unavailable"
	// ReasonActionRequired: a person must act outside the cluster (e.g. finish Connect onboarding).
	ReasonActionRequired = "ActionRequired"
	// ReasonDeleting: the object is being deleted and its Stripe objects deleted, archived or orphaned.
	ReasonDeleting = "Deleting"
	// ReasonReconcileSuccess: the last reconcile succeeded.
	ReasonReconcileSuccess = "ReconcileSuccess"
	// ReasonReconcileError: the last reconcile failed with an error that is retried with backoff
	// (429, 5xx, network, conflicts).
	ReasonReconcileError = "ReconcileError"
	// ReasonTerminal: Stripe refused the request as invalid; nothing is retried until the spec changes.
	ReasonTerminal = "Terminal"
	// ReasonPaused: the paused annotation is set; no writes to Stripe.
	ReasonPaused = "Paused"
	// ReasonObserving: managementPolicy is Observe; the operator reads and reports but never writes.
	ReasonObserving = "Observing"
	// ReasonConnectionNotReady: the referenced StripeConnection is missing or not Ready.
	ReasonConnectionNotReady = "ConnectionNotReady"
	// ReasonNamespaceNotAllowed: the StripeConnection's allowedNamespaces does not select this namespace.
	ReasonNamespaceNotAllowed = "NamespaceNotAllowed"
	// ReasonInvalidCredentials: Stripe answered 401/403 to the connection's API key, or the Secret is
	// missing, or the key's mode does not match spec.mode.
	ReasonInvalidCredentials = "InvalidCredentials"
	// ReasonWaitingForDependency: a referenced object (tenant, plan, Service, Secret) is missing or
	// not Ready yet.
	ReasonWaitingForDependency = "WaitingForDependency"
)

// DeletionPolicy says what happens to the Stripe objects when the Kubernetes object is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete deletes the Stripe objects, or archives them where Stripe cannot delete.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the Stripe objects untouched.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// ManagementPolicy says whether the operator may write to Stripe.
// +kubebuilder:validation:Enum=Manage;Observe
type ManagementPolicy string

const (
	// ManagementPolicyManage creates, updates and deletes the Stripe objects.
	ManagementPolicyManage ManagementPolicy = "Manage"
	// ManagementPolicyObserve only reads them (import, audit); it never creates, updates or deletes.
	ManagementPolicyObserve ManagementPolicy = "Observe"
)

// Region is a CloudIP data-residency region. It is an enum, not free text, so that routing (a tenant's
// events go only to sinks of its region) is an equality test that a typo cannot defeat; adding a region
// later is an additive, backward-compatible schema change.
// +kubebuilder:validation:Enum=us;eu;ap
type Region string

const (
	// RegionUS is the United States.
	RegionUS Region = "us"
	// RegionEU is the European Union.
	RegionEU Region = "eu"
	// RegionAP is Asia-Pacific.
	RegionAP Region = "ap"
)

// ConnectionReference names a StripeConnection. StripeConnections are cluster-scoped, so there is no
// namespace.
type ConnectionReference struct {
	// Name of the cluster-scoped StripeConnection.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// LocalObjectReference names an object of the kind the field expects in the same namespace.
type LocalObjectReference struct {
	// Name of the object, in the same namespace as the referring object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ManagedSpec is embedded inline in the spec of every kind but StripeConnection.
type ManagedSpec struct {
	// ConnectionRef names the StripeConnection (cluster-scoped) whose API key and request budget are
	// used. Immutable: the Stripe objects live in that account. Required on every kind except a
	// BillingPlan with tenantRef, which uses its tenant's connection when this is empty.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="connectionRef is immutable: the Stripe objects live in that account"
	// +optional
	ConnectionRef *ConnectionReference `json:"connectionRef,omitempty"`

	// DeletionPolicy says what happens to the Stripe objects when this object is deleted: Delete
	// (delete them, or archive them where Stripe cannot delete) or Orphan (leave them). When empty,
	// the kind's default applies: Orphan for a StripeTenant (the tenant's money and history live in
	// Stripe), Delete for every other kind.
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// ManagementPolicy says whether the operator may write to Stripe: Manage (create, update, delete)
	// or Observe (read and report only; to import or audit an object named by the
	// payments.cloudip.io/external-name annotation).
	// +kubebuilder:default=Manage
	// +optional
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`
}

// ManagedStatus is embedded inline in the status of every kind. It holds no timestamps besides the
// conditions' transition times, so a reconcile that changes nothing writes nothing.
type ManagedStatus struct {
	// ObservedGeneration is the metadata.generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (the Stripe objects exist and match the spec) and Synced (the last reconcile
	// succeeded), with reasons a person can act on.
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// Metadata is a set of key-value pairs sent to Stripe as the object's metadata. Stripe allows 50 keys;
// the operator adds up to 5 tags of its own (keys starting with cloudip_: the object's UID,
// namespace/name, kind, the cluster id and the component) to every object it creates, so 45 are left
// here and the cloudip_ prefix is reserved. Keys are at most 40 characters without '[' or ']', values
// at most 500 characters.
// +kubebuilder:validation:MaxProperties=45
// +kubebuilder:validation:XValidation:rule="self.all(k, k.size() <= 40)",message="metadata keys must be at most 40 characters (Stripe's limit)"
// +kubebuilder:validation:XValidation:rule="self.all(k, !k.contains('[') && !k.contains(']'))",message="metadata keys must not contain '[' or ']' (Stripe's limit)"
// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('cloudip_'))",message="metadata keys starting with cloudip_ are reserved for the operator's tags"
// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].size() <= 500)",message="metadata values must be at most 500 characters (Stripe's limit)"
type Metadata map[string]string

// SecretKeySelector selects a key of a Secret in a given namespace.
type SecretKeySelector struct {
	// Namespace of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key of the Secret's data that holds the value.
	// +kubebuilder:default=apiKey
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	Key string `json:"key,omitempty"`
}

// LocalSecretKeySelector selects a key of a Secret in the referring object's namespace.
type LocalSecretKeySelector struct {
	// Name of the Secret, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key of the Secret's data that holds the value.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}
