// The relay's RBAC, from which `make manifests` generates config/relay/rbac/role.yaml (ClusterRole
// relay-role; the ServiceAccount and the binding are written by hand next to it).
//
// The relay only reads from the API server. It never writes anything, not even status: the operator
// stays the only writer of every payments.cloudip.io object and of every Secret.
//
//   - StripeWebhookEndpoints, StripeConnections and StripeTenants: which endpoints exist (the intake
//     route /stripe/{namespace}/{endpoint}), the connection's mode (livemode must match) and API-key
//     Secret, and which tenant a connected account's event belongs to.
//   - Secrets: the signing secrets the operator writes in the endpoints' namespaces, and the API keys
//     (in --secret-namespaces) for backfill from /v1/events. watch, not only get, because the relay
//     answers from an informer cache: a rotated signing secret or API key is picked up without a
//     restart, and a request never waits on the API server. The relay's informer lists and watches only
//     Secrets labelled app.kubernetes.io/managed-by=stripe-operator (those the operator writes); RBAC
//     cannot grant by label, so the rule itself covers every Secret in the cluster. It is cluster-wide
//     because a StripeWebhookEndpoint may live in any namespace.
//
// No leases: the relay runs as one replica (SQLite has one writer), so there is no leader election.
//
// +kubebuilder:rbac:groups=payments.cloudip.io,resources=stripewebhookendpoints;stripeconnections;stripetenants,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch

package main
