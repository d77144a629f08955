package main

import (
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// readyRow is a referenced object's line: kind/name and its Ready condition.
func (d *describer) readyRow(kind, name string, obj client.Object, conditions func() []metav1.Condition) (*node, bool) {
	label := kind + "/" + name
	err := d.kube.Get(d.ctx, client.ObjectKey{Namespace: d.namespace, Name: name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		return row(label, "Missing", "NotFound", "no such "+kind), false
	case err != nil:
		return row(label, "Unknown", "", "cannot read it: "+err.Error()), false
	}
	c := meta.FindStatusCondition(conditions(), v1alpha1.ConditionReady)
	if c == nil {
		return row(label, "Unknown", "", "no status yet"), true
	}
	return row(label, string(c.Status), c.Reason, c.Message), true
}

// plan reports a BillingPlan: its product and prices (archived ones too), the tenant whose account
// it lives on (tenantRef) and its connection.
func (d *describer) plan(name string) (*node, string, error) {
	var p v1alpha1.BillingPlan
	if err := d.get(kindPlan, name, &p); err != nil {
		return nil, "", err
	}
	s := &p.Status
	tree := d.root(kindPlan, &p, s.ObservedGeneration).add(conditionRows(s.Conditions)...)
	where := "platform account"
	if s.AccountID != "" {
		where = "account " + s.AccountID
	}
	product := fact("Product", "not created yet")
	if s.ProductID != "" {
		product = fact("Product "+s.ProductID, fmt.Sprintf("%q on the %s", p.Spec.Product.Name, where))
	}
	made := map[string]bool{}
	for _, price := range s.Prices {
		made[price.Key] = true
		facts := []string{price.ID}
		if price.LookupKey != "" {
			facts = append(facts, "lookup key "+price.LookupKey)
		}
		facts = append(facts, yesNo(price.Active, "active", "inactive"))
		product.add(fact("Price "+price.Key, strings.Join(facts, ", ")))
	}
	for _, price := range p.Spec.Prices {
		if !made[price.Key] {
			product.add(fact("Price "+price.Key, "not created yet"))
		}
	}
	for _, price := range s.ArchivedPrices {
		product.add(fact("Archived price "+price.Key, price.ID))
	}
	tree.add(product)
	connection := connectionName(&p.Spec.ManagedSpec)
	if ref := p.Spec.TenantRef; ref != nil {
		var t v1alpha1.StripeTenant
		tenant, found := d.readyRow(kindTenant, ref.Name, &t, func() []metav1.Condition { return t.Status.Conditions })
		if found && t.Status.AccountID != "" {
			tenant.add(fact("Account "+t.Status.AccountID, "the plan lives on this connected account"))
		}
		tree.add(tenant)
		if connection == "" && found {
			connection = connectionName(&t.Spec.ManagedSpec)
		}
	}
	connRow, conn := d.connection(connection)
	tree.add(connRow)
	return tree, nextStep(d.situation(kindPlan, &p, s.ObservedGeneration, s.Conditions, conn), func() string { return "" }), nil
}

// connectionReport reports a StripeConnection: the platform account, its key's Secret, and the
// webhook endpoints spec.webhooks keeps.
func (d *describer) connectionReport(name string) (*node, string, error) {
	var c v1alpha1.StripeConnection
	if err := d.get(kindConnection, name, &c); err != nil {
		return nil, "", err
	}
	s := &c.Status
	tree := d.root(kindConnection, &c, s.ObservedGeneration).add(conditionRows(s.Conditions)...)
	if s.AccountID != "" {
		tree.add(fact("Account "+s.AccountID, connectionFacts(&c)))
	} else {
		tree.add(fact("Account", "not verified yet"))
	}
	ref := c.Spec.SecretRef
	tree.add(fact("API key", fmt.Sprintf("Secret %s/%s, key %s (%s mode)", ref.Namespace, ref.Name, ref.Key, c.Spec.Mode)))
	var notReady []string
	if w := c.Spec.Webhooks; w != nil {
		webhooks := fact("Webhooks", fmt.Sprintf("relay %s, endpoints in namespace %s", w.RelayURL, w.Namespace))
		endpoints := &describer{ctx: d.ctx, kube: d.kube, namespace: w.Namespace, now: d.now}
		for _, suffix := range []string{"-platform", "-connect"} {
			var e v1alpha1.StripeWebhookEndpoint
			endpoint, found := endpoints.readyRow(kindEndpoint, name+suffix, &e, func() []metav1.Condition { return e.Status.Conditions })
			if found && e.Status.EndpointID != "" {
				endpoint.add(fact("Endpoint "+e.Status.EndpointID, e.Status.URL))
			}
			if endpoint.Status != string(metav1.ConditionTrue) {
				notReady = append(notReady, fmt.Sprintf("`kubectl stripe status %s`", endpoints.ref(kindEndpoint, name+suffix)))
			}
			webhooks.add(endpoint)
		}
		tree.add(webhooks)
	}
	next := nextStep(d.situation(kindConnection, &c, s.ObservedGeneration, s.Conditions, nil), func() string {
		if len(notReady) > 0 {
			return "webhook endpoints not Ready: see " + strings.Join(notReady, " and ")
		}
		return ""
	})
	return tree, next, nil
}

// endpoint reports a StripeWebhookEndpoint: its Stripe endpoint, the Secret of its signing secret
// and a rotation under way.
func (d *describer) endpoint(name string) (*node, string, error) {
	var e v1alpha1.StripeWebhookEndpoint
	if err := d.get(kindEndpoint, name, &e); err != nil {
		return nil, "", err
	}
	s := &e.Status
	tree := d.root(kindEndpoint, &e, s.ObservedGeneration).add(conditionRows(s.Conditions)...)
	endpoint := fact("Endpoint", "not created yet")
	if s.EndpointID != "" {
		endpoint = fact("Endpoint "+s.EndpointID, fmt.Sprintf("%s, %s, %s", s.URL, count(len(e.Spec.EnabledEvents), "event type"),
			yesNo(e.Spec.Connect, "connected accounts' events", "the platform's events")))
	}
	secret := s.SecretName
	if secret == "" {
		secret = e.SigningSecretName()
	}
	key := s.SigningSecretKey
	if key == "" {
		key = v1alpha1.SigningSecretKey
	}
	endpoint.add(fact("Signing secret", fmt.Sprintf("Secret %s, key %s", secret, key)))
	if r := s.Rotation; r != nil {
		endpoint.add(fact("Rotation "+r.Request, fmt.Sprintf("previous endpoint %s (key %s) delivers too until %s",
			r.PreviousEndpointID, r.PreviousSecretKey, formatTime(&r.OverlapEndsAt))))
	}
	tree.add(endpoint)
	connRow, conn := d.connection(connectionName(&e.Spec.ManagedSpec))
	tree.add(connRow)
	return tree, nextStep(d.situation(kindEndpoint, &e, s.ObservedGeneration, s.Conditions, conn), func() string { return "" }), nil
}

// sink reports a StripeEventSink: the relay's delivery counts, lag and last error.
func (d *describer) sink(name string) (*node, string, error) {
	var k v1alpha1.StripeEventSink
	if err := d.get(kindSink, name, &k); err != nil {
		return nil, "", err
	}
	s := &k.Status
	tree := d.root(kindSink, &k, s.ObservedGeneration).add(conditionRows(s.Conditions)...)
	format := k.Spec.Format
	if format == "" {
		format = v1alpha1.SinkFormatEvents
	}
	types := "every event"
	if len(k.Spec.EventTypes) > 0 {
		types = strings.Join(k.Spec.EventTypes, ", ")
	}
	tree.add(fact("Receiver", fmt.Sprintf("%s, region %s, format %s, %s", k.Spec.URL, k.Spec.Region, format, types)))
	deliveries := fact("Deliveries", fmt.Sprintf("%d delivered, %d pending, %d retrying, %d dead letters", s.Delivered, s.Pending, s.Retrying, s.DeadLettered))
	if s.OldestPendingAt != nil {
		deliveries.add(fact("oldest pending", formatTime(s.OldestPendingAt)))
	}
	if s.LastDeliveredAt != nil {
		deliveries.add(fact("last delivered", formatTime(s.LastDeliveredAt)))
	}
	if s.LastError != "" {
		deliveries.add(fact("last error at "+formatTime(s.LastErrorAt), s.LastError))
	}
	tree.add(deliveries)
	tree.add(fact("Signing secret", fmt.Sprintf("Secret %s, key %s", k.Spec.SigningSecretRef.Name, k.Spec.SigningSecretRef.Key)))
	connRow, conn := d.connection(connectionName(&k.Spec.ManagedSpec))
	tree.add(connRow)
	next := nextStep(d.situation(kindSink, &k, s.ObservedGeneration, s.Conditions, conn), func() string { return d.sinkNext(&k) })
	return tree, next, nil
}

// sinkNext is what a sink the relay reports on needs: its secret, a working receiver, its dead
// letters replayed.
func (d *describer) sinkNext(k *v1alpha1.StripeEventSink) string {
	s := &k.Status
	ready := meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionReady)
	switch {
	case ready != nil && ready.Reason == v1alpha1.ReasonInvalidSecret:
		return "fix the signing secret: " + ready.Message
	case ready != nil && ready.Status != metav1.ConditionTrue:
		return fmt.Sprintf("deliveries to %s fail: %s; fix the receiver (dead letters can be replayed once it works)", k.Spec.URL, ready.Message)
	case s.DeadLettered > 0:
		return fmt.Sprintf("%s: once the receiver takes them, replay them with `kubectl stripe replay %s --from 720h` (the last 30 days)",
			count(int(s.DeadLettered), "dead letter"), d.ref(kindSink, k.Name))
	}
	return ""
}

// replay reports a StripeEventReplay: what it selected, what the relay requeued, and its sink.
func (d *describer) replay(name string) (*node, string, error) {
	var r v1alpha1.StripeEventReplay
	if err := d.get(kindReplay, name, &r); err != nil {
		return nil, "", err
	}
	s := &r.Status
	tree := d.root(kindReplay, &r, s.ObservedGeneration).add(conditionRows(s.Conditions)...)
	tree.add(fact("Selection", replaySelection(&r.Spec)))
	phase := string(s.Phase)
	if phase == "" {
		phase = string(v1alpha1.ReplayPhasePending)
	}
	result := fact("Phase "+phase, fmt.Sprintf("%d matched, %d requeued", s.Matched, s.Requeued))
	if s.CompletedAt != nil {
		result.Message += ", at " + formatTime(s.CompletedAt)
	}
	if s.Message != "" {
		result.add(fact("message", s.Message))
	}
	tree.add(result)
	var sink v1alpha1.StripeEventSink
	sinkRow, found := d.readyRow(kindSink, r.Spec.SinkRef.Name, &sink, func() []metav1.Condition { return sink.Status.Conditions })
	if found && len(sink.Status.Conditions) > 0 {
		sinkRow.add(fact("Deliveries", fmt.Sprintf("%d delivered, %d pending, %d retrying, %d dead letters",
			sink.Status.Delivered, sink.Status.Pending, sink.Status.Retrying, sink.Status.DeadLettered)))
	}
	tree.add(sinkRow)
	next := nextStep(d.situation(kindReplay, &r, s.ObservedGeneration, s.Conditions, nil), func() string { return d.replayNext(&r) })
	return tree, next, nil
}

// replayNext follows a replay to its end.
func (d *describer) replayNext(r *v1alpha1.StripeEventReplay) string {
	s := &r.Status
	switch s.Phase {
	case v1alpha1.ReplayPhaseComplete:
		return fmt.Sprintf("nothing to do: %s; the sink receives them at its own pace (`kubectl stripe status %s`)", s.Message, d.ref(kindSink, r.Spec.SinkRef.Name))
	case v1alpha1.ReplayPhaseFailed:
		return "failed: " + s.Message + "; a replay is carried out once: fix the cause and create another"
	}
	return "pending: wait for the relay to carry it out; check that the relay runs"
}

// replaySelection says in words what a replay selects.
func replaySelection(spec *v1alpha1.StripeEventReplaySpec) string {
	what := "dead letters"
	if spec.Selection == v1alpha1.ReplaySelectionAll {
		what = "every delivery"
	}
	if len(spec.EventIDs) > 0 {
		return fmt.Sprintf("%s among %s: %s", what, count(len(spec.EventIDs), "event"), strings.Join(spec.EventIDs, ", "))
	}
	return fmt.Sprintf("%s of events created from %s to %s", what, formatTime(spec.From), formatTime(spec.To))
}
