package stripewebhookendpoint

import (
	"context"
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Rotation of the signing secret. Stripe never changes an endpoint's secret, so a rotation is a
// second endpoint, delivering what the first does, for an overlap:
//
//  1. create the new endpoint (same URL, events, connect and API version) with its own tags; its
//     secret goes into the Secret under signingSecret.<id>, owned by the field manager
//     stripe-operator/<id>, before its id is recorded, so that a crash never loses it;
//  2. during the overlap Stripe sends every event to both endpoints, each signed with its own
//     secret; the relay accepts both secrets and keeps one copy of each event (by id), so nothing is
//     lost or doubled;
//  3. when the overlap ends, delete the previous endpoint, then remove its key (its own manager's, or
//     signingSecret's, which the main manager owns), then record the new endpoint as the object's.
//
// What a crash must not lose is on the object's metadata, written at once, not in its status, which is
// written at the end of a pass: the external-name annotation names the previous endpoint until step 3
// ends, and the annotation of the Secondaries component "rotation" holds the create-pending marker,
// then the new endpoint's id (which makes it the current one). Status repeats it for people, and holds
// what can be had again: when the overlap ends (lost, it restarts from the pass that finds it lost,
// which only lengthens it) and which request was carried out.

// Event reasons of a rotation.
const (
	EventSecretRotationStarted   = "SecretRotationStarted"
	EventSecretRotated           = "SecretRotated"
	EventSecretRotationAbandoned = "SecretRotationAbandoned"
	EventLostRotationReplaced    = "LostRotationReplaced"
)

// rotationComponent names what a rotation makes: the Secondaries component recording the new
// endpoint's id, and the component tag of that endpoint in Stripe.
const rotationComponent = "rotation"

// DefaultOverlap is spec.rotation.overlap's default, for objects stored before the field existed.
const DefaultOverlap = time.Hour

// rotationStep is what Observe found the rotation needs.
type rotationStep int

const (
	rotationNone rotationStep = iota
	// rotationStart: a request not carried out yet, or a rotation's create that may have happened
	// without its id recorded (the marker), which is repeated.
	rotationStart
	// rotationOverlap: both endpoints deliver; nothing to do until the overlap ends.
	rotationOverlap
	// rotationFinish: the overlap ended (or its end was interrupted): delete the previous endpoint.
	rotationFinish
	// rotationAbandon: the rotation's endpoint is gone from Stripe (deleted in the Dashboard).
	rotationAbandon
)

// diff names the step for the reconciler's event and log, "" when nothing is to be done.
func (s rotationStep) diff(w *v1alpha1.StripeWebhookEndpoint) string {
	switch s {
	case rotationStart:
		return "signing secret rotation " + strconv.Quote(requestOf(w))
	case rotationFinish:
		return "end of the rotation's overlap"
	case rotationAbandon:
		return "the rotation's endpoint is gone from Stripe"
	}
	return ""
}

// observeRotation decides the rotation's step from what is recorded, reads the rotation's endpoint
// when one is recorded, and returns the current endpoint: that one, or else the primary.
func (e *external) observeRotation(ctx context.Context, w *v1alpha1.StripeWebhookEndpoint, primary *stripeapi.WebhookEndpoint) (*stripeapi.WebhookEndpoint, error) {
	e.step, e.previous = rotationNone, nil
	rotated := e.pass.Secondaries.ID(rotationComponent)
	switch {
	case rotated != "":
		endpoint, err := e.stripe.GetWebhookEndpoint(ctx, rotated)
		if stripeapi.IsNotFound(err) {
			e.step = rotationAbandon
			return primary, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read webhook endpoint %s of the rotation: %w", rotated, err)
		}
		e.previous = primary
		e.recordOverlap(w, endpoint)
		e.step = rotationOverlap
		if !time.Now().Before(w.Status.Rotation.OverlapEndsAt.Time) {
			e.step = rotationFinish
		}
		return endpoint, nil
	case e.pass.Secondaries.Pending(rotationComponent):
		e.step = rotationStart
	case w.Status.Rotation != nil:
		// The new endpoint was promoted, but the pass that did it did not get to write its status.
		e.step = rotationFinish
	case rotationRequested(w):
		e.step = rotationStart
	}
	return primary, nil
}

// recordOverlap puts the overlap into status: the new endpoint is the current one, the annotation's
// the previous one.
func (e *external) recordOverlap(w *v1alpha1.StripeWebhookEndpoint, rotated *stripeapi.WebhookEndpoint) {
	r := w.Status.Rotation
	if r == nil {
		// The status write of the pass that started the rotation was lost: the overlap starts again
		// now, which only lengthens it.
		r = &v1alpha1.SecretRotationStatus{Request: requestOf(w), OverlapEndsAt: overlapEnd(w)}
		w.Status.Rotation = r
	}
	if id, known := managed.KnownExternalID(w); known {
		r.PreviousEndpointID = id
	}
	if e.previous != nil {
		r.PreviousSecretKey = e.secretKeyOf(e.previous)
	}
	w.Status.SecretName, w.Status.SigningSecretKey = w.SigningSecretName(), e.secretKeyOf(rotated)
}

// rotate takes the step Observe decided.
func (e *external) rotate(ctx context.Context, w *v1alpha1.StripeWebhookEndpoint) error {
	switch e.step {
	case rotationStart:
		return e.startRotation(ctx, w)
	case rotationFinish:
		return e.finishRotation(ctx, w)
	case rotationAbandon:
		return e.abandonRotation(ctx, w)
	}
	return nil
}

// startRotation creates the new endpoint, its secret stored before its id is recorded. The
// Secondaries marker makes the create crash-safe: persisted before it, it makes the next pass repeat
// the create with the same idempotency key (derived from the marker, so a spec edited meanwhile
// does not change it), which Stripe answers with the same endpoint and the same secret for 24 hours.
func (e *external) startRotation(ctx context.Context, w *v1alpha1.StripeWebhookEndpoint) error {
	if !e.pass.Secondaries.Pending(rotationComponent) {
		// A repeat is not counted: the endpoint it returns may be one of the 16 already.
		if err := e.checkRotationLimit(ctx, w); err != nil {
			return err
		}
	}
	adopted := w.Status.SecretName == ""
	var made *stripeapi.WebhookEndpoint
	create := func(ctx context.Context, key string) (string, error) {
		endpoint, err := e.stripe.CreateWebhookEndpoint(ctx, createParams(w, key, e.rotationTags()))
		if err != nil {
			return "", fmt.Errorf("create the rotation's webhook endpoint: %w", err)
		}
		// Before the id is recorded: once it is, the create counts as done and its secret could never
		// be had again. If this write fails the marker stays, and the create is repeated.
		if err := e.pass.PublishSecretKey(ctx, w.SigningSecretName(), endpoint.ID, secretKeyFor(endpoint.ID), []byte(endpoint.Secret)); err != nil {
			return "", fmt.Errorf("store the signing secret of webhook endpoint %s: %w", endpoint.ID, err)
		}
		made = endpoint
		return endpoint.ID, nil
	}
	if _, err := e.pass.Secondaries.Ensure(ctx, rotationComponent, create, e.replaceLostRotation(w)); err != nil {
		return err
	}
	if made == nil {
		return nil // nothing recorded without a create in this pass; the next one observes it
	}
	e.previous, e.endpoint = e.endpoint, made
	w.Status.Rotation = &v1alpha1.SecretRotationStatus{
		Request:            requestOf(w),
		PreviousEndpointID: e.previous.ID,
		PreviousSecretKey:  e.secretKeyOf(e.previous),
		OverlapEndsAt:      overlapEnd(w),
	}
	w.Status.EndpointID, w.Status.URL = made.ID, made.URL
	w.Status.SecretName, w.Status.SigningSecretKey = w.SigningSecretName(), secretKeyFor(made.ID)
	e.pass.Record(EventSecretRotationStarted, "created webhook endpoint %s with a new signing secret (Secret %s, key %s); %s keeps delivering until %s, then it is deleted and its key removed",
		made.ID, w.Status.SecretName, w.Status.SigningSecretKey, e.previous.ID, w.Status.Rotation.OverlapEndsAt.UTC().Format(time.RFC3339))
	if adopted {
		e.pass.Warn(EventSecretRotationStarted, "endpoint %s was adopted: the operator removes only the keys it wrote, so once the overlap ends remove key %s from Secret %s yourself if you put the old secret there",
			e.previous.ID, v1alpha1.SigningSecretKey, w.Status.SecretName)
	}
	return nil
}

// finishRotation ends the overlap: the previous endpoint is deleted first (so its key is no longer
// needed), then its key removed, then the new endpoint recorded as the object's. Each step may be
// repeated after a crash.
func (e *external) finishRotation(ctx context.Context, w *v1alpha1.StripeWebhookEndpoint) error {
	rotated := e.pass.Secondaries.ID(rotationComponent)
	previousID, previousKey := "", ""
	if r := w.Status.Rotation; r != nil {
		previousID, previousKey = r.PreviousEndpointID, r.PreviousSecretKey
	}
	if id, known := managed.KnownExternalID(w); known && rotated != "" {
		previousID = id // until the promotion, the annotation is the record of the previous endpoint
	}
	if e.previous != nil {
		previousKey = e.secretKeyOf(e.previous)
	}
	name := w.SigningSecretName()
	if previousID != "" && previousID != e.endpoint.ID {
		if err := e.stripe.DeleteWebhookEndpoint(ctx, previousID); err != nil && !stripeapi.IsNotFound(err) {
			return fmt.Errorf("delete the previous webhook endpoint %s: %w", previousID, err)
		}
		if previousKey != v1alpha1.SigningSecretKey { // its own key, or unknown: removing is harmless
			if err := e.pass.RemoveSecretKey(ctx, name, previousID); err != nil {
				return err
			}
		}
	}
	// signingSecret is the first endpoint's key, which the main manager owns: once the current endpoint
	// is one a rotation made, with a key of its own, nothing delivers with it any more.
	if previousKey != secretKeyFor(previousID) && e.secretKeyOf(e.endpoint) != v1alpha1.SigningSecretKey {
		if err := e.pass.RemoveSecretKey(ctx, name, ""); err != nil {
			return err
		}
	}
	if rotated != "" {
		if err := e.pass.Secondaries.Promote(ctx, rotationComponent); err != nil {
			return err
		}
	}
	request := requestOf(w)
	if r := w.Status.Rotation; r != nil {
		request = r.Request
	}
	w.Status.LastRotationRequest, w.Status.Rotation, e.previous = request, nil, nil
	e.pass.Record(EventSecretRotated, "the overlap ended: deleted webhook endpoint %s and removed its signing secret from Secret %s; %s delivers alone (key %s)",
		previousID, name, e.endpoint.ID, w.Status.SigningSecretKey)
	return nil
}

// abandonRotation forgets a rotation whose endpoint someone deleted in Stripe: the previous endpoint
// stays the object's, and since the request was not carried out, the next pass starts it again.
func (e *external) abandonRotation(ctx context.Context, w *v1alpha1.StripeWebhookEndpoint) error {
	rotated := e.pass.Secondaries.ID(rotationComponent)
	if err := e.pass.RemoveSecretKey(ctx, w.SigningSecretName(), rotated); err != nil {
		return err
	}
	if err := e.pass.Secondaries.Forget(ctx, rotationComponent); err != nil {
		return err
	}
	w.Status.Rotation = nil
	e.pass.Warn(EventSecretRotationAbandoned, "webhook endpoint %s, made by rotation %q, was deleted outside the operator: %s stays the endpoint, and the rotation starts again",
		rotated, requestOf(w), e.endpoint.ID)
	return nil
}

// replaceLostRotation is the rotation's FindFunc, past Stripe's idempotency window: an endpoint the
// lost create made may have no stored secret (the operator cannot read the Secret to know), and an
// endpoint whose events nobody can verify is no endpoint. So it is deleted, with the key it may
// have, and the create that follows makes one whose secret is stored before its id.
func (e *external) replaceLostRotation(w *v1alpha1.StripeWebhookEndpoint) managed.FindFunc {
	return func(ctx context.Context, createdSince time.Time) (string, error) {
		lost, err := e.lostRotations(ctx, w, createdSince)
		if err != nil {
			return "", err
		}
		for _, id := range lost {
			if err := e.stripe.DeleteWebhookEndpoint(ctx, id); err != nil && !stripeapi.IsNotFound(err) {
				return "", fmt.Errorf("delete webhook endpoint %s of a lost rotation: %w", id, err)
			}
			if err := e.pass.RemoveSecretKey(ctx, w.SigningSecretName(), id); err != nil {
				return "", err
			}
			e.pass.Warn(EventLostRotationReplaced, "deleted webhook endpoint %s: a rotation created it but its id was not recorded within Stripe's idempotency window, so its secret may be lost; a new endpoint replaces it", id)
		}
		return "", nil
	}
}

// lostRotations lists the endpoints a rotation of this object made since createdSince whose ids are
// not recorded (one request: an account has at most 16 endpoints).
func (e *external) lostRotations(ctx context.Context, w *v1alpha1.StripeWebhookEndpoint, createdSince time.Time) ([]string, error) {
	found, err := e.stripe.FindWebhookEndpointsByTags(ctx, e.rotationTags())
	if err != nil {
		return nil, fmt.Errorf("find the rotation's webhook endpoints by their tags: %w", err)
	}
	recorded, _ := managed.KnownExternalID(w)
	var lost []string
	for _, endpoint := range found {
		if endpoint.ID != recorded && (e.endpoint == nil || endpoint.ID != e.endpoint.ID) && !endpoint.Created.Before(createdSince) {
			lost = append(lost, endpoint.ID)
		}
	}
	return lost, nil
}

// checkRotationLimit refuses a rotation in an account already at Stripe's limit: the overlap needs a
// second endpoint.
func (e *external) checkRotationLimit(ctx context.Context, w *v1alpha1.StripeWebhookEndpoint) error {
	all, err := e.stripe.ListWebhookEndpoints(ctx)
	if err != nil {
		return fmt.Errorf("count the account's webhook endpoints: %w", err)
	}
	if len(all) >= MaxEndpoints {
		return &managed.DependencyError{Reason: v1alpha1.ReasonEndpointLimit, Message: fmt.Sprintf(
			"rotation %q needs a second endpoint for its overlap, but the account has %d webhook endpoints, Stripe's limit: delete one to rotate", requestOf(w), len(all))}
	}
	return nil
}

func (e *external) rotationTags() stripeapi.Tags {
	tags := e.pass.Tags
	tags.Component = rotationComponent
	return tags
}

// secretKeyOf is the key an endpoint's secret is stored under: its own for one a rotation of this
// object made (its tags say so, whatever status holds), signingSecret for the first or an adopted one.
func (e *external) secretKeyOf(endpoint *stripeapi.WebhookEndpoint) string {
	if e.rotationTags().Matches(endpoint.Metadata) {
		return secretKeyFor(endpoint.ID)
	}
	return v1alpha1.SigningSecretKey
}

// secretKeyFor is the key of the secret of an endpoint a rotation made.
func secretKeyFor(id string) string { return v1alpha1.SigningSecretKeyPrefix + id }

// rotationRequested reports a request neither carried out nor in progress.
func rotationRequested(w *v1alpha1.StripeWebhookEndpoint) bool {
	request := requestOf(w)
	return request != "" && request != w.Status.LastRotationRequest && (w.Status.Rotation == nil || w.Status.Rotation.Request != request)
}

func requestOf(w *v1alpha1.StripeWebhookEndpoint) string {
	if w.Spec.Rotation == nil {
		return ""
	}
	return w.Spec.Rotation.Request
}

// overlapEnd is when an overlap starting now ends, to the second (as status stores it, so the
// status read back equals the one written and is not written again).
func overlapEnd(w *v1alpha1.StripeWebhookEndpoint) metav1.Time {
	overlap := DefaultOverlap
	if r := w.Spec.Rotation; r != nil && r.Overlap != nil && r.Overlap.Duration > 0 {
		overlap = r.Overlap.Duration
	}
	return metav1.NewTime(time.Now().Add(overlap).Truncate(time.Second))
}
