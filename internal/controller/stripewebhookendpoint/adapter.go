// Package stripewebhookendpoint manages a StripeWebhookEndpoint: a Stripe webhook endpoint whose
// signing secret, which Stripe shows only on create, goes into a Secret the relay reads. It is one
// adapter of the generic reconciler in package managed, and the first whose Create returns a secret.
package stripewebhookendpoint

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/utils/ptr"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// MaxEndpoints is Stripe's limit of webhook endpoints per account.
const MaxEndpoints = 16

// endpointComponent tags the endpoint among the object's Stripe objects.
const endpointComponent = "endpoint"

// Connecter builds the endpoint's ExternalClient; endpoints live on the platform account (a Connect
// endpoint, spec.connect, receives the connected accounts' events there).
type Connecter struct{}

// Connect implements managed.Connecter.
func (Connecter) Connect(_ context.Context, _ managed.Object, pass *managed.Pass) (managed.ExternalClient, error) {
	return &external{stripe: pass.Stripe, pass: pass}, nil
}

type external struct {
	stripe stripeapi.Interface
	pass   *managed.Pass
	// endpoint is the current endpoint: the one whose secret is the newest, and the one the spec is
	// applied to.
	endpoint *stripeapi.WebhookEndpoint
	// previous is, during a rotation's overlap, the endpoint being replaced (nil once it is gone).
	previous *stripeapi.WebhookEndpoint
	// step is what Observe found the rotation needs (see rotation.go).
	step rotationStep
}

var _ managed.SecretKeeper = (*external)(nil)

// Observe reads the endpoint (by id, or by its tags after an interrupted create), and during a
// rotation the endpoint it made, which is then the current one. Before a first create it counts the
// account's endpoints, so that Stripe's limit of 16 is a condition, not a refusal.
func (e *external) Observe(ctx context.Context, obj managed.Object) (managed.Observation, error) {
	w := obj.(*v1alpha1.StripeWebhookEndpoint)
	primary, err := e.find(ctx, w)
	if err != nil {
		return managed.Observation{}, err
	}
	endpoint, err := e.observeRotation(ctx, w, primary)
	if err != nil {
		return managed.Observation{}, err
	}
	if endpoint == nil {
		return managed.Observation{}, e.checkLimit(ctx)
	}
	e.endpoint = endpoint
	w.Status.EndpointID, w.Status.URL = endpoint.ID, endpoint.URL
	w.Status.SigningSecretKey = e.secretKeyOf(endpoint)
	_, diff := changes(w, endpoint)
	if step := e.step.diff(w); step != "" {
		diff = append(diff, step)
	}
	// The id found for the annotation is the primary's: during an overlap the annotation still names
	// the previous endpoint, until the rotation's end promotes the new one.
	found := ""
	if primary != nil {
		found = primary.ID
	}
	return managed.Observation{Exists: true, UpToDate: len(diff) == 0, ExternalID: found, Diff: strings.Join(diff, ", ")}, nil
}

func (e *external) find(ctx context.Context, w *v1alpha1.StripeWebhookEndpoint) (*stripeapi.WebhookEndpoint, error) {
	if id, known := managed.KnownExternalID(w); known {
		endpoint, err := e.stripe.GetWebhookEndpoint(ctx, id)
		if stripeapi.IsNotFound(err) {
			return nil, nil
		}
		return endpoint, err
	}
	if !managed.IsCreatePending(w) {
		return nil, nil
	}
	found, err := e.stripe.FindWebhookEndpointsByTags(ctx, e.tags())
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return &found[len(found)-1], nil
}

func (e *external) checkLimit(ctx context.Context) error {
	all, err := e.stripe.ListWebhookEndpoints(ctx)
	if err != nil {
		return err
	}
	if len(all) >= MaxEndpoints {
		return &managed.DependencyError{Reason: v1alpha1.ReasonEndpointLimit, Message: fmt.Sprintf(
			"the account has %d webhook endpoints, Stripe's limit: delete one (or reuse one by adopting it) before this one can be created", len(all))}
	}
	return nil
}

// Create creates the endpoint and returns its signing secret, which the reconciler stores in the
// endpoint's Secret before it records the id.
func (e *external) Create(ctx context.Context, obj managed.Object) (managed.Created, error) {
	w := obj.(*v1alpha1.StripeWebhookEndpoint)
	endpoint, err := e.stripe.CreateWebhookEndpoint(ctx, createParams(w, e.pass.CreateKey("create-webhook-endpoint"), e.tags()))
	if err != nil {
		return managed.Created{}, err
	}
	e.endpoint = endpoint
	w.Status.EndpointID, w.Status.URL, w.Status.SecretName = endpoint.ID, endpoint.URL, w.SigningSecretName()
	w.Status.SigningSecretKey = v1alpha1.SigningSecretKey
	// A new endpoint has a new secret: a rotation requested in the spec it was created from is done,
	// and the Update that follows this create must not start it.
	w.Status.LastRotationRequest, e.step = requestOf(w), rotationNone
	return managed.Created{
		ID:         endpoint.ID,
		Secret:     map[string][]byte{v1alpha1.SigningSecretKey: []byte(endpoint.Secret)},
		SecretName: w.SigningSecretName(),
	}, nil
}

// Update changes what Stripe lets change in place on the current endpoint: the URL, the events, the
// description, and an endpoint someone disabled is enabled again. Then it takes the rotation's next
// step, if there is one.
func (e *external) Update(ctx context.Context, obj managed.Object) error {
	w := obj.(*v1alpha1.StripeWebhookEndpoint)
	if params, diff := changes(w, e.endpoint); len(diff) > 0 {
		params.IdempotencyKey = e.pass.UpdateKey("update-webhook-endpoint/"+e.endpoint.ID, params)
		endpoint, err := e.stripe.UpdateWebhookEndpoint(ctx, e.endpoint.ID, params)
		if err != nil {
			return fmt.Errorf("update webhook endpoint %s: %w", e.endpoint.ID, err)
		}
		e.endpoint = endpoint
		w.Status.URL = endpoint.URL
	}
	return e.rotate(ctx, w)
}

// Delete deletes the endpoint, and during a rotation the previous one too (and any a rotation's
// interrupted create may have made): Stripe stops delivering to them at once.
func (e *external) Delete(ctx context.Context, obj managed.Object) (string, error) {
	w := obj.(*v1alpha1.StripeWebhookEndpoint)
	ids := []string{e.endpoint.ID}
	if e.previous != nil {
		ids = append(ids, e.previous.ID)
	}
	if e.pass.Secondaries.Pending(rotationComponent) {
		lost, err := e.lostRotations(ctx, w, time.Time{})
		if err != nil {
			return "", err
		}
		ids = append(ids, lost...)
	}
	for _, id := range ids {
		if err := e.stripe.DeleteWebhookEndpoint(ctx, id); err != nil && !stripeapi.IsNotFound(err) {
			return "", fmt.Errorf("delete webhook endpoint %s: %w", id, err)
		}
	}
	return "deleted webhook endpoint " + strings.Join(ids, " and "), nil
}

// DeleteReplaced deletes an endpoint a lost create made: its secret was never stored.
func (e *external) DeleteReplaced(ctx context.Context, _ managed.Object, id string) error {
	if err := e.stripe.DeleteWebhookEndpoint(ctx, id); err != nil && !stripeapi.IsNotFound(err) {
		return err
	}
	return nil
}

// Readiness: an endpoint is usable once its secret is where the relay reads it. An adopted endpoint's
// secret was never seen by the operator, so a person must put it there (or request a rotation). During
// a rotation's overlap both endpoints deliver, and the object asks to be looked at when it ends.
func (e *external) Readiness(obj managed.Object) managed.Readiness {
	w := obj.(*v1alpha1.StripeWebhookEndpoint)
	if w.Status.SecretName == "" {
		return managed.Readiness{Reason: v1alpha1.ReasonSecretUnknown, Message: fmt.Sprintf(
			"endpoint %s was adopted, so its signing secret (shown by Stripe only on create) is unknown: put it into Secret %s, key %s, labelled payments.cloudip.io/secret-of=StripeWebhookEndpoint (the relay reads only Secrets so labelled), for the relay to verify its events, or set spec.rotation.request to replace the endpoint by one whose secret the operator stores",
			w.Status.EndpointID, w.SigningSecretName(), v1alpha1.SigningSecretKey)}
	}
	if r := w.Status.Rotation; r != nil {
		return managed.Readiness{Ready: true, Reason: v1alpha1.ReasonAvailable, Message: fmt.Sprintf(
			"rotating the signing secret: Stripe delivers every event to %s both from endpoint %s (Secret %s, key %s) and, until %s, from the previous endpoint %s (key %s), which is then deleted",
			w.Status.URL, w.Status.EndpointID, w.Status.SecretName, w.Status.SigningSecretKey,
			r.OverlapEndsAt.UTC().Format(time.RFC3339), r.PreviousEndpointID, r.PreviousSecretKey),
			Recheck: &managed.Recheck{Why: "rotation overlap", NotAfter: r.OverlapEndsAt.Time}}
	}
	return managed.Readiness{Ready: true, Reason: v1alpha1.ReasonAvailable, Message: fmt.Sprintf(
		"Stripe delivers to %s; the signing secret is in Secret %s, key %s", w.Status.URL, w.Status.SecretName, w.Status.SigningSecretKey)}
}

func (e *external) tags() stripeapi.Tags {
	tags := e.pass.Tags
	tags.Component = endpointComponent
	return tags
}

// changes is the update that makes the endpoint match the spec, and the names of what differs.
func changes(w *v1alpha1.StripeWebhookEndpoint, have *stripeapi.WebhookEndpoint) (stripeapi.WebhookEndpointUpdateParams, []string) {
	var p stripeapi.WebhookEndpointUpdateParams
	var diff []string
	if url := URLOf(w); url != have.URL {
		p.URL = ptr.To(url)
		diff = append(diff, "url")
	}
	if !sameSet(w.Spec.EnabledEvents, have.EnabledEvents) {
		p.EnabledEvents = w.Spec.EnabledEvents
		diff = append(diff, "enabledEvents")
	}
	if w.Spec.Description != have.Description {
		p.Description = ptr.To(w.Spec.Description)
		diff = append(diff, "description")
	}
	if have.Status == "disabled" {
		p.Disabled = ptr.To(false)
		diff = append(diff, "disabled")
	}
	return p, diff
}

// URLOf is where Stripe delivers: spec.url, or the in-cluster URL of spec.serviceRef (reachable by
// Stripe only through whatever exposes that Service; the emulator reaches it directly).
func URLOf(w *v1alpha1.StripeWebhookEndpoint) string {
	if ref := w.Spec.ServiceRef; ref != nil {
		scheme, port, path := ref.Scheme, ref.Port, ref.Path
		if scheme == "" {
			scheme = "https"
		}
		if port == 0 {
			port = 443
		}
		if path == "" {
			path = "/"
		}
		return fmt.Sprintf("%s://%s.%s.svc:%d%s", scheme, ref.Name, w.Namespace, port, path)
	}
	return w.Spec.URL
}

// createParams is the create of an endpoint as the spec declares it: the first one, and each one a
// rotation makes.
func createParams(w *v1alpha1.StripeWebhookEndpoint, idempotencyKey string, tags stripeapi.Tags) stripeapi.WebhookEndpointCreateParams {
	return stripeapi.WebhookEndpointCreateParams{
		IdempotencyKey: idempotencyKey,
		Tags:           tags,
		URL:            URLOf(w),
		Description:    w.Spec.Description,
		EnabledEvents:  w.Spec.EnabledEvents,
		Connect:        w.Spec.Connect,
		APIVersion:     apiVersionOf(w),
	}
}

// apiVersionOf pins the endpoint's events to the API version the operator and the relay decode.
func apiVersionOf(w *v1alpha1.StripeWebhookEndpoint) string {
	if w.Spec.APIVersion != "" {
		return w.Spec.APIVersion
	}
	return stripeapi.APIVersion
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
