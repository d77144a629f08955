package managed

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// setSynced records whether the last pass brought Stripe in line with the spec. meta.SetStatusCondition
// keeps lastTransitionTime unless the status flips, so a pass that changes nothing writes nothing.
func setSynced(obj Object, status metav1.ConditionStatus, reason, message string) bool {
	return SetCondition(obj, v1alpha1.ConditionSynced, status, reason, message)
}

// setReady records whether the Stripe objects are usable.
func (r *Reconciler) setReady(obj Object, readiness Readiness) {
	status := metav1.ConditionFalse
	if readiness.Ready {
		status = metav1.ConditionTrue
	}
	SetCondition(obj, v1alpha1.ConditionReady, status, readiness.Reason, readiness.Message)
}

// SetCondition sets one condition for the object's current generation: the one shape of conditions
// every controller writes. lastTransitionTime changes only when the status does. It reports whether
// anything changed.
func SetCondition(obj Object, conditionType string, status metav1.ConditionStatus, reason, message string) bool {
	conditions := obj.GetConditions()
	changed := meta.SetStatusCondition(&conditions, metav1.Condition{
		Type:               conditionType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conditions)
	return changed
}

func isReady(obj Object) bool {
	return meta.IsStatusConditionTrue(obj.GetConditions(), v1alpha1.ConditionReady)
}

// readinessOf asks the adapter for its verdict; a kind without one is ready once in sync.
func readinessOf(external ExternalClient, obj Object) Readiness {
	if reporter, ok := external.(ReadinessReporter); ok {
		return reporter.Readiness(obj)
	}
	return Readiness{Ready: true, Reason: v1alpha1.ReasonAvailable, Message: "the Stripe objects exist and match the spec"}
}
