// Package ledger turns the Stripe events the relay stores into records a general ledger can post, and
// expands a paid automatic payout into the balance transactions it settles, so that each deposit on
// a bank statement reconciles against invoices, refunds, disputes and fees. It is pure code plus
// Stripe reads (through stripeapi.LedgerAPI): no Kubernetes and no delivery; the relay's delivery to
// `format: ledger` sinks calls Builder.Records.
//
// # Records
//
// Every record is a JSON object described by schema/ledger-record.v1.json (JSON Schema draft 2020-12,
// embedded as SchemaJSON) and carries "schema": "cloudip.ledger/v1". Amounts are integers in the
// currency's minor unit (cents), currencies lowercase ISO 4217. Common fields: id, kind, account (""
// for the platform account), tenant ("namespace/name" or "platform") and region (both from the
// caller's Owner), livemode, occurredAt (the object's own timestamp where it has one, else the
// event's), eventID and eventType (informational: the event that produced this copy of the record,
// never part of its identity), amount, currency, and the Stripe ids that tie the record (charge,
// invoice, customer, balanceTransaction, payout, refund, dispute) where they apply.
//
// The kinds, by the event that produces them:
//
//	charge.succeeded                   charge                   amount charged; fee and net from its balance transaction
//	charge.failed                      charge_failed            amount attempted; reason (failure code), message
//	charge.refunded                    refund                   one per refund of the charge (succeeded or pending), read
//	                                                            from Stripe (GET /v1/refunds?charge=): the event's charge
//	                                                            no longer carries them
//	charge.dispute.created             dispute_opened           disputed amount, status, reason; the charge's invoice
//	charge.dispute.updated             dispute_updated          the status the dispute moved to
//	charge.dispute.closed              dispute_closed           the outcome (status: won, lost, warning_closed, …)
//	charge.dispute.funds_withdrawn     dispute_funds_withdrawn  one per withdrawal balance transaction (signed: negative)
//	charge.dispute.funds_reinstated    dispute_funds_reinstated one per reinstatement balance transaction (positive)
//	invoice.paid                       invoice_paid             amount paid, the charge that paid it
//	invoice.payment_failed             invoice_payment_failed   amount due, attemptCount, the failed charge
//	invoice.voided                     invoice_voided           amount that was outstanding (due − paid)
//	invoice.marked_uncollectible       invoice_uncollectible    amount that was outstanding (due − paid)
//	payout.paid, automatic             deposit                  the payout and every balance transaction it settles
//	payout.reconciliation_completed    deposit                  (the same record: same id)
//	payout.paid, manual                payout_unreconcilable    Stripe does not link a manual payout to its transactions
//	payout.failed                      payout_failed            amount, reason (failure code), the failure transaction
//
// Other event types give no record and no error (Handles tells which types give records). Figures of
// balance transactions (fee, net, the dispute funds records, the deposit's lines and totals) keep
// Stripe's signs; the other amounts are the object's own, positive.
//
// # Identity
//
// A record's id is derived from the fact it records, never from the event that reported it:
//
//	id = hex(SHA-256("cloudip.ledger/v1" NUL kind NUL account NUL object NUL state))
//
// where object is the Stripe object the fact is about and state the state it records: a charge's
// "succeeded" or "failed", a refund's "refunded", an invoice's "paid", "void", "uncollectible" or
// "attempt:N" (each failed attempt is a fact of its own), a dispute's "opened", "status:<status>",
// "closed" or the id of the balance transaction that moved its funds, a payout's "paid" or "failed".
// So a duplicate event, a replay, a backfilled copy or a second event about the same fact (two
// charge.refunded events that both list the first refund; payout.paid and
// payout.reconciliation_completed) give the same id, and a consumer that keeps the ids it posted
// posts nothing twice. Records with the same id have the same content but for eventID and eventType,
// and for what a record reads from Stripe as it is now (a refund's status: pending, later succeeded).
//
// # Deposits
//
// For an automatic payout Stripe lists the balance transactions it paid out (GET
// /v1/balance_transactions?payout=po_…, every page, with Stripe-Account for a connected account).
// The deposit record has one line per transaction but the payout's own (balance transaction id,
// type, reporting category, source, the charge, invoice and customer it ties to, refund or dispute,
// gross amount, fee, net), the lines grouped by reporting_category (categories) and totals:
//
//	gross    = Σ amount of lines in category charge
//	refunds  = Σ amount of lines in categories refund, refund_failure        (signed: negative)
//	disputes = Σ amount of lines in categories dispute, dispute_reversal     (signed)
//	fees     = Σ fee of every line − Σ amount of lines in category fee      (positive: fees paid)
//	other    = Σ amount of the lines in any other category                  (signed)
//	net      = gross + refunds + disputes + other − fees = Σ net of the lines = the payout's amount
//
// A charge is tied to its invoice through the charge's invoice field: read with the listing (its
// source expanded) or, when only the charge's id is known (a refund's or a dispute's charge not in the
// same payout), with one GetCharge per distinct charge. If the lines' nets do not sum exactly to the
// payout's amount (or a line is in another currency, or the payout's own transaction is not its
// amount negated), Records returns an *UnbalancedError (errors.Is ErrUnbalanced) with the figures and
// no record: the caller holds the batch and reports it, and never sends it as if it balanced.
//
// A payout.paid whose automatic payout is still being reconciled (reconciliation_status in_progress)
// gives nothing: Stripe's payout.reconciliation_completed follows once the transactions can be listed.
// A manual payout gives payout_unreconcilable: Stripe documents the payout filter as "for automatic
// Stripe payouts only", so no API says which transactions a manual payout drew on.
package ledger
