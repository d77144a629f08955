package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// situation is what the "next:" line is decided from: the object, its status and its connection.
type situation struct {
	kind, name, namespace string
	// ref names the object in suggested plugin commands ("tenant/acme -n ns").
	ref        string
	obj        client.Object
	observed   int64
	conditions []metav1.Condition
	// conn is the connection the object uses; nil for a kind without one (a StripeConnection
	// itself, a StripeEventReplay).
	conn *connState
	// writer is who writes the status: the operator, or the relay for sinks, replays and mirrors.
	writer string
}

func (d *describer) situation(kind string, obj client.Object, observed int64, conditions []metav1.Condition, conn *connState) situation {
	writer := "the operator"
	if kind == kindSink || kind == kindReplay || kind == kindMirror {
		writer = "the relay"
	}
	return situation{kind: kind, name: obj.GetName(), namespace: d.namespace, ref: d.ref(kind, obj.GetName()), obj: obj,
		observed: observed, conditions: conditions, conn: conn, writer: writer}
}

// kubectlRef is how kubectl names the object: "-n ns stripetenant/acme".
func (s situation) kubectlRef() string {
	ref := strings.ToLower(s.kind) + "/" + s.name
	if s.namespace != "" {
		return "-n " + s.namespace + " " + ref
	}
	return ref
}

// nextStep says the one thing to do next, most urgent first: what blocks the object (deletion,
// pause, a failed pass, its connection, a stale status), then what its kind still needs (specific),
// then whatever keeps it from Ready; "nothing to do" when all is well.
func nextStep(s situation, specific func() string) string {
	synced := meta.FindStatusCondition(s.conditions, v1alpha1.ConditionSynced)
	if synced != nil && synced.Status == metav1.ConditionTrue {
		synced = nil // only a failing Synced says what to do
	}
	unpause := fmt.Sprintf("`kubectl annotate %s %s-`", s.kubectlRef(), v1alpha1.AnnotationPaused)
	switch {
	case s.obj.GetDeletionTimestamp() != nil:
		if synced != nil && synced.Reason == v1alpha1.ReasonDeletionBlocked {
			return "deletion blocked: " + synced.Message + "; pay out the balance, or set spec.deletionPolicy: Orphan"
		}
		if v1alpha1.IsPaused(s.obj) {
			return "the deletion waits for the pause to end: " + unpause + " (or set spec.deletionPolicy: Orphan)"
		}
		if synced != nil {
			return "being deleted: " + synced.Message
		}
		return "being deleted: wait for " + s.writer + " to remove its finalizer"
	case v1alpha1.IsPaused(s.obj):
		return "paused: no Stripe writes until the annotation goes: " + unpause
	case len(s.conditions) == 0:
		return "no status yet: " + s.writer + " has not reconciled it; check that it runs"
	case synced != nil:
		return failedPass(s, synced)
	case s.conn != nil && !s.conn.ready():
		return connectionNext(s, nil)
	case s.obj.GetGeneration() > s.observed:
		return fmt.Sprintf("%s has not reconciled generation %d yet (the status is of generation %d): wait, or check that it runs",
			s.writer, s.obj.GetGeneration(), s.observed)
	}
	if todo := specific(); todo != "" {
		return todo
	}
	if ready := meta.FindStatusCondition(s.conditions, v1alpha1.ConditionReady); ready != nil {
		if ready.Status != metav1.ConditionTrue {
			return ready.Reason + ": " + ready.Message
		}
		return "nothing to do: " + ready.Message
	}
	return "nothing to do"
}

// failedPass says what to do about Synced=False, by its reason (README: "Resources and their status").
func failedPass(s situation, synced *metav1.Condition) string {
	m := synced.Message
	switch synced.Reason {
	case v1alpha1.ReasonConnectionNotReady, v1alpha1.ReasonNamespaceNotAllowed:
		return connectionNext(s, synced)
	case v1alpha1.ReasonInvalidCredentials:
		if s.conn == nil {
			return "invalid credentials: " + m + "; put a working key of spec.mode into the Secret spec.secretRef names"
		}
		return connectionNext(s, synced)
	case v1alpha1.ReasonTerminal:
		return "Terminal: fix the spec (nothing is retried until it changes): " + m
	case v1alpha1.ReasonResidencyMismatch:
		return "residency mismatch: " + m + "; recreate the tenant on a connection of its region"
	case v1alpha1.ReasonPlanNotAllowed:
		return "plan not allowed: " + m + "; subscribe to a platform plan (no tenantRef) of the tenant's connection"
	case v1alpha1.ReasonDeletionBlocked:
		return "deletion blocked: " + m + "; pay out the balance, or set spec.deletionPolicy: Orphan"
	case v1alpha1.ReasonWaitingForDependency:
		return "waiting for a dependency: " + m
	case v1alpha1.ReasonReconcileError:
		return "retrying with backoff (1 s doubling to 5 min): " + m + "; if it persists, Stripe or the network is unwell"
	case v1alpha1.ReasonCreating:
		return "creating in Stripe: wait"
	case v1alpha1.ReasonDeleting:
		return "deleting: " + m
	case v1alpha1.ReasonObserving:
		return "observe only, and Stripe differs from the spec: " + m + "; set spec.managementPolicy: Manage to let the operator write"
	}
	return synced.Reason + ": " + m
}

// connectionNext says what to do when the object's connection keeps it from Stripe.
func connectionNext(s situation, synced *metav1.Condition) string {
	c := s.conn
	if c == nil {
		return synced.Reason + ": " + synced.Message
	}
	status := "`kubectl stripe status connection/" + c.Name + "`"
	switch {
	case synced != nil && synced.Reason == v1alpha1.ReasonNamespaceNotAllowed:
		return fmt.Sprintf("connection not usable here: %s; add namespace %s to spec.allowedNamespaces of StripeConnection/%s", synced.Message, s.namespace, c.Name)
	case c.Name == "":
		return "no connection: set spec.connectionRef"
	case c.Err != nil:
		return fmt.Sprintf("connection not Ready: cannot read StripeConnection/%s: %v", c.Name, c.Err)
	case !c.Found:
		return fmt.Sprintf("connection not Ready: StripeConnection/%s does not exist: create it, or fix spec.connectionRef", c.Name)
	case c.Ready == nil:
		return fmt.Sprintf("connection not Ready: StripeConnection/%s has no status yet: check that the operator runs", c.Name)
	case c.Ready.Status != metav1.ConditionTrue:
		return fmt.Sprintf("connection not Ready: StripeConnection/%s is %s: %s; see %s", c.Name, c.Ready.Reason, c.Ready.Message, status)
	}
	return fmt.Sprintf("the connection was not Ready at the last pass (%s); StripeConnection/%s is Ready now: the operator retries shortly", synced.Message, c.Name)
}
