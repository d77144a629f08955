// The relay's RBAC, from which `make manifests` generates config/relay/rbac/role.yaml (ClusterRole
// relay-role; the ServiceAccount and the binding are written by hand next to it).
//
// The relay mostly reads from the API server. It writes only the status of StripeEventSinks and
// StripeEventReplays, which it owns (it delivers to sinks and carries out replays), and Kubernetes
// events; it never writes an operator-owned object (or its status), a spec, or a Secret: the operator
// stays the only writer of those.
//
//   - StripeWebhookEndpoints, StripeConnections and StripeTenants: which endpoints exist (the intake
//     route /stripe/{namespace}/{endpoint}), the connection's mode (livemode must match) and API-key
//     Secret, and which tenant a connected account's event belongs to.
//   - Secrets: the signing secrets the operator writes in the endpoints' namespaces (list and watch:
//     the relay answers from an informer cache, so a rotated signing secret is picked up without a
//     restart and a request never waits on the API server), the API keys (in --secret-namespaces) for
//     backfill from /v1/events, and the sinks' signing secrets (get, every 30 s). The informer lists
//     and watches only Secrets labelled payments.cloudip.io/secret-of=StripeWebhookEndpoint (never a
//     tenant's onboarding link); RBAC cannot grant by label, so the rule itself covers every Secret in
//     the cluster. It is cluster-wide because an endpoint or a sink may live in any namespace.
//   - StripeEventSinks (get, list, watch): where events are delivered, with what key and limits.
//   - StripeEventSinks/status (get, update, patch): the relay reports delivery counts, lag and errors.
//   - StripeEventReplays (get, list, watch): the replay requests people create, carried out once.
//   - StripeEventReplays/status (get, update, patch): the relay reports what a replay requeued.
//   - StripeMirrors (get, list, watch): the mirrors the relay keeps, and their database URL Secret (get).
//   - StripeMirrors/status (get, update, patch): the relay reports the mirror's cursor, lag, rows,
//     backfill and revalidation.
//   - events.k8s.io events (create, patch): the relay records a Kubernetes event when a replay completes.
//
// Leases (in the relay's namespace): with --leader-elect (several replicas on PostgreSQL), the
// replicas elect the one that backfills, reroutes, prunes and writes sink and replay status; the
// election records a core/v1 Event ("became leader") beside its Lease (found by the end-to-end tests,
// which run the relay as its ServiceAccount).
//
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripewebhookendpoints;stripeconnections;stripetenants,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripeeventsinks,verbs=get;list;watch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripeeventsinks/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripeeventreplays,verbs=get;list;watch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripeeventreplays/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripemirrors,verbs=get;list;watch
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripemirrors/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=stripe-operator-system,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",namespace=stripe-operator-system,resources=events,verbs=create;patch

package main
