package main

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

func condition(conditionType string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: conditionType, Status: status, Reason: reason, Message: message}
}

// onboardingTenant is tenant acme of namespace demo at generation 1, in sync, its Express account
// created and nothing submitted yet: what the operator reports of a new tenant.
func onboardingTenant(mutate func(t *v1alpha1.StripeTenant)) *v1alpha1.StripeTenant {
	t := &v1alpha1.StripeTenant{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "acme", Generation: 1},
		Spec: v1alpha1.StripeTenantSpec{
			Account:    v1alpha1.TenantAccount{Type: v1alpha1.AccountTypeExpress, Country: "US"},
			Onboarding: &v1alpha1.Onboarding{ReturnURL: "https://x.example/done", RefreshURL: "https://x.example/again"},
		},
		Status: v1alpha1.StripeTenantStatus{
			ManagedStatus: v1alpha1.ManagedStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
				condition("Ready", "False", v1alpha1.ReasonActionRequired, "the account cannot take charges or receive payouts yet"),
				condition("Synced", "True", v1alpha1.ReasonReconcileSuccess, ""),
				condition("OnboardingComplete", "False", v1alpha1.ReasonRequirementsDue, "onboarding not finished"),
			}},
			AccountID: "acct_1", AccountType: "express",
			Requirements: &v1alpha1.AccountRequirements{CurrentlyDue: []string{"business_type", "external_account", "tos_acceptance.date"}},
		},
	}
	if mutate != nil {
		mutate(t)
	}
	return t
}

func setCondition(t *v1alpha1.StripeTenant, c metav1.Condition) {
	for i := range t.Status.Conditions {
		if t.Status.Conditions[i].Type == c.Type {
			t.Status.Conditions[i] = c
			return
		}
	}
	t.Status.Conditions = append(t.Status.Conditions, c)
}

var readyConnection = &connState{Name: "platform", Found: true, Ready: &metav1.Condition{Type: "Ready", Status: "True", Reason: v1alpha1.ReasonAvailable}}

// Pins the "next:" line of a tenant, one case per thing a person may have to do, most urgent first:
// what blocks the tenant (deletion, pause, a failed pass by its reason, its connection, a status not
// yet of this generation) before what its onboarding or subscription needs, and "nothing to do"
// only when it is Ready. The link command is suggested only where the operator would make a link.
func TestTenantNext(t *testing.T) {
	deadline := metav1.NewTime(time.Date(2026, 5, 7, 10, 0, 0, 0, time.UTC))
	now := metav1.NewTime(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
	link := "run `kubectl stripe link tenant/acme -n demo` and send the link to the tenant"
	for _, c := range []struct {
		name   string
		tenant *v1alpha1.StripeTenant
		conn   *connState
		want   string
	}{
		{name: "new account: onboarding, with a link", tenant: onboardingTenant(nil),
			want: "onboarding incomplete (3 fields due): " + link},
		{name: "no spec.onboarding: set it first", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) { t.Spec.Onboarding = nil }),
			want: "onboarding incomplete (3 fields due): set spec.onboarding (returnURL, refreshURL), then " + link},
		{name: "submitted: wait for Stripe", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			t.Status.DetailsSubmitted = true
			t.Status.Requirements = &v1alpha1.AccountRequirements{PendingVerification: []string{"individual.id_number"}}
			setCondition(t, condition("OnboardingComplete", "False", v1alpha1.ReasonPendingVerification, ""))
		}), want: "Stripe is verifying 1 field: nothing to do but wait (`kubectl wait -n demo --for=condition=ChargesEnabled stripetenant/acme`)"},
		{name: "custom account, due later with a deadline: an update link", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			t.Status.DetailsSubmitted, t.Status.AccountType = true, "custom"
			t.Status.Requirements = &v1alpha1.AccountRequirements{CurrentlyDue: []string{"individual.verification.document"}, CurrentDeadline: &deadline}
		}), want: "requirements due (1 field due by 2026-05-07T10:00:00Z): " + link},
		{name: "custom account past due: restricted, an update link", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			t.Status.DetailsSubmitted, t.Status.AccountType = true, "custom"
			t.Status.Requirements = &v1alpha1.AccountRequirements{CurrentlyDue: []string{"a", "b"}, PastDue: []string{"a", "b"}, CurrentDeadline: &now,
				Errors: []v1alpha1.RequirementError{{Requirement: "a", Code: "invalid", Reason: "the document is blurred"}}}
			setCondition(t, condition("OnboardingComplete", "False", v1alpha1.ReasonRequirementsPastDue, ""))
		}), want: "requirements past due, the account is restricted (2 fields past due): " + link + "; Stripe could not verify a: the document is blurred"},
		{name: "express account due after onboarding: no update link, the Dashboard", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			t.Status.DetailsSubmitted = true
			t.Status.Requirements = &v1alpha1.AccountRequirements{CurrentlyDue: []string{"individual.verification.document"}}
		}), want: "requirements due (1 field due): Stripe collects this account's requirements, so there is no update link: the tenant gives them in its Stripe Dashboard"},
		{name: "onboarded, subscription unpaid", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			setCondition(t, condition("OnboardingComplete", "True", v1alpha1.ReasonOnboardingComplete, ""))
			setCondition(t, condition("Ready", "True", v1alpha1.ReasonAvailable, "account acct_1 takes charges and receives payouts"))
			setCondition(t, condition("SubscriptionActive", "False", v1alpha1.ReasonSubscriptionPastDue, "subscription sub_1 is past due: in_1 is unpaid"))
		}), want: "subscription not paid: subscription sub_1 is past due: in_1 is unpaid"},
		{name: "all done", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			setCondition(t, condition("OnboardingComplete", "True", v1alpha1.ReasonOnboardingComplete, ""))
			setCondition(t, condition("Ready", "True", v1alpha1.ReasonAvailable, "account acct_1 takes charges and receives payouts"))
		}), want: "nothing to do: account acct_1 takes charges and receives payouts"},
		{name: "Terminal before onboarding", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			setCondition(t, condition("Synced", "False", v1alpha1.ReasonTerminal, `spec.subscription.priceKey "yearly" is not a price of BillingPlan pro`))
		}), want: `Terminal: fix the spec (nothing is retried until it changes): spec.subscription.priceKey "yearly" is not a price of BillingPlan pro`},
		{name: "connection missing", conn: &connState{Name: "platform"}, tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			setCondition(t, condition("Synced", "False", v1alpha1.ReasonConnectionNotReady, "StripeConnection platform not found"))
		}), want: "connection not Ready: StripeConnection/platform does not exist: create it, or fix spec.connectionRef"},
		{name: "connection not Ready, though the last pass went through", tenant: onboardingTenant(nil),
			conn: &connState{Name: "platform", Found: true, Ready: &metav1.Condition{Status: "False", Reason: v1alpha1.ReasonInvalidCredentials, Message: "Stripe refused the key"}},
			want: "connection not Ready: StripeConnection/platform is InvalidCredentials: Stripe refused the key; see `kubectl stripe status connection/platform`"},
		{name: "namespace not allowed", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			setCondition(t, condition("Synced", "False", v1alpha1.ReasonNamespaceNotAllowed, "StripeConnection platform does not allow namespace demo"))
		}), want: "connection not usable here: StripeConnection platform does not allow namespace demo; add namespace demo to spec.allowedNamespaces of StripeConnection/platform"},
		{name: "Stripe unwell", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			setCondition(t, condition("Synced", "False", v1alpha1.ReasonReconcileError, "429 Too Many Requests"))
		}), want: "retrying with backoff (1 s doubling to 5 min): 429 Too Many Requests; if it persists, Stripe or the network is unwell"},
		{name: "residency mismatch", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			setCondition(t, condition("Synced", "False", v1alpha1.ReasonResidencyMismatch, "dataResidency eu, connection region us"))
		}), want: "residency mismatch: dataResidency eu, connection region us; recreate the tenant on a connection of its region"},
		{name: "edited, not reconciled yet", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) { t.Generation = 2 }),
			want: "the operator has not reconciled generation 2 yet (the status is of generation 1): wait, or check that it runs"},
		{name: "paused", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			t.Annotations = map[string]string{v1alpha1.AnnotationPaused: "true"}
		}), want: "paused: no Stripe writes until the annotation goes: `kubectl annotate -n demo stripetenant/acme payments.cloudip.io/paused-`"},
		{name: "deletion blocked", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) {
			t.DeletionTimestamp = &now
			setCondition(t, condition("Synced", "False", v1alpha1.ReasonDeletionBlocked, "the account holds 1200 usd"))
		}), want: "deletion blocked: the account holds 1200 usd; pay out the balance, or set spec.deletionPolicy: Orphan"},
		{name: "never reconciled", tenant: onboardingTenant(func(t *v1alpha1.StripeTenant) { t.Status = v1alpha1.StripeTenantStatus{} }),
			want: "no status yet: the operator has not reconciled it; check that it runs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &describer{namespace: "demo", now: now.Time}
			conn := c.conn
			if conn == nil {
				conn = readyConnection
			}
			s := c.tenant.Status
			got := nextStep(d.situation(kindTenant, c.tenant, s.ObservedGeneration, s.Conditions, conn), func() string { return d.tenantNext(c.tenant) })
			if got != c.want {
				t.Errorf("next:\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

// Pins the "next:" line of the relay's kinds: a sink's dead letters get the replay command that
// sends them again, a failing receiver is named before them; a replay is followed to its end.
func TestRelayKindsNext(t *testing.T) {
	d := &describer{namespace: "demo"}
	sink := func(ready metav1.Condition, dead int64) *v1alpha1.StripeEventSink {
		return &v1alpha1.StripeEventSink{
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "orders", Generation: 1},
			Spec:       v1alpha1.StripeEventSinkSpec{URL: "https://ledger.example/stripe"},
			Status: v1alpha1.StripeEventSinkStatus{ManagedStatus: v1alpha1.ManagedStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{ready}},
				DeadLettered: dead},
		}
	}
	delivering := condition("Ready", "True", v1alpha1.ReasonDelivering, "5 delivered, 0 pending, 3 dead letters")
	replay := func(phase v1alpha1.ReplayPhase, message string) *v1alpha1.StripeEventReplay {
		r := &v1alpha1.StripeEventReplay{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "orders-replay-x", Generation: 1},
			Spec: v1alpha1.StripeEventReplaySpec{SinkRef: v1alpha1.LocalObjectReference{Name: "orders"}}}
		if phase != "" {
			r.Status = v1alpha1.StripeEventReplayStatus{ObservedGeneration: 1, Phase: phase, Message: message,
				Conditions: []metav1.Condition{condition("Complete", map[bool]metav1.ConditionStatus{true: "True", false: "False"}[phase == v1alpha1.ReplayPhaseComplete], "x", message)}}
		}
		return r
	}
	for _, c := range []struct {
		name string
		got  func() string
		want string
	}{
		{"sink with dead letters", func() string {
			k := sink(delivering, 3)
			return nextStep(d.situation(kindSink, k, 1, k.Status.Conditions, readyConnection), func() string { return d.sinkNext(k) })
		}, "3 dead letters: once the receiver takes them, replay them with `kubectl stripe replay sink/orders -n demo --from 720h` (the last 30 days)"},
		{"sink failing", func() string {
			k := sink(condition("Ready", "False", v1alpha1.ReasonDeliveryFailing, "5 deliveries failed in a row; last: 503"), 3)
			return nextStep(d.situation(kindSink, k, 1, k.Status.Conditions, readyConnection), func() string { return d.sinkNext(k) })
		}, "deliveries to https://ledger.example/stripe fail: 5 deliveries failed in a row; last: 503; fix the receiver (dead letters can be replayed once it works)"},
		{"sink the relay never saw", func() string {
			k := sink(delivering, 0)
			k.Status = v1alpha1.StripeEventSinkStatus{}
			return nextStep(d.situation(kindSink, k, 0, nil, readyConnection), func() string { return d.sinkNext(k) })
		}, "no status yet: the relay has not reconciled it; check that it runs"},
		{"replay complete", func() string {
			r := replay(v1alpha1.ReplayPhaseComplete, "2 dead letters of sink orders selected, 2 sent again with their original ids")
			return nextStep(d.situation(kindReplay, r, 1, r.Status.Conditions, nil), func() string { return d.replayNext(r) })
		}, "nothing to do: 2 dead letters of sink orders selected, 2 sent again with their original ids; the sink receives them at its own pace (`kubectl stripe status sink/orders -n demo`)"},
		{"replay failed", func() string {
			r := replay(v1alpha1.ReplayPhaseFailed, `StripeEventSink "orders" does not exist in demo`)
			return nextStep(d.situation(kindReplay, r, 1, r.Status.Conditions, nil), func() string { return d.replayNext(r) })
		}, `failed: StripeEventSink "orders" does not exist in demo; a replay is carried out once: fix the cause and create another`},
	} {
		if got := c.got(); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// mirroringMirror is mirror stripe-eu of namespace demo at generation 1 as the relay reports a
// healthy one: events applied, every account listed.
func mirroringMirror(mutate func(m *v1alpha1.StripeMirror)) *v1alpha1.StripeMirror {
	m := &v1alpha1.StripeMirror{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "stripe-eu", Generation: 1},
		Spec: v1alpha1.StripeMirrorSpec{ConnectionRef: v1alpha1.ConnectionReference{Name: "platform"}, Region: v1alpha1.RegionEU,
			Database: v1alpha1.MirrorDatabase{URLSecretRef: v1alpha1.LocalSecretKeySelector{Name: "reporting-db", Key: "url"}, Schema: "stripe_eu"}},
		Status: v1alpha1.StripeMirrorStatus{
			ManagedStatus: v1alpha1.ManagedStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
				condition("Ready", "True", v1alpha1.ReasonMirroring, "events applied up to seq 4812, lag 2s; 5120 rows"),
				condition("BackfillComplete", "True", v1alpha1.ReasonBackfilled, "3 accounts listed from Stripe: 5000 rows in 60 pages"),
			}},
			AppliedSeq: 4812, LagSeconds: 2, Rows: 5120,
		},
	}
	if mutate != nil {
		mutate(m)
	}
	return m
}

func setMirrorCondition(m *v1alpha1.StripeMirror, c metav1.Condition) {
	for i := range m.Status.Conditions {
		if m.Status.Conditions[i].Type == c.Type {
			m.Status.Conditions[i] = c
			return
		}
	}
	m.Status.Conditions = append(m.Status.Conditions, c)
}

// Pins the "next:" line of a mirror, most urgent first: its database (the Secret that names it,
// never the URL), a backfill Stripe refuses (its error; it resumes by itself), a lag past the
// StripeMirrorLagging alert's 10 minutes (the runbook), a backfill still running (kubectl wait), and
// "nothing to do" only when all is well; what blocks any kind (no status, its connection, an edit
// not yet seen by the relay) comes before.
func TestMirrorNext(t *testing.T) {
	d := &describer{namespace: "demo"}
	unreachable := condition("Ready", "False", v1alpha1.ReasonDatabaseUnavailable, "dial tcp 10.0.0.5:5432: connect: connection refused")
	failing := condition("BackfillComplete", "False", v1alpha1.ReasonBackfillFailing,
		"4 of 30 listings complete; retried from where it stopped: GET /v1/customers: 403 account_invalid: the account is not connected to your platform")
	backfilling := condition("BackfillComplete", "False", v1alpha1.ReasonBackfilling, "4 of 30 listings complete (1 of 3 accounts), 400 rows so far")
	for _, c := range []struct {
		name   string
		mirror *v1alpha1.StripeMirror
		conn   *connState
		want   string
	}{
		{name: "all good", mirror: mirroringMirror(nil),
			want: "nothing to do: events applied up to seq 4812, lag 2s; 5120 rows"},
		{name: "database unavailable: the Secret and the network", mirror: mirroringMirror(func(m *v1alpha1.StripeMirror) { setMirrorCondition(m, unreachable) }),
			want: "database unavailable: dial tcp 10.0.0.5:5432: connect: connection refused; check that key url of Secret reporting-db " +
				"(spec.database.urlSecretRef) holds a working URL and that the relay can reach the database; no event is skipped meanwhile"},
		{name: "database unavailable before a failing backfill", mirror: mirroringMirror(func(m *v1alpha1.StripeMirror) {
			setMirrorCondition(m, unreachable)
			setMirrorCondition(m, failing)
		}), want: "database unavailable: dial tcp 10.0.0.5:5432: connect: connection refused; check that key url of Secret reporting-db " +
			"(spec.database.urlSecretRef) holds a working URL and that the relay can reach the database; no event is skipped meanwhile"},
		{name: "backfill failing: Stripe's error, resumes by itself", mirror: mirroringMirror(func(m *v1alpha1.StripeMirror) { setMirrorCondition(m, failing) }),
			want: "backfill failing: listing from Stripe fails: GET /v1/customers: 403 account_invalid: the account is not connected to your platform; " +
				"once its cause is fixed (the connection's API key, the account), the listing resumes by itself from where it stopped"},
		{name: "backfilling: wait", mirror: mirroringMirror(func(m *v1alpha1.StripeMirror) { setMirrorCondition(m, backfilling) }),
			want: "backfilling (4 of 30 listings complete (1 of 3 accounts), 400 rows so far): nothing to do but wait " +
				"(`kubectl wait -n demo --for=condition=BackfillComplete smirror/stripe-eu`)"},
		{name: "lagging: the runbook", mirror: mirroringMirror(func(m *v1alpha1.StripeMirror) { m.Status.LagSeconds = 900 }),
			want: "lagging: the oldest event not yet applied is 15m old: see docs/runbook.md#stripemirrorlagging"},
		{name: "lagging before backfilling", mirror: mirroringMirror(func(m *v1alpha1.StripeMirror) {
			m.Status.LagSeconds = 3725
			setMirrorCondition(m, backfilling)
		}), want: "lagging: the oldest event not yet applied is 1h2m5s old: see docs/runbook.md#stripemirrorlagging"},
		{name: "10 minutes behind is not lagging yet", mirror: mirroringMirror(func(m *v1alpha1.StripeMirror) { m.Status.LagSeconds = 600 }),
			want: "nothing to do: events applied up to seq 4812, lag 2s; 5120 rows"},
		{name: "the relay never saw it", mirror: mirroringMirror(func(m *v1alpha1.StripeMirror) { m.Status = v1alpha1.StripeMirrorStatus{} }),
			want: "no status yet: the relay has not reconciled it; check that it runs"},
		{name: "edited, not seen by the relay yet", mirror: mirroringMirror(func(m *v1alpha1.StripeMirror) { m.Generation = 2 }),
			want: "the relay has not reconciled generation 2 yet (the status is of generation 1): wait, or check that it runs"},
		{name: "connection missing", mirror: mirroringMirror(func(m *v1alpha1.StripeMirror) { setMirrorCondition(m, backfilling) }), conn: &connState{Name: "platform"},
			want: "connection not Ready: StripeConnection/platform does not exist: create it, or fix spec.connectionRef"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := c.conn
			if conn == nil {
				conn = readyConnection
			}
			s := c.mirror.Status
			got := nextStep(d.situation(kindMirror, c.mirror, s.ObservedGeneration, s.Conditions, conn), func() string { return d.mirrorNext(c.mirror) })
			if got != c.want {
				t.Errorf("next:\n got %s\nwant %s", got, c.want)
			}
		})
	}
}
