package managed

import (
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// EventStripeEvent is the Normal event of a pass that a Stripe event started (through the relay's
// feed): it names the event, so that `kubectl describe` shows which change in Stripe was answered.
const EventStripeEvent = "StripeEvent"

// StripeEventRef is what a nudge remembers of the Stripe event behind it.
type StripeEventRef struct {
	ID   string
	Type string
}

// nudgeBuffer bounds the nudges waiting for a kind's controller to take them; the sender blocks
// beyond it (the feed then reads the relay more slowly), nothing is dropped.
const nudgeBuffer = 1024

// maxRefsShown bounds the event ids one pass names; more are counted.
const maxRefsShown = 3

// liveFor is how long after the feed last answered it still counts as live.
const liveFor = 90 * time.Second

// Nudges carries "observe this object now" from the relay's event feed to each kind's controller: a
// channel source per kind (so a burst of events for one object coalesces in the controller's work
// queue into one pass) and, per object, the Stripe events that asked, which the pass names in its
// Kubernetes event. Whether the feed is live also tells the reconcilers that Stripe's changes will
// reach them, so adapter-asked rechecks (a tenant's onboarding poll) become a slow safety net.
type Nudges struct {
	mu       sync.Mutex
	channels map[string]chan event.GenericEvent
	pending  map[nudgeKey][]StripeEventRef
	lastLive time.Time
	now      func() time.Time
}

type nudgeKey struct {
	kind string
	name types.NamespacedName
}

// NewNudges returns Nudges for the named kinds.
func NewNudges(kinds ...string) *Nudges {
	n := &Nudges{channels: map[string]chan event.GenericEvent{}, pending: map[nudgeKey][]StripeEventRef{}, now: time.Now}
	for _, kind := range kinds {
		n.channels[kind] = make(chan event.GenericEvent, nudgeBuffer)
	}
	return n
}

// Kinds reports the kinds Nudge accepts.
func (n *Nudges) Kinds() []string {
	kinds := make([]string, 0, len(n.channels))
	for kind := range n.channels {
		kinds = append(kinds, kind)
	}
	return kinds
}

// Nudge asks kind's controller to reconcile name now, because of ref. It blocks only while the kind's
// buffer is full. An unknown kind is an error (the caller found an owner this manager does not run).
func (n *Nudges) Nudge(kind string, name types.NamespacedName, ref StripeEventRef) error {
	ch, ok := n.channels[kind]
	if !ok {
		return fmt.Errorf("nudge %s %s: no controller for kind %q", kind, name, kind)
	}
	n.mu.Lock()
	key := nudgeKey{kind: kind, name: name}
	refs := n.pending[key]
	queued := len(refs) > 0
	n.pending[key] = append(refs, ref)
	n.mu.Unlock()
	if queued {
		return nil // a nudge for this object is already on its way: this event rides along
	}
	ch <- event.GenericEvent{Object: &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name}}}
	return nil
}

// MarkLive records that the feed answered just now.
func (n *Nudges) MarkLive() {
	n.mu.Lock()
	n.lastLive = n.now()
	n.mu.Unlock()
}

// Live says the feed answered recently: Stripe's changes reach the reconcilers as events.
func (n *Nudges) Live() bool {
	if n == nil {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.lastLive.IsZero() && n.now().Sub(n.lastLive) < liveFor
}

// take returns and forgets the events that nudged the object.
func (n *Nudges) take(kind string, name types.NamespacedName) []StripeEventRef {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	key := nudgeKey{kind: kind, name: name}
	refs := n.pending[key]
	delete(n.pending, key)
	return refs
}

// source is the kind's channel as a controller-runtime source, or nil when no feed is configured.
func (n *Nudges) source(kind string) source.Source {
	if n == nil {
		return nil
	}
	ch, ok := n.channels[kind]
	if !ok {
		return nil
	}
	return source.Channel[client.Object](ch, &handler.EnqueueRequestForObject{})
}

// recordNudge emits the pass's StripeEvent event when events nudged it.
func (r *Reconciler) recordNudge(obj Object) {
	refs := r.nudges.take(r.kind.Name, types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()})
	if len(refs) == 0 {
		return
	}
	shown := make([]string, 0, maxRefsShown)
	for _, ref := range refs[:min(len(refs), maxRefsShown)] {
		shown = append(shown, ref.ID+" ("+ref.Type+")")
	}
	more := ""
	if len(refs) > maxRefsShown {
		more = fmt.Sprintf(" and %d more", len(refs)-maxRefsShown)
	}
	// The Stripe event is the Kubernetes event's related object: the event recorder merges events
	// with the same regarding, reason and related object into one series that keeps its first note,
	// so without it a second Stripe event for the object would show the first one's id.
	related := &corev1.ObjectReference{APIVersion: "stripe.com/v1", Kind: "Event", Name: refs[0].ID}
	r.recorder.Eventf(obj, related, corev1.EventTypeNormal, EventStripeEvent, actionReconcile,
		"Stripe event %s%s: observing Stripe now", strings.Join(shown, ", "), more)
}
