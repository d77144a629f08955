package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Builder turns stored Stripe events into ledger records.
type Builder struct {
	// Stripe returns the reads of one account ("" for the platform account, else a connected
	// account), e.g. (*stripeapi.Client).Ledger. Required.
	Stripe func(account string) stripeapi.LedgerAPI
}

// handler builds the records of one event type.
type handler func(ctx context.Context, b *recordContext) ([]Record, error)

var handlers = map[string]handler{
	"charge.succeeded":                chargeSucceeded,
	"charge.failed":                   chargeFailed,
	"charge.refunded":                 chargeRefunded,
	"charge.dispute.created":          disputeStatus(KindDisputeOpened),
	"charge.dispute.updated":          disputeStatus(KindDisputeUpdated),
	"charge.dispute.closed":           disputeStatus(KindDisputeClosed),
	"charge.dispute.funds_withdrawn":  disputeFunds,
	"charge.dispute.funds_reinstated": disputeFunds,
	"invoice.paid":                    invoiceRecord(KindInvoicePaid),
	"invoice.payment_failed":          invoiceRecord(KindInvoicePaymentFailed),
	"invoice.voided":                  invoiceRecord(KindInvoiceVoided),
	"invoice.marked_uncollectible":    invoiceRecord(KindInvoiceUncollectible),
	"payout.paid":                     payoutPaid,
	"payout.reconciliation_completed": payoutPaid,
	"payout.failed":                   payoutFailed,
}

// EventTypes lists the event types that give records, sorted.
func EventTypes() []string {
	out := make([]string, 0, len(handlers))
	for typ := range handlers {
		out = append(out, typ)
	}
	sort.Strings(out)
	return out
}

// Handles reports whether events of type typ give records (a ledger sink's FormatAccepts).
func Handles(typ string) bool {
	_, ok := handlers[typ]
	return ok
}

// Records returns the ledger records of one stored event (its raw JSON, as Stripe sent it) for
// owner. Events of types that give no record return none and no error. An error is either
// malformed input, a Stripe read that failed (retry later), or an *UnbalancedError (hold the batch).
func (b *Builder) Records(ctx context.Context, rawEvent []byte, owner Owner) ([]Record, error) {
	ev, err := stripeapi.DecodeEvent(rawEvent)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	h, ok := handlers[ev.Type]
	if !ok {
		return nil, nil
	}
	owner, err = owner.normalize()
	if err != nil {
		return nil, err
	}
	if b.Stripe == nil {
		return nil, errors.New("ledger: Builder.Stripe is not set")
	}
	var w struct {
		Data struct {
			Object json.RawMessage `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(rawEvent, &w); err != nil || len(w.Data.Object) == 0 || ev.ObjectID == "" {
		return nil, fmt.Errorf("ledger: event %s (%s) has no data.object with an id", ev.ID, ev.Type)
	}
	rc := &recordContext{ev: ev, owner: owner, object: w.Data.Object, api: b.Stripe(ev.Account)}
	recs, err := h(ctx, rc)
	if err != nil {
		return nil, fmt.Errorf("ledger: event %s (%s): %w", ev.ID, ev.Type, err)
	}
	return recs, nil
}

// recordContext is one event being turned into records.
type recordContext struct {
	ev     *stripeapi.Event
	owner  Owner
	object json.RawMessage
	api    stripeapi.LedgerAPI
}

func (rc *recordContext) decode(v any) error {
	if err := json.Unmarshal(rc.object, v); err != nil {
		return fmt.Errorf("decode data.object: %w", err)
	}
	return nil
}

// record starts a record of kind about object in state.
func (rc *recordContext) record(kind Kind, object, state string, occurred int64) Record {
	at := rc.ev.Created
	if occurred > 0 {
		at = time.Unix(occurred, 0).UTC()
	}
	return Record{
		Schema:     SchemaVersion,
		ID:         RecordID(kind, rc.ev.Account, object, state),
		Kind:       kind,
		Account:    rc.ev.Account,
		Tenant:     rc.owner.Tenant,
		Region:     rc.owner.Region,
		Livemode:   rc.ev.Livemode,
		OccurredAt: at,
		EventID:    rc.ev.ID,
		EventType:  rc.ev.Type,
	}
}

// ref is an expandable Stripe field: an id, null, or (expanded) an object with an id.
type ref string

func (r *ref) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*r = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decode id: %w", err)
		}
		*r = ref(s)
	default:
		var o struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return fmt.Errorf("decode expanded object: %w", err)
		}
		*r = ref(o.ID)
	}
	return nil
}

type chargeObject struct {
	ID                 string `json:"id"`
	Amount             int64  `json:"amount"`
	AmountRefunded     int64  `json:"amount_refunded"`
	Currency           string `json:"currency"`
	Customer           ref    `json:"customer"`
	Invoice            ref    `json:"invoice"`
	BalanceTransaction ref    `json:"balance_transaction"`
	Status             string `json:"status"`
	FailureCode        string `json:"failure_code"`
	FailureMessage     string `json:"failure_message"`
	Created            int64  `json:"created"`
	Refunds            *struct {
		Data    []refundObject `json:"data"`
		HasMore bool           `json:"has_more"`
	} `json:"refunds"`
}

type refundObject struct {
	ID                 string `json:"id"`
	Amount             int64  `json:"amount"`
	Currency           string `json:"currency"`
	Charge             ref    `json:"charge"`
	BalanceTransaction ref    `json:"balance_transaction"`
	Status             string `json:"status"`
	Reason             string `json:"reason"`
	Created            int64  `json:"created"`
}

func chargeSucceeded(ctx context.Context, rc *recordContext) ([]Record, error) {
	var ch chargeObject
	if err := rc.decode(&ch); err != nil {
		return nil, err
	}
	r := rc.record(KindCharge, ch.ID, "succeeded", ch.Created)
	r.Amount, r.Currency, r.Status = ch.Amount, ch.Currency, "succeeded"
	r.Charge, r.Invoice, r.Customer, r.BalanceTransaction = ch.ID, string(ch.Invoice), string(ch.Customer), string(ch.BalanceTransaction)
	if r.BalanceTransaction != "" {
		// The event carries the transaction's id only: its fee is a read away.
		bt, err := rc.api.GetBalanceTransaction(ctx, r.BalanceTransaction)
		if err != nil {
			return nil, err
		}
		r.Fee, r.Net = int64p(bt.Fee), int64p(bt.Net)
	}
	return []Record{r}, nil
}

func chargeFailed(_ context.Context, rc *recordContext) ([]Record, error) {
	var ch chargeObject
	if err := rc.decode(&ch); err != nil {
		return nil, err
	}
	r := rc.record(KindChargeFailed, ch.ID, "failed", ch.Created)
	r.Amount, r.Currency, r.Status = ch.Amount, ch.Currency, "failed"
	r.Charge, r.Invoice, r.Customer = ch.ID, string(ch.Invoice), string(ch.Customer)
	r.Reason, r.Message = ch.FailureCode, ch.FailureMessage
	return []Record{r}, nil
}

// chargeRefunded emits one record per refund of the charge as Stripe has them now, so that events
// arriving twice or out of order post each refund once. The event's charge carries its refunds only
// if it was rendered with them (API versions before 2022-11-15); otherwise they are listed.
func chargeRefunded(ctx context.Context, rc *recordContext) ([]Record, error) {
	var ch chargeObject
	if err := rc.decode(&ch); err != nil {
		return nil, err
	}
	var refunds []refundObject
	if ch.Refunds != nil && !ch.Refunds.HasMore && sumRefunds(ch.Refunds.Data) >= ch.AmountRefunded {
		refunds = ch.Refunds.Data
	} else {
		listed, err := rc.api.ListRefundsForCharge(ctx, ch.ID)
		if err != nil {
			return nil, err
		}
		for _, re := range listed {
			refunds = append(refunds, refundObject{ID: re.ID, Amount: re.Amount, Currency: re.Currency, Charge: ref(re.ChargeID),
				BalanceTransaction: ref(re.BalanceTransactionID), Status: re.Status, Reason: re.Reason, Created: re.Created.Unix()})
		}
	}
	sort.Slice(refunds, func(i, j int) bool {
		if refunds[i].Created != refunds[j].Created {
			return refunds[i].Created < refunds[j].Created
		}
		return refunds[i].ID < refunds[j].ID
	})
	var out []Record
	for _, re := range refunds {
		// A refund's funds leave the balance when it is created; one that failed or was canceled
		// gave them back (its refund_failure transaction), so it is no refund to post.
		if re.Status != "succeeded" && re.Status != "pending" {
			continue
		}
		r := rc.record(KindRefund, re.ID, "refunded", re.Created)
		r.Amount, r.Currency, r.Status, r.Reason = re.Amount, re.Currency, re.Status, re.Reason
		r.Charge, r.Invoice, r.Customer = ch.ID, string(ch.Invoice), string(ch.Customer)
		r.Refund, r.BalanceTransaction = re.ID, string(re.BalanceTransaction)
		out = append(out, r)
	}
	return out, nil
}

// sumRefunds adds the amounts of the refunds that keep their funds out of the balance.
func sumRefunds(rs []refundObject) int64 {
	var n int64
	for _, r := range rs {
		if r.Status == "succeeded" || r.Status == "pending" {
			n += r.Amount
		}
	}
	return n
}

type disputeObject struct {
	ID                  string `json:"id"`
	Amount              int64  `json:"amount"`
	Currency            string `json:"currency"`
	Charge              ref    `json:"charge"`
	Status              string `json:"status"`
	Reason              string `json:"reason"`
	Created             int64  `json:"created"`
	BalanceTransactions []struct {
		ID                string `json:"id"`
		Amount            int64  `json:"amount"`
		Fee               int64  `json:"fee"`
		Net               int64  `json:"net"`
		Currency          string `json:"currency"`
		ReportingCategory string `json:"reporting_category"`
		Created           int64  `json:"created"`
	} `json:"balance_transactions"`
}

// disputeCharge reads the disputed charge for its invoice and customer (a dispute carries neither).
func (rc *recordContext) disputeCharge(ctx context.Context, r *Record, charge string) error {
	r.Charge = charge
	if charge == "" {
		return nil
	}
	ch, err := rc.api.GetCharge(ctx, charge)
	if err != nil {
		return err
	}
	r.Invoice, r.Customer = ch.InvoiceID, ch.CustomerID
	return nil
}

func disputeStatus(kind Kind) handler {
	return func(ctx context.Context, rc *recordContext) ([]Record, error) {
		var dp disputeObject
		if err := rc.decode(&dp); err != nil {
			return nil, err
		}
		state, occurred := "opened", dp.Created
		switch kind {
		case KindDisputeUpdated:
			state, occurred = "status:"+dp.Status, 0
		case KindDisputeClosed:
			state, occurred = "closed", 0
		}
		r := rc.record(kind, dp.ID, state, occurred)
		r.Amount, r.Currency, r.Status, r.Reason, r.Dispute = dp.Amount, dp.Currency, dp.Status, dp.Reason, dp.ID
		if err := rc.disputeCharge(ctx, &r, string(dp.Charge)); err != nil {
			return nil, err
		}
		return []Record{r}, nil
	}
}

// disputeFunds emits one record per balance transaction of the dispute (withdrawals negative,
// reinstatements positive), whichever of the two events carries them: the later event's dispute lists
// the earlier transactions too, and their ids are the same.
func disputeFunds(ctx context.Context, rc *recordContext) ([]Record, error) {
	var dp disputeObject
	if err := rc.decode(&dp); err != nil {
		return nil, err
	}
	var out []Record
	for _, bt := range dp.BalanceTransactions {
		kind := KindDisputeFundsWithdrawn
		if bt.Amount > 0 || (bt.Amount == 0 && bt.ReportingCategory == "dispute_reversal") {
			kind = KindDisputeFundsReinstated
		}
		r := rc.record(kind, dp.ID, bt.ID, bt.Created)
		r.Amount, r.Fee, r.Net, r.Currency = bt.Amount, int64p(bt.Fee), int64p(bt.Net), bt.Currency
		// No status: the dispute's moves on, and the record must read the same from any event.
		r.Reason, r.Dispute, r.BalanceTransaction = dp.Reason, dp.ID, bt.ID
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, nil
	}
	var ch stripeapi.Charge
	if c := string(dp.Charge); c != "" {
		got, err := rc.api.GetCharge(ctx, c)
		if err != nil {
			return nil, err
		}
		ch = *got
	}
	for i := range out {
		out[i].Charge, out[i].Invoice, out[i].Customer = string(dp.Charge), ch.InvoiceID, ch.CustomerID
	}
	return out, nil
}

type invoiceObject struct {
	ID                string `json:"id"`
	Customer          ref    `json:"customer"`
	Charge            ref    `json:"charge"`
	Currency          string `json:"currency"`
	AmountDue         int64  `json:"amount_due"`
	AmountPaid        int64  `json:"amount_paid"`
	AttemptCount      int64  `json:"attempt_count"`
	Status            string `json:"status"`
	StatusTransitions struct {
		PaidAt                int64 `json:"paid_at"`
		VoidedAt              int64 `json:"voided_at"`
		MarkedUncollectibleAt int64 `json:"marked_uncollectible_at"`
	} `json:"status_transitions"`
}

func invoiceRecord(kind Kind) handler {
	return func(_ context.Context, rc *recordContext) ([]Record, error) {
		var inv invoiceObject
		if err := rc.decode(&inv); err != nil {
			return nil, err
		}
		var r Record
		switch kind {
		case KindInvoicePaid:
			r = rc.record(kind, inv.ID, "paid", inv.StatusTransitions.PaidAt)
			r.Amount = inv.AmountPaid
		case KindInvoicePaymentFailed:
			r = rc.record(kind, inv.ID, fmt.Sprintf("attempt:%d", inv.AttemptCount), 0)
			r.Amount, r.AttemptCount = inv.AmountDue, inv.AttemptCount
		case KindInvoiceVoided:
			r = rc.record(kind, inv.ID, "void", inv.StatusTransitions.VoidedAt)
			r.Amount = inv.AmountDue - inv.AmountPaid
		default:
			r = rc.record(kind, inv.ID, "uncollectible", inv.StatusTransitions.MarkedUncollectibleAt)
			r.Amount = inv.AmountDue - inv.AmountPaid
		}
		r.Currency, r.Status, r.Invoice, r.Customer, r.Charge = inv.Currency, inv.Status, inv.ID, string(inv.Customer), string(inv.Charge)
		return []Record{r}, nil
	}
}

type payoutObject struct {
	ID                        string `json:"id"`
	Amount                    int64  `json:"amount"`
	Currency                  string `json:"currency"`
	ArrivalDate               int64  `json:"arrival_date"`
	Automatic                 bool   `json:"automatic"`
	Status                    string `json:"status"`
	ReconciliationStatus      string `json:"reconciliation_status"`
	BalanceTransaction        ref    `json:"balance_transaction"`
	FailureBalanceTransaction ref    `json:"failure_balance_transaction"`
	FailureCode               string `json:"failure_code"`
	FailureMessage            string `json:"failure_message"`
}

// unreconcilableMessage is what a payout_unreconcilable record says.
const unreconcilableMessage = "Stripe does not reconcile manual payouts: GET /v1/balance_transactions?payout= is for " +
	"automatic payouts only, so match this deposit against the balance by hand."

func payoutPaid(ctx context.Context, rc *recordContext) ([]Record, error) {
	var po payoutObject
	if err := rc.decode(&po); err != nil {
		return nil, err
	}
	if !po.Automatic {
		if rc.ev.Type != "payout.paid" {
			return nil, nil
		}
		r := rc.record(KindPayoutUnreconcilable, po.ID, "paid", po.ArrivalDate)
		r.Amount, r.Currency, r.Status, r.Payout, r.BalanceTransaction = po.Amount, po.Currency, po.Status, po.ID, string(po.BalanceTransaction)
		r.Reason, r.Message = "manual_payout", unreconcilableMessage
		return []Record{r}, nil
	}
	if rc.ev.Type == "payout.paid" && po.ReconciliationStatus == "in_progress" {
		// Its transactions cannot be listed yet; payout.reconciliation_completed brings the deposit.
		return nil, nil
	}
	r, err := rc.deposit(ctx, po)
	if err != nil {
		return nil, err
	}
	return []Record{r}, nil
}

func payoutFailed(_ context.Context, rc *recordContext) ([]Record, error) {
	var po payoutObject
	if err := rc.decode(&po); err != nil {
		return nil, err
	}
	r := rc.record(KindPayoutFailed, po.ID, "failed", 0)
	r.Amount, r.Currency, r.Status, r.Payout = po.Amount, po.Currency, po.Status, po.ID
	r.BalanceTransaction, r.Reason, r.Message = string(po.FailureBalanceTransaction), po.FailureCode, po.FailureMessage
	return []Record{r}, nil
}
