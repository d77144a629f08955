package stripewebhookendpoint_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/controller/stripewebhookendpoint"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// rotationAnnotation holds the id of the endpoint a rotation made, until its overlap ends.
const rotationAnnotation = managed.AnnotationSecondaryPrefix + "rotation"

// receiver is the relay's stand-in: it keeps every POST Stripe (the emulator) sends it.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	received []delivery
}

type delivery struct {
	body      []byte
	signature string
}

func newReceiver(t *testing.T) *receiver {
	rcv := &receiver{}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rcv.mu.Lock()
		rcv.received = append(rcv.received, delivery{body: body, signature: req.Header.Get("Stripe-Signature")})
		rcv.mu.Unlock()
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

// of returns the deliveries of one event.
func (rcv *receiver) of(t *testing.T, eventID string) []delivery {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var out []delivery
	for _, d := range rcv.received {
		ev, err := stripeapi.DecodeEvent(d.body)
		if err != nil {
			t.Fatalf("not an event: %v", err)
		}
		if ev.ID == eventID {
			out = append(out, d)
		}
	}
	return out
}

// rotating is an endpoint delivering product.created to rcv, with the given overlap.
func rotating(r *controllertest.Rig, name string, rcv *receiver, overlap time.Duration) *v1alpha1.StripeWebhookEndpoint {
	w := endpoint(r, name)
	w.Spec.URL = rcv.URL + "/stripe/" + name
	w.Spec.EnabledEvents = []string{"product.created"}
	w.Spec.Rotation = &v1alpha1.SecretRotation{Overlap: &metav1.Duration{Duration: overlap}}
	return w
}

func secretData(t *testing.T, r *controllertest.Rig, w *v1alpha1.StripeWebhookEndpoint) map[string][]byte {
	t.Helper()
	var secret corev1.Secret
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: r.NS, Name: w.SigningSecretName()}, &secret); err != nil {
		t.Fatalf("signing Secret: %v", err)
	}
	return secret.Data
}

func endpointIDs(t *testing.T, r *controllertest.Rig) []string {
	t.Helper()
	all, err := r.Stripe.ListWebhookEndpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(all))
	for _, e := range all {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	return ids
}

func creates(r *controllertest.Rig) int64 {
	return r.Emu.Stats().Requests["POST /v1/webhook_endpoints"]
}

// requestRotation sets spec.rotation.request and waits until the overlap is under way.
func requestRotation(t *testing.T, r *controllertest.Rig, w *v1alpha1.StripeWebhookEndpoint, request string) {
	t.Helper()
	r.Update(w, func() { w.Spec.Rotation.Request = request })
	controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
		r.Get(w)
		if rot := w.Status.Rotation; rot == nil || rot.Request != request {
			return fmt.Errorf("rotation %+v, want %q in progress", w.Status.Rotation, request)
		}
		return nil
	})
}

// waitRotated waits until the rotation of request has ended.
func waitRotated(t *testing.T, r *controllertest.Rig, w *v1alpha1.StripeWebhookEndpoint, request string) {
	t.Helper()
	controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
		r.Get(w)
		if w.Status.Rotation != nil || w.Status.LastRotationRequest != request {
			return fmt.Errorf("rotation %+v, last %q: want %q completed", w.Status.Rotation, w.Status.LastRotationRequest, request)
		}
		return nil
	})
}

// Pins a rotation end to end: exactly one new endpoint; during the overlap the Secret holds both
// secrets and an event is delivered to both endpoints, each signed with its own secret; when the
// overlap ends the old endpoint is gone from Stripe and its key from the Secret, and the new one is
// the object's (annotation, status); the same request again does nothing; a second rotation removes
// the key of the first rotation's endpoint, owned by its own field manager.
func TestRotation(t *testing.T) {
	r := controllertest.NewRig(t, env, controllertest.RigOptions{})
	ctx := context.Background()
	rcv := newReceiver(t)
	w := rotating(r, "rotated", rcv, 10*time.Second)
	r.Create(w)
	controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	first, firstSecret := w.Status.EndpointID, string(secretData(t, r, w)[v1alpha1.SigningSecretKey])

	started := time.Now()
	requestRotation(t, r, w, "2026-05-01")
	second := w.Status.EndpointID
	if got, want := endpointIDs(t, r), sorted(first, second); !slices.Equal(got, want) || second == first {
		t.Fatalf("endpoints %v during the overlap, want the first and exactly one new one (%v)", got, want)
	}
	if n := creates(r); n != 2 {
		t.Errorf("%d creates, want 2 (the endpoint, the rotation's)", n)
	}
	data := secretData(t, r, w)
	secondSecret := string(data[v1alpha1.SigningSecretKeyPrefix+second])
	if got := v1alpha1.SigningSecretsOf(data); len(got) != 2 || !strings.HasPrefix(secondSecret, "whsec_") || secondSecret == firstSecret {
		t.Fatalf("Secret keys %v, want signingSecret and %s%s with two different secrets", keys(data), v1alpha1.SigningSecretKeyPrefix, second)
	}
	if rot := w.Status.Rotation; rot.PreviousEndpointID != first || rot.PreviousSecretKey != v1alpha1.SigningSecretKey || w.Status.SigningSecretKey != v1alpha1.SigningSecretKeyPrefix+second {
		t.Errorf("status %+v, rotation %+v: want the new endpoint current and the first one previous", w.Status, rot)
	}
	if got := w.Annotations[rotationAnnotation]; got != second {
		t.Errorf("rotation annotation %q, want %s", got, second)
	}

	// An event during the overlap goes to both endpoints; the relay, holding both secrets, can verify
	// each delivery with exactly one of them, the one of the endpoint that sent it.
	product, err := r.Stripe.CreateProduct(ctx, stripeapi.ProductCreateParams{
		IdempotencyKey: "during-overlap", Tags: stripeapi.Tags{UID: "p", NamespacedName: "x/p", Kind: "Manual"}, Name: "during the overlap",
	})
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.Emu.WaitForDeliveries(waitCtx); err != nil {
		t.Fatal(err)
	}
	sent := r.Emu.Deliveries(emulator.DeliveryFilter{Status: emulator.DeliveryDelivered})
	if len(sent) != 2 || sent[0].Event != sent[1].Event || !slices.Equal(sorted(sent[0].Endpoint, sent[1].Endpoint), sorted(first, second)) {
		t.Fatalf("deliveries %+v of product %s, want one event delivered by both endpoints", sent, product.ID)
	}
	var verifiedBy []string
	for _, d := range rcv.of(t, sent[0].Event) {
		for name, secret := range map[string]string{"first": firstSecret, "second": secondSecret} {
			if _, err := stripeapi.VerifyEvent(d.body, d.signature, []string{secret}, 0, time.Now()); err == nil {
				verifiedBy = append(verifiedBy, name)
			}
		}
	}
	if slices.Sort(verifiedBy); !slices.Equal(verifiedBy, []string{"first", "second"}) {
		t.Errorf("the two deliveries verify with %v, want each with its own endpoint's secret", verifiedBy)
	}
	if time.Since(started) > 9*time.Second {
		t.Log("the overlap may have ended before the event: the test machine is slow")
	}

	waitRotated(t, r, w, "2026-05-01")
	t.Logf("rotation completed %s after the request (overlap 10s)", time.Since(started).Round(100*time.Millisecond))
	if got := endpointIDs(t, r); !slices.Equal(got, []string{second}) {
		t.Errorf("endpoints %v after the overlap, want only %s", got, second)
	}
	if _, err := r.Stripe.GetWebhookEndpoint(ctx, first); !stripeapi.IsNotFound(err) {
		t.Errorf("the previous endpoint after the overlap: %v, want it deleted", err)
	}
	if data := secretData(t, r, w); !slices.Equal(keys(data), []string{v1alpha1.SigningSecretKeyPrefix + second}) {
		t.Errorf("Secret keys %v after the overlap, want only the new endpoint's", keys(data))
	}
	if got := v1alpha1.GetExternalName(w); got != second || w.Annotations[rotationAnnotation] != "" || w.Status.EndpointID != second {
		t.Errorf("external-name %q, rotation annotation %q, status endpoint %s: want %s recorded as the endpoint", got, w.Annotations[rotationAnnotation], w.Status.EndpointID, second)
	}

	// The same request again, in a spec changed otherwise: the change is applied, nothing rotates.
	r.Update(w, func() { w.Spec.Description = "same request, new description" })
	controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionSynced, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
		got, err := r.Stripe.GetWebhookEndpoint(ctx, second)
		if err != nil {
			return err
		}
		if got.Description != w.Spec.Description {
			return errors.New("description not applied yet")
		}
		return nil
	})
	if n := creates(r); n != 2 || w.Status.Rotation != nil {
		t.Errorf("%d creates and rotation %+v after the same request again, want 2 and none", n, w.Status.Rotation)
	}

	// A second rotation: the previous endpoint's key is its own manager's, and goes with it.
	requestRotation(t, r, w, "2026-06-01")
	third := w.Status.EndpointID
	if rot := w.Status.Rotation; rot.PreviousEndpointID != second || rot.PreviousSecretKey != v1alpha1.SigningSecretKeyPrefix+second {
		t.Errorf("rotation %+v, want %s previous, under its own key", rot, second)
	}
	if got := v1alpha1.SigningSecretsOf(secretData(t, r, w)); len(got) != 2 {
		t.Errorf("%d secrets during the second overlap, want 2", len(got))
	}
	waitRotated(t, r, w, "2026-06-01")
	if got := endpointIDs(t, r); !slices.Equal(got, []string{third}) {
		t.Errorf("endpoints %v after the second overlap, want only %s", got, third)
	}
	if data := secretData(t, r, w); !slices.Equal(keys(data), []string{v1alpha1.SigningSecretKeyPrefix + third}) {
		t.Errorf("Secret keys %v after the second overlap, want only %s's", keys(data), third)
	}
	// The keys came and went without the Secret ever being read, and it is still the object's (so it
	// goes with it), with one field manager per live key and none left by the removed ones.
	var secret corev1.Secret
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: r.NS, Name: w.SigningSecretName()}, &secret); err != nil {
		t.Fatal(err)
	}
	var managers []string
	for _, m := range secret.ManagedFields {
		managers = append(managers, m.Manager)
	}
	if owners := secret.OwnerReferences; len(owners) != 1 || owners[0].UID != w.UID || secret.Labels["app.kubernetes.io/managed-by"] != "stripe-operator" {
		t.Errorf("Secret owners %+v, labels %v: want the object's, and the operator's label", owners, secret.Labels)
	}
	if slices.Sort(managers); !slices.Equal(managers, []string{"stripe-operator", "stripe-operator/" + third}) {
		t.Errorf("Secret field managers %v, want the main one and the current endpoint's", managers)
	}
	r.NoSpecRefusals()
}

// Pins that an endpoint created with a request is not rotated: its first secret is new already.
func TestRequestAtCreateDoesNotRotate(t *testing.T) {
	r := controllertest.NewRig(t, env, controllertest.RigOptions{})
	w := rotating(r, "fresh", newReceiver(t), time.Hour)
	w.Spec.Rotation.Request = "from-the-start"
	r.Create(w)
	controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	// Another pass (the create's made no read), to see that nothing is left to do either; a rotation
	// it started would be in Stripe before its status write, so the second below only lets it finish.
	r.Update(w, func() { w.Annotations[managed.AnnotationReconcileRequested] = "1" })
	controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
		if n := r.Requests("GET /v1/webhook_endpoints/"); n < 1 {
			return errors.New("no second pass yet")
		}
		return nil
	})
	time.Sleep(time.Second)
	r.Get(w)
	if n := creates(r); n != 1 || w.Status.Rotation != nil || w.Status.LastRotationRequest != "from-the-start" {
		t.Errorf("%d creates, rotation %+v, last request %q: want one endpoint and the request counted as done", n, w.Status.Rotation, w.Status.LastRotationRequest)
	}
	r.NoSpecRefusals()
}

// Pins the crash-safety of the rotation's create: the manager killed between Stripe's answer and
// the record of the new endpoint's id ends, after a restart, with exactly one new endpoint (the
// create repeated with its idempotency key, answered from Stripe's cache) and its secret stored.
func TestRotationCrashBeforeIDRecorded(t *testing.T) {
	crashed := make(chan struct{})
	r := controllertest.NewRig(t, env, controllertest.RigOptions{Manager: controllertest.ManagerOptions{
		NewClient: controllertest.CrashOnIDWrite(&v1alpha1.StripeWebhookEndpoint{}, rotationAnnotation, crashed),
	}})
	w := rotating(r, "crash", newReceiver(t), time.Hour)
	r.Create(w)
	controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	first := w.Status.EndpointID
	r.Update(w, func() { w.Spec.Rotation.Request = "after-a-leak" })
	select {
	case <-crashed:
	case <-time.After(controllertest.DefaultTimeout):
		t.Fatal("the rotation's create never happened")
	}
	// Past the second of the first attempt: a restart that ignored the marker would send a new
	// idempotency key (and so make a second endpoint) rather than happen to repeat the first.
	time.Sleep(1100 * time.Millisecond)
	r.RestartManager(controllertest.ManagerOptions{})
	controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
		r.Get(w)
		if w.Status.Rotation == nil {
			return errors.New("rotation not recorded yet")
		}
		return nil
	})
	second := w.Annotations[rotationAnnotation]
	if got := endpointIDs(t, r); len(got) != 2 || !slices.Contains(got, first) || !slices.Contains(got, second) {
		t.Fatalf("endpoints %v, want %s and the one new endpoint %s", got, first, second)
	}
	if r.Emu.Stats().IdempotentReplays == 0 {
		t.Error("the repeated create was not answered from Stripe's idempotency cache")
	}
	data := secretData(t, r, w)
	if secret := string(data[v1alpha1.SigningSecretKeyPrefix+second]); !strings.HasPrefix(secret, "whsec_") || len(v1alpha1.SigningSecretsOf(data)) != 2 {
		t.Errorf("Secret keys %v, want both endpoints' secrets", keys(data))
	}
	r.NoSpecRefusals()
}

// Pins the clean-up of an overlap: deleting the object while both endpoints exist deletes both.
func TestDeleteDuringOverlap(t *testing.T) {
	r := controllertest.NewRig(t, env, controllertest.RigOptions{})
	w := rotating(r, "deleted", newReceiver(t), time.Hour)
	r.Create(w)
	controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	requestRotation(t, r, w, "then-delete")
	if got := endpointIDs(t, r); len(got) != 2 {
		t.Fatalf("endpoints %v, want 2 during the overlap", got)
	}
	if err := env.Client.Delete(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	controllertest.Gone(t, env.Client, w)
	if got := endpointIDs(t, r); len(got) != 0 {
		t.Errorf("endpoints %v after the delete, want none", got)
	}
	r.NoSpecRefusals()
}

// Pins the 16-endpoint limit for a rotation: with the account full, a condition says so and no
// create is sent; the endpoint stays Ready.
func TestRotationEndpointLimit(t *testing.T) {
	r := controllertest.NewRig(t, env, controllertest.RigOptions{})
	ctx := context.Background()
	w := rotating(r, "full", newReceiver(t), time.Hour)
	r.Create(w)
	controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	for i := range stripewebhookendpoint.MaxEndpoints - 1 {
		if _, err := r.Stripe.CreateWebhookEndpoint(ctx, stripeapi.WebhookEndpointCreateParams{
			IdempotencyKey: fmt.Sprintf("other-%d", i), Tags: stripeapi.Tags{UID: "x", NamespacedName: "x/x", Kind: "Manual"},
			URL: "https://elsewhere.example/hook", EnabledEvents: []string{"*"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	before := creates(r)
	r.Update(w, func() { w.Spec.Rotation.Request = "no-room" })
	controllertest.WaitForCondition(t, env.Client, w, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonEndpointLimit)
	if n := creates(r) - before; n != 0 {
		t.Errorf("%d creates sent with the account full, want none", n)
	}
	if w.Status.Rotation != nil {
		t.Errorf("rotation %+v, want none started", w.Status.Rotation)
	}
	r.NoSpecRefusals()
}

// Pins spec.rotation.overlap's admission: 5s to 72h, 1h by default.
func TestRotationOverlapValidation(t *testing.T) {
	ns := controllertest.Namespace(t, env, nil)
	cases := map[string]struct {
		rotation *v1alpha1.SecretRotation
		refused  bool
		want     time.Duration
	}{
		"the default":        {rotation: &v1alpha1.SecretRotation{Request: "r"}, want: time.Hour},
		"the shortest, 5s":   {rotation: &v1alpha1.SecretRotation{Overlap: &metav1.Duration{Duration: 5 * time.Second}}, want: 5 * time.Second},
		"Stripe's retries":   {rotation: &v1alpha1.SecretRotation{Overlap: &metav1.Duration{Duration: 72 * time.Hour}}, want: 72 * time.Hour},
		"shorter than 5s":    {rotation: &v1alpha1.SecretRotation{Overlap: &metav1.Duration{Duration: 4 * time.Second}}, refused: true},
		"longer than 3 days": {rotation: &v1alpha1.SecretRotation{Overlap: &metav1.Duration{Duration: 73 * time.Hour}}, refused: true},
		"no overlap at all":  {rotation: &v1alpha1.SecretRotation{Overlap: &metav1.Duration{}}, refused: true},
	}
	i := 0
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			i++
			w := &v1alpha1.StripeWebhookEndpoint{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("overlap-%d", i)},
				Spec: v1alpha1.StripeWebhookEndpointSpec{
					// No connection of that name: nothing reconciles these objects.
					ManagedSpec:   v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: "none"}},
					URL:           "https://relay.cloudip.example/stripe/overlap",
					EnabledEvents: []string{"*"},
					Rotation:      tc.rotation,
				},
			}
			err := env.Client.Create(context.Background(), w)
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), "spec.rotation.overlap must be between 5s and 72h") {
					t.Errorf("created with overlap %v (err %v), want it refused", tc.rotation.Overlap, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Spec.Rotation.Overlap; got == nil || got.Duration != tc.want {
				t.Errorf("overlap %v, want %s", got, tc.want)
			}
		})
	}
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func keys(data map[string][]byte) []string {
	out := make([]string, 0, len(data))
	for k := range data {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
