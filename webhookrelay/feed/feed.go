// Package feed is the operator notifier's wire: the relay serves, from its store, the stored events
// that concern objects the operator owns (GET /notifications, a long poll), and the manager's leader
// follows it and nudges the owning resources (Follower).
//
// Why the manager pulls rather than the relay pushing: only the elected leader reconciles, and it
// alone follows the feed, so no notification lands on a replica that would drop it; the cursor is the
// store's arrival order (store.Event.Seq), so a relay restart loses no place, and a manager restart
// needs none (on start it observes every object anyway). The feed never writes to the Kubernetes API:
// the operator stays the only writer of status, and etcd is never the event queue.
package feed

import (
	"time"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// Path is where the relay serves the feed (on its internal port).
const Path = "/notifications"

// Notification is one stored Stripe event, reduced to what finds its owner.
type Notification struct {
	// Seq is the event's place in the store (the cursor: ask for after=Seq next).
	Seq       int64  `json:"seq"`
	EventID   string `json:"eventID"`
	EventType string `json:"eventType"`
	// Endpoint is the relay endpoint (namespace/name of the StripeWebhookEndpoint) it came through.
	Endpoint string `json:"endpoint"`
	// Account is the connected account the event happened in ("" for the platform's own).
	Account    string `json:"account,omitempty"`
	Livemode   bool   `json:"livemode"`
	ObjectType string `json:"objectType"`
	ObjectID   string `json:"objectID"`
	// Customer is data.object.customer (an invoice's or a subscription's customer).
	Customer string `json:"customer,omitempty"`
	// OwnerKind, OwnerName and OwnerUID are the operator's tags on the object (cloudip_kind,
	// cloudip_name as namespace/name, cloudip_uid), when it has them.
	OwnerKind string    `json:"ownerKind,omitempty"`
	OwnerName string    `json:"ownerName,omitempty"`
	OwnerUID  string    `json:"ownerUID,omitempty"`
	Created   time.Time `json:"created"`
}

// Page is the feed's answer.
type Page struct {
	// Next is the cursor to ask with next: the Seq of the last event read (also when none of them
	// concerned the operator), or, for a first request without a cursor, the newest Seq stored.
	Next          int64          `json:"next"`
	Notifications []Notification `json:"notifications"`
}

// ownedObjectTypes are the Stripe object types the operator owns (or that belong to one it owns:
// a capability or a bank account of a connected account, an invoice of a subscription). Other events
// (charges, payouts, …) are for the platform's modules, through the sinks.
var ownedObjectTypes = map[string]bool{
	"account": true, "capability": true, "bank_account": true, "person": true,
	"product": true, "price": true,
	"customer": true, "subscription": true, "invoice": true,
	"webhook_endpoint": true,
}

// notificationOf turns a stored event into a Notification, or reports false for an event that starts
// nothing: about an object the operator does not own, or the echo of the operator's own write (the
// request carried one of its idempotency keys; it knows what it wrote).
func notificationOf(stored store.Event) (Notification, bool) {
	ev, err := stripeapi.DecodeEvent(stored.Payload)
	if err != nil || !ownedObjectTypes[ev.ObjectType] || ev.CausedByOperator() {
		return Notification{}, false
	}
	return Notification{
		Seq:        stored.Seq,
		EventID:    ev.ID,
		EventType:  ev.Type,
		Endpoint:   stored.Endpoint,
		Account:    ev.Account,
		Livemode:   ev.Livemode,
		ObjectType: ev.ObjectType,
		ObjectID:   ev.ObjectID,
		Customer:   ev.ObjectCustomer,
		OwnerKind:  ev.ObjectMetadata[stripeapi.MetadataKeyKind],
		OwnerName:  ev.ObjectMetadata[stripeapi.MetadataKeyName],
		OwnerUID:   ev.ObjectMetadata[stripeapi.MetadataKeyUID],
		Created:    ev.Created,
	}, true
}
