package managed

import (
	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// CreatePending is the external-name value written, and persisted, before a create call. It says "a
// Stripe object may exist for this resource, but its id was never recorded": on the next pass Observe
// looks the object up by its metadata tags instead of creating blindly. An empty annotation, by
// contrast, proves that no create was ever attempted, because this marker is always written first.
const CreatePending = "create-pending"

// AnnotationReconcileRequested asks for a pass now when its value changes (any value, a timestamp by
// convention), without touching the spec: `kubectl annotate --overwrite … payments.cloudip.io/reconcile-requested-at="$(date +%s)"`.
const AnnotationReconcileRequested = "payments.cloudip.io/reconcile-requested-at"

// KnownExternalID returns the recorded Stripe id when one is known: not empty and not the pending marker.
func KnownExternalID(obj Object) (string, bool) {
	name := v1alpha1.GetExternalName(obj)
	if name == "" || name == CreatePending {
		return "", false
	}
	return name, true
}

// IsCreatePending reports whether a create may have happened without its id being recorded.
func IsCreatePending(obj Object) bool {
	return v1alpha1.GetExternalName(obj) == CreatePending
}
