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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Managed is implemented by every kind of this group, so that one generic reconciler can own
// finalizers, deletion and management policies, conditions and observedGeneration for all of them.
// It is a controller-runtime client.Object.
// +kubebuilder:object:generate=false
type Managed interface {
	metav1.Object
	runtime.Object

	// GetManagedSpec returns the embedded ManagedSpec, or nil for a StripeConnection (which has no
	// connectionRef and no deletion policy) and a StripeMirror (which owns no Stripe object).
	GetManagedSpec() *ManagedSpec
	// GetManagedStatus returns a pointer to the embedded ManagedStatus; writes through it change the
	// object.
	GetManagedStatus() *ManagedStatus
	// GetConditions returns status.conditions.
	GetConditions() []metav1.Condition
	// SetConditions replaces status.conditions.
	SetConditions(conditions []metav1.Condition)
}

var (
	_ Managed = &StripeConnection{}
	_ Managed = &StripeTenant{}
	_ Managed = &BillingPlan{}
	_ Managed = &StripeWebhookEndpoint{}
	_ Managed = &StripeEventSink{}
)

// SetCondition adds or updates one condition; its lastTransitionTime changes only when its status does.
// It reports whether anything changed.
func (s *ManagedStatus) SetCondition(c metav1.Condition) bool {
	return meta.SetStatusCondition(&s.Conditions, c)
}

// GetCondition returns the condition of the given type, or nil.
func (s *ManagedStatus) GetCondition(conditionType string) *metav1.Condition {
	return meta.FindStatusCondition(s.Conditions, conditionType)
}

// IsReady reports whether the Ready condition is True and computed from the current generation.
func IsReady(obj Managed) bool {
	c := obj.GetManagedStatus().GetCondition(ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.GetGeneration()
}

// IsPaused reports whether the paused annotation is "true".
func IsPaused(obj metav1.Object) bool {
	return obj.GetAnnotations()[AnnotationPaused] == "true"
}

// GetExternalName returns the id of the primary Stripe object, or "" when none is known yet.
func GetExternalName(obj metav1.Object) string {
	return obj.GetAnnotations()[AnnotationExternalName]
}

// SetExternalName records the id of the primary Stripe object in the external-name annotation.
func SetExternalName(obj metav1.Object, id string) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationExternalName] = id
	obj.SetAnnotations(a)
}

// DeletionPolicyDefaulter is implemented by a kind whose deletion policy, when spec.deletionPolicy is
// empty, is not Delete (the API server does not default the field: the default depends on the kind).
// +kubebuilder:object:generate=false
type DeletionPolicyDefaulter interface {
	// DefaultDeletionPolicy is the policy that applies when spec.deletionPolicy is empty.
	DefaultDeletionPolicy() DeletionPolicy
}

var _ DeletionPolicyDefaulter = &StripeTenant{}

// DeletionPolicyOf returns the object's deletion policy: spec.deletionPolicy when set, else the
// kind's default (DeletionPolicyDefaulter), else Delete.
func DeletionPolicyOf(obj Managed) DeletionPolicy {
	if s := obj.GetManagedSpec(); s != nil && s.DeletionPolicy != "" {
		return s.DeletionPolicy
	}
	if d, ok := obj.(DeletionPolicyDefaulter); ok {
		return d.DefaultDeletionPolicy()
	}
	return DeletionPolicyDelete
}

// ObserveOnly reports whether managementPolicy is Observe.
func ObserveOnly(obj Managed) bool {
	s := obj.GetManagedSpec()
	return s != nil && s.ManagementPolicy == ManagementPolicyObserve
}
