/*
Copyright 2026 CloudIP.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package smoke

import (
	"context"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// TestExplain checks that kubectl explain shows the field descriptions written in the API types.
func TestExplain(t *testing.T) {
	cases := []struct {
		field string
		want  []string
	}{
		{"billingplans.spec.prices.currency", []string{"three-letter ISO 4217 currency code in lowercase"}},
		{"billingplans.spec.prices.recurring.intervalCount", []string{"at most one year"}},
		{"billingplans.spec.product.metadata", []string{"at most 45 keys", "cloudip_"}},
		{"billingplans.status.prices", []string{"current Stripe prices, by key"}},
		{"stripetenants.spec.dataResidency", []string{"Immutable", "us, eu or ap"}},
		{"stripetenants.spec.account.capabilities", []string{"card_payments"}},
		{"stripetenants.spec.account.metadata", []string{"identifiers only", "cloudip_"}},
		{"stripetenants.status.requirements.currentlyDue", []string{"needed now"}},
		{"stripetenants.spec.deletionPolicy", []string{"Delete", "Orphan for a StripeTenant"}},
		{"billingplans.spec.deletionPolicy", []string{"Delete for every other kind"}},
		{"stripetenants.spec.onboarding.refreshURL", []string{"payments.cloudip.io/onboarding-link-requested-at"}},
		{"stripetenants.spec.onboarding.linkSecretName", []string{"<tenant name>-onboarding-link", "bearer credentials"}},
		{"stripetenants.spec.subscription.prorationBehavior", []string{"create_prorations", "always_invoice"}},
		{"stripetenants.spec.subscription.collectionMethod", []string{"charge_automatically", "send_invoice"}},
		{"stripetenants.spec.subscription.daysUntilDue", []string{"Required with collectionMethod send_invoice, and only then"}},
		{"stripetenants.spec.subscription.pinPrice", []string{"follows the key"}},
		{"stripetenants.spec.subscription.trialPeriodDays", []string{"Only used when the subscription is created"}},
		{"stripetenants.spec.subscriptionCancellation", []string{"AtPeriodEnd", "Immediately"}},
		{"stripetenants.status.onboardingLink", []string{"the Secret holding it"}},
		{"stripetenants.status.requirements.disabledReason", []string{"Stripe's free string"}},
		{"stripetenants.status.requirements.pendingVerification", []string{"being verified"}},
		{"stripetenants.status.latestInvoice", []string{"amount due"}},
		{"billingplans.status.accountID", []string{"for the platform account"}},
		{"stripeconnections.spec.allowedNamespaces", []string{"{} allows every namespace"}},
		{"stripeconnections.spec.rateLimit", []string{"25 requests/s in test mode"}},
		{"stripewebhookendpoints.spec.secretName", []string{"only once"}},
		{"stripewebhookendpoints.spec.enabledEvents", []string{"event types"}},
		{"stripeeventsinks.spec.format", []string{"ledger"}},
		{"stripeeventsinks.spec.signingSecretRef", []string{"separated by white space", "webhook-signature"}},
		{"stripeeventsinks.spec.delivery.retryHorizon", []string{"dead-lettered", "72h"}},
		{"stripeeventsinks.status.oldestPendingAt", []string{"lag is now minus this"}},
		{"stripeeventsinks.status", []string{"written by the webhook relay, not the operator"}},
		{"stripeeventreplays.spec", []string{"Immutable", "one-time request"}},
		{"stripeeventreplays.spec.selection", []string{"DeadLettered", "delivered or not"}},
		{"stripemirrors.spec.connectionRef", []string{"Immutable", "whose dataResidency is this mirror's region"}},
		{"stripemirrors.spec.region", []string{"Immutable", "never holds two regions' rows"}},
		{"stripemirrors.spec.database.schema", []string{"the relay creates it", "Immutable"}},
		{"stripemirrors.spec.database.urlSecretRef", []string{"PostgreSQL connection URL", "CREATE on the database"}},
		{"stripemirrors.spec.objectTypes", []string{"Empty means all of them"}},
		{"stripemirrors.spec.revalidation.interval", []string{"1m to 168h"}},
		{"stripemirrors.spec.revalidation.sampleSize", []string{"0 turns revalidation off"}},
		{"stripemirrors.status", []string{"written by the webhook relay"}},
		{"stripemirrors.status.appliedSeq", []string{"the mirror's cursor"}},
		{"stripemirrors.status.lagSeconds", []string{"0: caught up"}},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			out, err := env.Kubectl("explain", tc.field)
			if err != nil {
				t.Fatal(err)
			}
			// kubectl wraps descriptions: compare with runs of white space collapsed.
			flat := strings.Join(strings.Fields(out), " ")
			for _, w := range tc.want {
				if !strings.Contains(flat, w) {
					t.Errorf("kubectl explain %s lacks %q:\n%s", tc.field, w, out)
				}
			}
		})
	}
}

// TestExplainRemoved checks that fields taken out of the API stay out: onboarding links are bearer
// credentials and live only in a Secret, never in status.
func TestExplainRemoved(t *testing.T) {
	for _, field := range []string{"stripetenants.status.onboardingURL", "stripetenants.status.onboardingURLExpiresAt"} {
		t.Run(field, func(t *testing.T) {
			out, err := env.Kubectl("explain", field)
			if err == nil {
				t.Fatalf("kubectl explain %s succeeded; the field must not exist:\n%s", field, out)
			}
			if !strings.Contains(err.Error(), "does not exist") {
				t.Errorf("kubectl explain %s failed, but not for a missing field: %v", field, err)
			}
		})
	}
}

// TestEveryFieldDescribed walks every CRD schema: each property must carry a description, so kubectl
// explain never shows an empty one.
func TestEveryFieldDescribed(t *testing.T) {
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := env.Client.List(context.Background(), &crds); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, crd := range crds.Items {
		if crd.Spec.Group != "payments.cloudip.io" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			var missing []string
			root := v.Schema.OpenAPIV3Schema.DeepCopy()
			// The API server owns metadata's schema (ObjectMeta); CRDs carry only "type: object" for it.
			delete(root.Properties, "metadata")
			walkSchema(crd.Spec.Names.Plural, root, &missing, &checked)
			sort.Strings(missing)
			for _, m := range missing {
				t.Errorf("%s has no description", m)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("walked only %d fields: is the schema there?", checked)
	}
	t.Logf("%d fields, all described", checked)
}

func walkSchema(path string, s *apiextensionsv1.JSONSchemaProps, missing *[]string, checked *int) {
	if s == nil {
		return
	}
	for name, p := range s.Properties {
		child := path + "." + name
		*checked++
		if strings.TrimSpace(p.Description) == "" {
			*missing = append(*missing, child)
		}
		walkSchema(child, &p, missing, checked)
	}
	if s.Items != nil && s.Items.Schema != nil {
		walkSchema(path+"[]", s.Items.Schema, missing, checked)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		walkSchema(path+"{}", s.AdditionalProperties.Schema, missing, checked)
	}
}
