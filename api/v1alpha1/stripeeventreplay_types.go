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

// ReplaySelection says which of a sink's deliveries a StripeEventReplay sends again.
// +kubebuilder:validation:Enum=DeadLettered;All
type ReplaySelection string

// Replay selections.
const (
	// ReplaySelectionDeadLettered replays only the deliveries given up on (dead letters).
	ReplaySelectionDeadLettered ReplaySelection = "DeadLettered"
	// ReplaySelectionAll replays every event the sink was owed in the selection, delivered or not.
	ReplaySelectionAll ReplaySelection = "All"
)

// ReplayPhase is where a StripeEventReplay stands.
// +kubebuilder:validation:Enum=Pending;Complete;Failed
type ReplayPhase string

// Replay phases.
const (
	// ReplayPhasePending: the relay has not carried out the request yet.
	ReplayPhasePending ReplayPhase = "Pending"
	// ReplayPhaseComplete: the selected deliveries were set pending again; the sink receives them at
	// its own pace (see the sink's status).
	ReplayPhaseComplete ReplayPhase = "Complete"
	// ReplayPhaseFailed: the request could not be carried out (the message says why); it is not
	// retried: create another replay.
	ReplayPhaseFailed ReplayPhase = "Failed"
)

// ConditionComplete is the condition of a StripeEventReplay: True once the relay carried it out,
// False when it failed (the reason and message say why).
const ConditionComplete = "Complete"

// StripeEventReplaySpec selects the events of one sink to deliver again: either a time range of the
// events' Stripe creation time, or a list of event ids; never both, never neither, so a replay
// cannot mean "everything" by accident. It is immutable: a replay is a one-time request.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable: a replay is a one-time request; create another StripeEventReplay"
// +kubebuilder:validation:XValidation:rule="has(self.from) == has(self.to)",message="spec.from and spec.to are set together"
// +kubebuilder:validation:XValidation:rule="(has(self.from) && has(self.to)) != (has(self.eventIDs) && size(self.eventIDs) > 0)",message="spec: set exactly one of a time range (from and to) or eventIDs"
// +kubebuilder:validation:XValidation:rule="!has(self.from) || !has(self.to) || self.from < self.to",message="spec.from must be before spec.to"
type StripeEventReplaySpec struct {
	// SinkRef names the StripeEventSink, in this namespace, whose deliveries are replayed.
	SinkRef LocalObjectReference `json:"sinkRef"`

	// From selects events created (in Stripe) at or after this time. Set with to, or use eventIDs.
	// +optional
	From *metav1.Time `json:"from,omitempty"`

	// To selects events created (in Stripe) before this time (exclusive). Set with from, or use
	// eventIDs.
	// +optional
	To *metav1.Time `json:"to,omitempty"`

	// EventIDs selects events by id (evt_…), at most 1000. Use instead of from and to.
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:items:Pattern=`^evt_[A-Za-z0-9]+$`
	// +optional
	EventIDs []string `json:"eventIDs,omitempty"`

	// Selection is DeadLettered (only the deliveries given up on) or All (every event the sink was
	// owed among those selected, delivered or not: the sink must absorb duplicates by webhook-id).
	// +kubebuilder:default=DeadLettered
	// +optional
	Selection ReplaySelection `json:"selection,omitempty"`
}

// StripeEventReplayStatus is written by the webhook relay, which carries out the replay once.
type StripeEventReplayStatus struct {
	// ObservedGeneration is the metadata.generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase is Pending (not carried out yet), Complete or Failed.
	// +optional
	Phase ReplayPhase `json:"phase,omitempty"`

	// Matched counts the sink's deliveries the request selected.
	// +optional
	Matched int64 `json:"matched"`

	// Requeued counts the selected deliveries set pending again (a delivery already pending is
	// matched but not requeued).
	// +optional
	Requeued int64 `json:"requeued"`

	// CompletedAt is when the relay carried out the request (or gave up on it).
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// Message says what happened, for a person: what was requeued, or why the replay failed.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`

	// Conditions: Complete (True once carried out, False when it failed), with a reason.
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// StripeEventReplay asks the webhook relay to deliver again events it stored for a StripeEventSink:
// a person creates one with kubectl, the relay carries it out once and reports in its status. Who
// may replay to which sink is decided by RBAC on this kind (see the stripeeventreplay editor and
// viewer ClusterRoles). It has no connection and owns no Stripe object.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sreplay,categories=stripe
// +kubebuilder:printcolumn:name="Sink",type=string,JSONPath=`.spec.sinkRef.name`
// +kubebuilder:printcolumn:name="Selection",type=string,JSONPath=`.spec.selection`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Requeued",type=integer,JSONPath=`.status.requeued`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StripeEventReplay struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec selects the sink and the events to deliver again: a time range or event ids. Immutable: a
	// replay is a one-time request; to replay again, create another StripeEventReplay.
	Spec StripeEventReplaySpec `json:"spec"`

	// Status is written by the webhook relay.
	// +optional
	Status StripeEventReplayStatus `json:"status,omitempty"`
}

// GetConditions returns status.conditions.
func (r *StripeEventReplay) GetConditions() []metav1.Condition { return r.Status.Conditions }

// SetConditions replaces status.conditions.
func (r *StripeEventReplay) SetConditions(conditions []metav1.Condition) {
	r.Status.Conditions = conditions
}

// +kubebuilder:object:root=true

// StripeEventReplayList is a list of StripeEventReplay.
type StripeEventReplayList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the StripeEventReplays.
	Items []StripeEventReplay `json:"items"`
}

func init() {
	SchemeBuilder.Register(&StripeEventReplay{}, &StripeEventReplayList{})
}
