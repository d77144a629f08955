package stripetenant_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
)

// Helpers of deletion_test.go, isolation_test.go and adoption_test.go (helpers_test.go is the rig's).

// route counts the requests the emulator received on exactly this route ("GET /v1/account", which
// r.requests would confuse with "GET /v1/accounts/{account}").
func (r *rig) route(route string) int64 { return r.Emu.Stats().Requests[route] }

// requestsOtherThan lists, sorted, the routes the emulator received requests on besides the given
// ones, with their counts ("POST /v1/accounts ×1").
func (r *rig) requestsOtherThan(routes ...string) []string {
	var out []string
	for route, n := range r.Emu.Stats().Requests {
		if !slices.Contains(routes, route) && n > 0 {
			out = append(out, fmt.Sprintf("%s ×%d", route, n))
		}
	}
	sort.Strings(out)
	return out
}

// tenantWrites counts the writes on the Stripe objects a tenant owns (connected accounts and their
// links, customers, subscriptions), whoever made them: a plan's products and prices are not counted.
func (r *rig) tenantWrites() int64 {
	var n int64
	for _, prefix := range []string{"POST /v1/accounts", "DELETE /v1/accounts", "POST /v1/account_links",
		"POST /v1/customers", "DELETE /v1/customers", "POST /v1/subscriptions", "DELETE /v1/subscriptions"} {
		n += r.Requests(prefix)
	}
	return n
}

// remove deletes obj (it stays while a finalizer holds it).
func (r *rig) remove(obj client.Object) {
	r.T.Helper()
	if err := env.Client.Delete(context.Background(), obj); err != nil {
		r.T.Fatalf("delete %s: %v", obj.GetName(), err)
	}
}

// gone waits until obj no longer exists.
func (r *rig) gone(obj client.Object) {
	r.T.Helper()
	controllertest.Gone(r.T, env.Client, obj)
}

// heldByFinalizer checks that obj is being deleted and still exists, held by the operator's finalizer.
func (r *rig) heldByFinalizer(obj client.Object) {
	r.T.Helper()
	r.Get(obj)
	if obj.GetDeletionTimestamp().IsZero() || !controllerutil.ContainsFinalizer(obj, v1alpha1.Finalizer) {
		r.T.Errorf("%s: deletionTimestamp %v, finalizers %v: want it being deleted and held by %s",
			obj.GetName(), obj.GetDeletionTimestamp(), obj.GetFinalizers(), v1alpha1.Finalizer)
	}
}

// eventNotes waits until obj has at least one event (events.k8s.io/v1) of the type and reason, and
// returns their notes. Events are written asynchronously, after the pass that records them.
func (r *rig) eventNotes(obj client.Object, eventType, reason string) []string {
	r.T.Helper()
	var notes []string
	controllertest.Eventually(r.T, controllertest.DefaultTimeout, func() error {
		var list eventsv1.EventList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
			return err
		}
		notes = nil
		var seen []string
		for _, e := range list.Items {
			if e.Regarding.Name != obj.GetName() || e.Regarding.UID != obj.GetUID() {
				continue
			}
			seen = append(seen, e.Type+"/"+e.Reason)
			if e.Type == eventType && e.Reason == reason {
				notes = append(notes, e.Note)
			}
		}
		if len(notes) == 0 {
			return fmt.Errorf("no %s event %s for %s yet (it has %v)", eventType, reason, obj.GetName(), seen)
		}
		return nil
	})
	return notes
}

// messageHas fails the test for each part the message lacks.
func messageHas(t *testing.T, what, message string, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if !strings.Contains(message, part) {
			t.Errorf("%s %q lacks %q", what, message, part)
		}
	}
}

// freshCluster models the same operator installed on another cluster: a new namespace, and a new
// manager (the old one is stopped) watching only it, on the same StripeConnection and Stripe account.
// The returned rig works in the new namespace.
func (r *rig) freshCluster() *rig {
	r.T.Helper()
	c := *r.Rig
	c.NS = controllertest.Namespace(r.T, env, nil)
	c.RestartManager(controllertest.ManagerOptions{})
	return &rig{&c}
}
