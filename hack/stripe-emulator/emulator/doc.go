// Package emulator is a stateful, in-process emulator of the Stripe API
// (version 2023-10-16, the version stripe-go v76 pins) for the operator's
// tests, benchmarks and demo.
//
// # Shape of a request
//
// Every request to a /v1 path runs through one pipeline (pipeline.go):
//
//	count → latency/drop faults → authenticate (sk_test_ keys) → rate limit →
//	5xx / lock_timeout faults → route → Stripe-Account scope →
//	spec check (stripe-mock) → idempotency → handler (one store
//	transaction) → response (and optionally a dropped connection after it).
//
// The spec check runs the request through stripe-mock, which validates it
// against Stripe's published OpenAPI spec; the handlers then enforce the
// state rules stripe-mock cannot know (a price's lookup key is unique, a
// product with prices cannot be deleted, ...). Paths under /_emulator/ are the
// control API and never touch that pipeline.
//
// # State
//
// All Stripe objects live in a [Store]: one scope per account (the platform
// account and every connected account), one collection per object kind,
// objects kept as JSON-shaped maps ([Object]) exactly as they are rendered.
// Handlers run inside a [Tx]; a handler that returns an error has all its
// writes undone. Every state change emits an event (events.go) that is stored
// like any object and handed to subscribers after the transaction commits.
//
// Nothing in this package is global and mutable except the parsed OpenAPI
// spec, which is loaded once per process and read-only afterwards
// (speccheck.go explains why).
package emulator
