package stripeconnection_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
)

// Pins how a StripeConnection reports its key: verified against GET /v1/account and reported in
// status, or refused with a reason a person can act on, before the key is ever sent where that is
// possible.
func TestVerification(t *testing.T) {
	ns := controllertest.Namespace(t, env, nil)
	controllertest.StartManager(t, env, controllertest.ManagerOptions{Namespace: ns})

	cases := map[string]struct {
		key          string
		secretNS     string // default: the operator's namespace
		noSecret     bool
		wantReady    metav1.ConditionStatus
		wantReason   string
		wantMessage  string
		wantNoStripe bool // refused before any request reaches Stripe
	}{
		"a test key is verified and the account reported": {
			key: "sk_test_valid", wantReady: metav1.ConditionTrue, wantReason: v1alpha1.ReasonAvailable,
		},
		"a live key on a test connection is refused unsent": {
			key: "sk_live_oops", wantReady: metav1.ConditionFalse, wantReason: v1alpha1.ReasonInvalidCredentials,
			wantMessage: "live-mode key but spec.mode is test", wantNoStripe: true,
		},
		"a value that is no Stripe key is refused unsent": {
			key: "hunter2", wantReady: metav1.ConditionFalse, wantReason: v1alpha1.ReasonInvalidCredentials,
			wantMessage: "not a Stripe secret or restricted key", wantNoStripe: true,
		},
		"a key Stripe refuses (401)": {
			key: "sk_test_", wantReady: metav1.ConditionFalse, wantReason: v1alpha1.ReasonInvalidCredentials,
			wantMessage: "Invalid API Key",
		},
		"a missing Secret": {
			noSecret: true, wantReady: metav1.ConditionFalse, wantReason: v1alpha1.ReasonInvalidCredentials,
			wantMessage: "does not exist", wantNoStripe: true,
		},
		"a Secret outside the namespaces the operator reads": {
			key: "sk_test_elsewhere", secretNS: ns, wantReady: metav1.ConditionFalse, wantReason: v1alpha1.ReasonInvalidCredentials,
			wantMessage: "reads API keys only from namespaces", wantNoStripe: true,
		},
	}
	i := 0
	for name, tc := range cases {
		i++
		t.Run(name, func(t *testing.T) {
			emu := emulator.Start(t, emulator.Options{})
			secretNS := tc.secretNS
			if secretNS == "" {
				secretNS = controllertest.SecretNamespace
			}
			connName := fmt.Sprintf("verify-%d-%s", i, ns)
			ensureNamespace(t, controllertest.SecretNamespace)
			if !tc.noSecret {
				secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: secretNS, Name: connName}, StringData: map[string]string{"apiKey": tc.key}}
				if err := env.Client.Create(context.Background(), secret); err != nil {
					t.Fatal(err)
				}
			}
			connection := &v1alpha1.StripeConnection{
				ObjectMeta: metav1.ObjectMeta{Name: connName},
				Spec: v1alpha1.StripeConnectionSpec{
					SecretRef: v1alpha1.SecretKeySelector{Namespace: secretNS, Name: connName, Key: "apiKey"},
					Mode:      v1alpha1.StripeModeTest, Region: v1alpha1.RegionEU,
					AllowedNamespaces: &metav1.LabelSelector{}, APIBaseURL: emu.URL,
				},
			}
			if err := env.Client.Create(context.Background(), connection); err != nil {
				t.Fatal(err)
			}
			controllertest.WaitForCondition(t, env.Client, connection, v1alpha1.ConditionReady, tc.wantReady, tc.wantReason)
			ready := findCondition(connection, v1alpha1.ConditionReady)
			if !strings.Contains(ready.Message, tc.wantMessage) {
				t.Errorf("Ready message %q, want it to mention %q", ready.Message, tc.wantMessage)
			}
			if tc.wantNoStripe && emu.Stats().Requests["GET /v1/account"] != 0 {
				t.Errorf("the key was sent to Stripe although it could be refused locally")
			}
			if tc.wantReady == metav1.ConditionTrue {
				if connection.Status.AccountID != emu.PlatformAccount() || connection.Status.Livemode || connection.Status.Region != v1alpha1.RegionEU {
					t.Errorf("status %+v, want account %s, test mode, region eu", connection.Status, emu.PlatformAccount())
				}
			}
		})
	}
}

// Pins: a connection waiting for its Secret becomes Ready as soon as the Secret appears (the Secret
// is watched), and a rotated key is verified again.
func TestSecretIsWatched(t *testing.T) {
	ns := controllertest.Namespace(t, env, nil)
	controllertest.StartManager(t, env, controllertest.ManagerOptions{Namespace: ns})
	emu := emulator.Start(t, emulator.Options{})
	ensureNamespace(t, controllertest.SecretNamespace)
	connection := &v1alpha1.StripeConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "watched-" + ns},
		Spec: v1alpha1.StripeConnectionSpec{
			SecretRef: v1alpha1.SecretKeySelector{Namespace: controllertest.SecretNamespace, Name: "watched-" + ns, Key: "apiKey"},
			Mode:      v1alpha1.StripeModeTest, Region: v1alpha1.RegionUS, AllowedNamespaces: &metav1.LabelSelector{}, APIBaseURL: emu.URL,
		},
	}
	if err := env.Client.Create(context.Background(), connection); err != nil {
		t.Fatal(err)
	}
	controllertest.WaitForCondition(t, env.Client, connection, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidCredentials)

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: controllertest.SecretNamespace, Name: "watched-" + ns}, StringData: map[string]string{"apiKey": "sk_live_wrong_mode"}}
	if err := env.Client.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
		return messageContains(t, connection, "live-mode key")
	})
	secret.StringData = map[string]string{"apiKey": "sk_test_rotated"}
	if err := env.Client.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	controllertest.WaitForCondition(t, env.Client, connection, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
}

func messageContains(t *testing.T, connection *v1alpha1.StripeConnection, want string) error {
	t.Helper()
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(connection), connection); err != nil {
		return err
	}
	if c := findCondition(connection, v1alpha1.ConditionReady); c == nil || !strings.Contains(c.Message, want) {
		return fmt.Errorf("Ready condition %+v does not mention %q", c, want)
	}
	return nil
}

func findCondition(connection *v1alpha1.StripeConnection, conditionType string) *metav1.Condition {
	for i := range connection.Status.Conditions {
		if connection.Status.Conditions[i].Type == conditionType {
			return &connection.Status.Conditions[i]
		}
	}
	return nil
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// Pins in-use protection: a deleted connection stays, saying who uses it, until the last object that
// references it is gone, so those objects can still reach Stripe to clean up.
func TestDeletionWaitsForUsers(t *testing.T) {
	ns := controllertest.Namespace(t, env, nil)
	controllertest.StartManager(t, env, controllertest.ManagerOptions{Namespace: ns})
	emu := emulator.Start(t, emulator.Options{})
	connection := controllertest.Connection(t, env.Client, "in-use-"+ns, emu.URL, controllertest.ConnectionOptions{})
	plan := &v1alpha1.BillingPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "user"},
		Spec: v1alpha1.BillingPlanSpec{
			ManagedSpec: v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: connection.Name}},
			Product:     v1alpha1.Product{Name: "Uses the connection"},
		},
	}
	if err := env.Client.Create(context.Background(), plan); err != nil {
		t.Fatal(err)
	}
	controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionReady, metav1.ConditionTrue, "")

	if err := env.Client.Delete(context.Background(), connection); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(connection), connection); err != nil {
			return err
		}
		synced := findCondition(connection, v1alpha1.ConditionSynced)
		if synced == nil || synced.Reason != v1alpha1.ReasonDeleting || !strings.Contains(synced.Message, "BillingPlan "+ns+"/user") {
			return fmt.Errorf("Synced %+v does not name the plan that uses the connection", synced)
		}
		return nil
	})

	// The plan's own deletion still reaches Stripe (it archives its product), then the connection goes.
	if err := env.Client.Delete(context.Background(), plan); err != nil {
		t.Fatal(err)
	}
	controllertest.Gone(t, env.Client, plan)
	controllertest.Gone(t, env.Client, connection)
}
