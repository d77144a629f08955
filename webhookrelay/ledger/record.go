package ledger

import (
	"crypto/sha256"
	_ "embed" // the schema file
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SchemaVersion is the value of every record's "schema" field, and the first part of its id.
const SchemaVersion = "cloudip.ledger/v1"

// SchemaJSON is schema/ledger-record.v1.json: the JSON Schema (draft 2020-12) of every record.
//
//go:embed schema/ledger-record.v1.json
var SchemaJSON []byte

// PlatformTenant is the tenant of records about the platform account's own money.
const PlatformTenant = "platform"

// Kind says what a record records (see the package documentation for each).
type Kind string

// The record kinds.
const (
	KindCharge                 Kind = "charge"
	KindChargeFailed           Kind = "charge_failed"
	KindRefund                 Kind = "refund"
	KindDisputeOpened          Kind = "dispute_opened"
	KindDisputeUpdated         Kind = "dispute_updated"
	KindDisputeClosed          Kind = "dispute_closed"
	KindDisputeFundsWithdrawn  Kind = "dispute_funds_withdrawn"
	KindDisputeFundsReinstated Kind = "dispute_funds_reinstated"
	KindInvoicePaid            Kind = "invoice_paid"
	KindInvoicePaymentFailed   Kind = "invoice_payment_failed"
	KindInvoiceVoided          Kind = "invoice_voided"
	KindInvoiceUncollectible   Kind = "invoice_uncollectible"
	KindDeposit                Kind = "deposit"
	KindPayoutUnreconcilable   Kind = "payout_unreconcilable"
	KindPayoutFailed           Kind = "payout_failed"
)

// Owner is whose money a record is about, as the relay's routing decided it: a tenant (a
// StripeTenant's "namespace/name") or the platform, and the data-residency region its records go to.
type Owner struct {
	// Tenant is "namespace/name", or "" (or "platform") for the platform.
	Tenant string
	// Region is the data-residency region; required.
	Region string
}

func (o Owner) normalize() (Owner, error) {
	o.Tenant, o.Region = strings.TrimSpace(o.Tenant), strings.TrimSpace(o.Region)
	if o.Tenant == "" {
		o.Tenant = PlatformTenant
	}
	if o.Region == "" {
		return o, errors.New("ledger: owner has no region")
	}
	if o.Tenant != PlatformTenant {
		ns, name, ok := strings.Cut(o.Tenant, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return o, fmt.Errorf("ledger: owner tenant %q is neither %q nor namespace/name", o.Tenant, PlatformTenant)
		}
	}
	return o, nil
}

// Record is one ledger record. Its JSON is what the schema describes.
type Record struct {
	Schema string `json:"schema"`
	// ID is RecordID(Kind, Account, the object, the state): stable across duplicates and replays.
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Account is the connected account the money moved on, "" for the platform account.
	Account    string    `json:"account"`
	Tenant     string    `json:"tenant"`
	Region     string    `json:"region"`
	Livemode   bool      `json:"livemode"`
	OccurredAt time.Time `json:"occurredAt"`
	// EventID and EventType are the event this copy of the record came from (informational).
	EventID   string `json:"eventID"`
	EventType string `json:"eventType"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	// Fee and Net are a balance transaction's, where the record has one.
	Fee *int64 `json:"fee,omitempty"`
	Net *int64 `json:"net,omitempty"`
	// Status is the Stripe object's status where it tells something (a refund's, a dispute's).
	Status string `json:"status,omitempty"`
	// Reason is a failure code, a refund's or a dispute's reason, or why a payout is unreconcilable;
	// Message the human text beside it.
	Reason       string `json:"reason,omitempty"`
	Message      string `json:"message,omitempty"`
	AttemptCount int64  `json:"attemptCount,omitempty"`

	Charge             string `json:"charge,omitempty"`
	Invoice            string `json:"invoice,omitempty"`
	Customer           string `json:"customer,omitempty"`
	BalanceTransaction string `json:"balanceTransaction,omitempty"`
	Payout             string `json:"payout,omitempty"`
	Refund             string `json:"refund,omitempty"`
	Dispute            string `json:"dispute,omitempty"`

	// Deposit is set on deposit records only.
	Deposit *Deposit `json:"deposit,omitempty"`
}

// Deposit is an automatic payout expanded into the balance transactions it settles.
type Deposit struct {
	// ArrivalDate is when the payout is expected in (or reached) the bank.
	ArrivalDate time.Time `json:"arrivalDate"`
	// Lines are the balance transactions paid out, the payout's own excluded, by reporting category,
	// then oldest first.
	Lines []DepositLine `json:"lines"`
	// Categories sum the lines by reporting category, by name.
	Categories []CategoryTotal `json:"categories"`
	Totals     DepositTotals   `json:"totals"`
}

// DepositLine is one balance transaction of a deposit, with the ids that tie it.
type DepositLine struct {
	BalanceTransaction string `json:"balanceTransaction"`
	Type               string `json:"type"`
	ReportingCategory  string `json:"reportingCategory"`
	Source             string `json:"source,omitempty"`
	Charge             string `json:"charge,omitempty"`
	Invoice            string `json:"invoice,omitempty"`
	Customer           string `json:"customer,omitempty"`
	Refund             string `json:"refund,omitempty"`
	Dispute            string `json:"dispute,omitempty"`
	// Amount (gross), Fee and Net (= Amount − Fee) keep Stripe's signs.
	Amount int64 `json:"amount"`
	Fee    int64 `json:"fee"`
	Net    int64 `json:"net"`
}

// CategoryTotal sums a deposit's lines of one reporting category.
type CategoryTotal struct {
	ReportingCategory string `json:"reportingCategory"`
	Count             int    `json:"count"`
	Amount            int64  `json:"amount"`
	Fee               int64  `json:"fee"`
	Net               int64  `json:"net"`
}

// DepositTotals are a deposit's totals (see the package documentation for their definitions); Net
// equals the payout's amount.
type DepositTotals struct {
	Gross    int64 `json:"gross"`
	Refunds  int64 `json:"refunds"`
	Disputes int64 `json:"disputes"`
	Fees     int64 `json:"fees"`
	Other    int64 `json:"other"`
	Net      int64 `json:"net"`
}

// RecordID is the id of the record of kind about object (a Stripe id) on account in state:
// hex(SHA-256(SchemaVersion NUL kind NUL account NUL object NUL state)).
func RecordID(kind Kind, account, object, state string) string {
	h := sha256.New()
	for _, part := range []string{SchemaVersion, string(kind), account, object, state} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// UnbalancedError is a deposit whose lines do not sum to its payout: it must be held, never sent.
type UnbalancedError struct {
	Account  string
	Payout   string
	Currency string
	// Amount is the payout's amount; LinesNet the sum of the lines' nets (the payout's own
	// transaction excluded); Lines how many lines there were.
	Amount   int64
	LinesNet int64
	Lines    int
	// Detail says what else is wrong, if anything (a line in another currency, the payout's own
	// transaction not its amount negated).
	Detail string
}

// ErrUnbalanced is what every *UnbalancedError is (errors.Is).
var ErrUnbalanced = errors.New("ledger: deposit does not balance")

func (e *UnbalancedError) Error() string {
	on := "the platform"
	if e.Account != "" {
		on = e.Account
	}
	msg := fmt.Sprintf("%v: payout %s on %s is %d %s, its %d lines net %d (off by %d)",
		ErrUnbalanced, e.Payout, on, e.Amount, e.Currency, e.Lines, e.LinesNet, e.LinesNet-e.Amount)
	if e.Detail != "" {
		msg += "; " + e.Detail
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrUnbalanced) true.
func (e *UnbalancedError) Unwrap() error { return ErrUnbalanced }

func int64p(v int64) *int64 { return &v }
