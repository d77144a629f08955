package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
)

// nudge asks the operator for a pass now (what the relay's feed or a person does after news from
// Stripe), so a test need not wait for the onboarding recheck.
func nudge(r *controllertest.Rig, obj *v1alpha1.StripeTenant, why string) {
	r.Update(obj, func() {
		if obj.Annotations == nil {
			obj.Annotations = map[string]string{}
		}
		obj.Annotations["payments.cloudip.io/reconcile-requested-at"] = why
	})
}

// matchLines fails unless every pattern matches a line of out.
func matchLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		if !slices.ContainsFunc(lines, re.MatchString) {
			t.Errorf("no line matches %s in:\n%s", p, out)
		}
	}
}

// cols is a pattern for a row: its cells separated by the tree's column padding.
func cols(cells ...string) string {
	quoted := make([]string, len(cells))
	for i, c := range cells {
		quoted[i] = regexp.QuoteMeta(c)
	}
	return strings.Join(quoted, `\s+`)
}

// Pins `kubectl stripe status` of a tenant through onboarding, on the real operator and Stripe
// emulator: at each stage the tree shows the account with its capabilities, its requirements (due,
// past due, the deadline) and the onboarding link, the connection's Ready, and the next: line says
// what to do: get a link and send it while onboarding is incomplete, wait while Stripe verifies,
// the Dashboard when Stripe collects an Express account's later requirements. -o json carries the
// same tree and next step.
func TestStatusTenantOnboarding(t *testing.T) {
	r := controllertest.NewRig(t, env, controllertest.RigOptions{})
	tenant := r.Tenant("acme")
	r.Create(tenant)
	controllertest.WaitForCondition(t, env.Client, tenant, v1alpha1.ConditionOnboardingComplete, metav1.ConditionFalse, v1alpha1.ReasonRequirementsDue)
	account := tenant.Status.AccountID
	deadline := time.Now().Add(72 * time.Hour).Truncate(time.Second).UTC()
	link := fmt.Sprintf("run `kubectl stripe link tenant/acme -n %s` and send the link to the tenant", r.NS)
	common := []string{
		"^StripeTenant/acme: namespace " + regexp.QuoteMeta(r.NS) + "$",
		cols("├─ Ready", "False", "ActionRequired", "the account cannot take charges or receive payouts yet"),
		cols("├─ Synced", "True", "Available", "Stripe matches the spec"),
		cols("├─ ChargesEnabled", "False", "Disabled"),
		cols("card_payments", ""), cols("transfers", ""), cols("us_bank_account_ach_payments", ""),
		regexp.QuoteMeta("├─ Subscription: none (no spec.subscription)"),
		cols("└─ StripeConnection/"+r.Connection, "True", "Available"),
	}
	for _, stage := range []struct {
		name string
		// act moves the account on in Stripe; reached says the operator has reported it.
		act     func() error
		reached func(t *v1alpha1.StripeTenant) bool
		lines   func(t *v1alpha1.StripeTenant) []string
		next    func(t *v1alpha1.StripeTenant) string
	}{
		{
			name:    "new account: everything due, get a link",
			act:     func() error { return nil },
			reached: func(*v1alpha1.StripeTenant) bool { return true },
			lines: func(t *v1alpha1.StripeTenant) []string {
				return []string{
					regexp.QuoteMeta("├─ Account " + account + ": express; charges disabled, payouts disabled, details not submitted"),
					cols("OnboardingComplete", "False", "RequirementsDue", "onboarding not finished"),
					cols("card_payments", "inactive"),
					regexp.QuoteMeta(fmt.Sprintf("Requirements: %d currently due", len(t.Status.Requirements.CurrentlyDue))),
					regexp.QuoteMeta("currently due: " + strings.Join(t.Status.Requirements.CurrentlyDue, ", ")),
					regexp.QuoteMeta("Onboarding link: none requested (Secret acme-onboarding-link when one is)"),
				}
			},
			next: func(t *v1alpha1.StripeTenant) string {
				return fmt.Sprintf("onboarding incomplete (%s due): %s", count(dueFields(t), "field"), link)
			},
		},
		{
			name: "a deadline comes: shown, and in the next step",
			act: func() error {
				_, err := r.Emu.SetRequirementsDue(account, emulator.RequirementsDue{Fields: []string{"individual.verification.document"}, Deadline: deadline})
				return err
			},
			reached: func(t *v1alpha1.StripeTenant) bool {
				return t.Status.Requirements.CurrentDeadline != nil && t.Status.Requirements.CurrentDeadline.Time.Equal(deadline)
			},
			lines: func(*v1alpha1.StripeTenant) []string {
				return []string{regexp.QuoteMeta("deadline: " + deadline.Format(time.RFC3339)), "currently due: .*individual.verification.document"}
			},
			next: func(t *v1alpha1.StripeTenant) string {
				return fmt.Sprintf("onboarding incomplete (%s due by %s): %s", count(dueFields(t), "field"), deadline.Format(time.RFC3339), link)
			},
		},
		{
			name:    "submitted: Stripe verifies, wait",
			act:     func() error { _, err := r.Emu.SubmitOnboarding(account); return err },
			reached: reason(v1alpha1.ReasonPendingVerification),
			lines: func(t *v1alpha1.StripeTenant) []string {
				return []string{
					regexp.QuoteMeta("├─ Account " + account + ": express; charges disabled, payouts disabled, details submitted"),
					cols("card_payments", "pending"),
					regexp.QuoteMeta("pending verification: " + strings.Join(t.Status.Requirements.PendingVerification, ", ")),
				}
			},
			next: func(t *v1alpha1.StripeTenant) string {
				return fmt.Sprintf("Stripe is verifying %s: nothing to do but wait (`kubectl wait -n %s --for=condition=ChargesEnabled stripetenant/acme`)",
					count(len(t.Status.Requirements.PendingVerification), "field"), r.NS)
			},
		},
		{
			name: "verified, then past due: restricted; Stripe collects an Express account's requirements",
			act: func() error {
				if _, err := r.Emu.CompleteOnboarding(account); err != nil {
					return err
				}
				_, err := r.Emu.SetRequirementsDue(account, emulator.RequirementsDue{Fields: []string{"company.tax_id"}, PastDue: true, Deadline: time.Now().Add(-time.Hour)})
				return err
			},
			reached: reason(v1alpha1.ReasonRequirementsPastDue),
			lines: func(*v1alpha1.StripeTenant) []string {
				return []string{
					cols("OnboardingComplete", "False", "RequirementsPastDue"),
					"past due: company.tax_id$", `deadline: .* \(passed\)$`,
				}
			},
			next: func(*v1alpha1.StripeTenant) string {
				return "requirements past due, the account is restricted (1 field past due): Stripe collects this account's requirements, so there is no update link: the tenant gives them in its Stripe Dashboard"
			},
		},
	} {
		t.Run(stage.name, func(t *testing.T) {
			r := r.In(t)
			if err := stage.act(); err != nil {
				t.Fatal(err)
			}
			nudge(r, tenant, stage.name)
			controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
				r.Get(tenant)
				if synced := tenantCondition(tenant, v1alpha1.ConditionSynced); synced == nil || synced.ObservedGeneration != tenant.Generation || !stage.reached(tenant) {
					return fmt.Errorf("not reported yet: %+v", tenant.Status.Requirements)
				}
				return nil
			})
			out := mustPlugin(t, "status", "tenant/acme", "-n", r.NS)
			t.Logf("kubectl stripe status tenant/acme -n %s\n%s", r.NS, out)
			matchLines(t, out, append(common[:len(common):len(common)], stage.lines(tenant)...)...)
			if got, want := nextLine(t, out), "next: "+stage.next(tenant); got != want {
				t.Errorf("next line:\n got %s\nwant %s", got, want)
			}
			if strings.Contains(out, "\x1b[") {
				t.Error("colours in output that is not a terminal")
			}

			var report report
			if err := json.Unmarshal([]byte(mustPlugin(t, "status", "stripetenant", "acme", "-n", r.NS, "-o", "json")), &report); err != nil {
				t.Fatal(err)
			}
			if report.Kind != kindTenant || report.Name != "acme" || report.Namespace != r.NS || "next: "+report.Next != nextLine(t, out) {
				t.Errorf("json report %s %s/%s next %q, want the text's", report.Kind, report.Namespace, report.Name, report.Next)
			}
			if !slices.ContainsFunc(report.Tree.Children, func(n *node) bool { return n.Label == "Account "+account }) {
				t.Errorf("json tree lacks the account: %+v", report.Tree.Children)
			}
		})
	}
}

// dueFields is what a tenant not done onboarding has due: currently and past due, each field once.
func dueFields(t *v1alpha1.StripeTenant) int {
	fields := append(append([]string{}, t.Status.Requirements.CurrentlyDue...), t.Status.Requirements.PastDue...)
	slices.Sort(fields)
	return len(slices.Compact(fields))
}

func reason(want string) func(t *v1alpha1.StripeTenant) bool {
	return func(t *v1alpha1.StripeTenant) bool {
		c := tenantCondition(t, v1alpha1.ConditionOnboardingComplete)
		return c != nil && c.Reason == want
	}
}

func tenantCondition(t *v1alpha1.StripeTenant, conditionType string) *metav1.Condition {
	for i := range t.Status.Conditions {
		if t.Status.Conditions[i].Type == conditionType {
			return &t.Status.Conditions[i]
		}
	}
	return nil
}
