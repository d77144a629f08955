package managed

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// A secondary object is a Stripe object a kind creates besides its primary one: a tenant's customer and
// subscription. It gets the primary's guarantee (a crash at any line never leaves two of them) by the
// same means: a marker persisted on the Kubernetes object before the create, the id persisted right
// after, before anything else happens.
//
// Both live in an annotation per component, AnnotationSecondaryPrefix+component:
//
//	payments.cloudip.io/external-name-customer: cus_123                         the id
//	payments.cloudip.io/external-name-customer: create-pending:3:1764579600      a create may have happened
//
// The marker says with which generation and when the create was tried, which is what recovery needs:
// within Stripe's 24 hours the create is repeated with the same idempotency key, and Stripe answers
// with the object the first attempt made (or makes it, if the first never arrived). That costs one
// request, however many customers the platform has. Past the window, the object is looked up by its
// metadata tags among those created since the marker's time, and only when none is found is a new one
// created.

// AnnotationSecondaryPrefix is followed by a component name; the annotation holds a secondary object's id. A user adopts
// an existing object by setting it (payments.cloudip.io/external-name-customer: cus_…).
const AnnotationSecondaryPrefix = "payments.cloudip.io/external-name-"

// IdempotencyWindow is how long a create may be repeated with its first key and be answered with the
// first object. Stripe keeps keys for at least 24 hours; an hour is left for clock skew.
const IdempotencyWindow = 23 * time.Hour

// CreateFunc creates one secondary object with the given idempotency key and returns its id (also
// when it returns an error, if Stripe gave one).
type CreateFunc func(ctx context.Context, idempotencyKey string) (id string, err error)

// FindFunc looks a secondary object up by its metadata tags among those created since the given time
// (list, never search), and returns "" when there is none.
type FindFunc func(ctx context.Context, createdSince time.Time) (id string, err error)

// Secondaries persists the ids of one object's secondary Stripe objects during one pass.
type Secondaries struct {
	r   *Reconciler
	obj Object
	now func() time.Time
}

// ID returns the recorded id of the component, "" when none is known (never created, or pending).
func (s *Secondaries) ID(component string) string {
	value := s.obj.GetAnnotations()[AnnotationSecondaryPrefix+component]
	if strings.HasPrefix(value, CreatePending) {
		return ""
	}
	return value
}

// Pending reports whether a create of the component may have happened without its id being recorded.
func (s *Secondaries) Pending(component string) bool {
	_, ok := parsePendingMarker(s.obj.GetAnnotations()[AnnotationSecondaryPrefix+component])
	return ok
}

// Ensure returns the component's id, creating the object when none is recorded. When a create may
// have happened (the marker is there), it recovers that object instead of making a second one: by
// repeating the create with its first key within IdempotencyWindow, by find past it.
func (s *Secondaries) Ensure(ctx context.Context, component string, create CreateFunc, find FindFunc) (string, error) {
	if id := s.ID(component); id != "" {
		return id, nil
	}
	if marker, pending := parsePendingMarker(s.obj.GetAnnotations()[AnnotationSecondaryPrefix+component]); pending {
		if s.now().Sub(marker.since) < IdempotencyWindow {
			id, err := create(ctx, s.key(component, marker))
			switch {
			case err == nil || id != "":
				return id, s.recordCreated(ctx, component, id, err)
			case !stripeapi.IsIdempotencyMismatch(err):
				return "", s.createFailed(ctx, component, err)
			}
			// Same key, other parameters: the first attempt reached Stripe with what the spec said then.
			// Whether it made the object only the tags can tell.
		}
		id, err := find(ctx, marker.since.Add(-stripeapi.FindClockSkew))
		if err != nil {
			return "", fmt.Errorf("find %s by its tags: %w", component, err)
		}
		if id != "" {
			if err := s.Record(ctx, component, id); err != nil {
				return "", err
			}
			s.r.event(s.obj, corev1.EventTypeNormal, EventAdopted, "found Stripe %s %s by its tags and recorded its id", component, id)
			return id, nil
		}
	}
	marker := pendingMarker{generation: s.obj.GetGeneration(), since: s.now().Truncate(time.Second)}
	if err := s.set(ctx, component, marker.String()); err != nil {
		return "", err
	}
	id, err := create(ctx, s.key(component, marker))
	if id == "" && err != nil {
		return "", s.createFailed(ctx, component, err)
	}
	return id, s.recordCreated(ctx, component, id, err)
}

// Record persists an id found otherwise (adopted, or recovered by the adapter).
func (s *Secondaries) Record(ctx context.Context, component, id string) error {
	return s.set(ctx, component, id)
}

// Forget removes the component's id, once its object is gone for good (a subscription cancelled at
// the end of its period, a customer deleted): the next create makes a new one.
func (s *Secondaries) Forget(ctx context.Context, component string) error {
	return s.set(ctx, component, "")
}

// Promote makes the component's object the primary one, in one metadata write: its id replaces the
// external-name annotation and the component's annotation goes. It is for a kind that replaces its
// primary object while the Kubernetes object lives (a webhook endpoint rotated to a new secret): the
// component's annotation kept the replacement's id durable until now, and the adapter has dealt with
// the replaced object first, since its id is no longer recorded here afterwards.
func (s *Secondaries) Promote(ctx context.Context, component string) error {
	id := s.ID(component)
	if id == "" {
		return fmt.Errorf("promote %s: no id recorded", component)
	}
	return s.r.patchMetadata(ctx, s.obj, func() {
		v1alpha1.SetExternalName(s.obj, id)
		delete(s.obj.GetAnnotations(), AnnotationSecondaryPrefix+component)
	})
}

func (s *Secondaries) recordCreated(ctx context.Context, component, id string, createErr error) error {
	if err := s.set(ctx, component, id); err != nil {
		return err
	}
	s.r.event(s.obj, corev1.EventTypeNormal, "Created"+titleCase(component), "created Stripe %s %s", component, id)
	return createErr
}

// createFailed clears the marker when Stripe provably made nothing (it refused the create), so the
// next pass need not look for the object by its tags.
func (s *Secondaries) createFailed(ctx context.Context, component string, err error) error {
	if stripeapi.CreatedNothing(err) {
		_ = s.set(ctx, component, "") // if this write fails, the next pass simply looks the object up
	}
	return err
}

func (s *Secondaries) set(ctx context.Context, component, value string) error {
	key := AnnotationSecondaryPrefix + component
	return s.r.patchMetadata(ctx, s.obj, func() {
		annotations := s.obj.GetAnnotations()
		if value == "" {
			delete(annotations, key)
			return
		}
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[key] = value
		s.obj.SetAnnotations(annotations)
	})
}

// key derives the create's idempotency key from the object's UID, the generation the create was first
// tried with, and the component with the attempt's time: every new marker is a new attempt with its
// own key (so a create whose inputs changed outside the spec, such as the plan's price, never meets
// its old parameters), and every repeat of one attempt sends the same key.
func (s *Secondaries) key(component string, marker pendingMarker) string {
	return stripeapi.IdempotencyKey(string(s.obj.GetUID()), marker.generation, "create-"+component+"@"+strconv.FormatInt(marker.since.Unix(), 10))
}

// pendingMarker is the value persisted before a secondary create: CreatePending:<generation>:<unix time>.
type pendingMarker struct {
	generation int64
	since      time.Time
}

func (m pendingMarker) String() string {
	return fmt.Sprintf("%s:%d:%d", CreatePending, m.generation, m.since.Unix())
}

// parsePendingMarker reads a marker. A bare or unreadable marker still means "a create may have
// happened", with no usable key: it is treated as past the window, so the object is looked up by tags.
func parsePendingMarker(value string) (pendingMarker, bool) {
	if !strings.HasPrefix(value, CreatePending) {
		return pendingMarker{}, false
	}
	parts := strings.Split(value, ":")
	if len(parts) != 3 {
		return pendingMarker{}, true
	}
	generation, errGeneration := strconv.ParseInt(parts[1], 10, 64)
	unix, errTime := strconv.ParseInt(parts[2], 10, 64)
	if errGeneration != nil || errTime != nil {
		return pendingMarker{}, true
	}
	return pendingMarker{generation: generation, since: time.Unix(unix, 0)}, true
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
