package main

// The record as this consumer reads it: the fields it prints, declared from the schema
// (webhookrelay/ledger/schema/ledger-record.v1.json, "cloudip.ledger/v1") the way a module outside
// this repository would, without importing the relay's code. Fields it does not know are ignored, so
// a later minor addition to the schema does not break it; a record of another schema is refused.

import (
	"fmt"
	"sort"
	"time"
)

// schemaV1 is the only schema this consumer reads.
const schemaV1 = "cloudip.ledger/v1"

// kindDeposit is the kind of a deposit record: a payout with the balance transactions it settles.
const kindDeposit = "deposit"

// Record is one ledger record (the fields this consumer uses).
type Record struct {
	Schema     string    `json:"schema"`
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Account    string    `json:"account"`
	Tenant     string    `json:"tenant"`
	Region     string    `json:"region"`
	Livemode   bool      `json:"livemode"`
	OccurredAt time.Time `json:"occurredAt"`
	EventID    string    `json:"eventID"`
	EventType  string    `json:"eventType"`
	// Amount is in the currency's minor unit.
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Fee      *int64 `json:"fee,omitempty"`
	Net      *int64 `json:"net,omitempty"`

	Status       string `json:"status,omitempty"`
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

	Deposit *Deposit `json:"deposit,omitempty"`
}

// Deposit is a deposit record's payout expanded into the balance transactions it settles. The
// consumer reads the lines and sums them itself; the record's own categories and totals are not read.
type Deposit struct {
	ArrivalDate time.Time     `json:"arrivalDate"`
	Lines       []DepositLine `json:"lines"`
}

// DepositLine is one balance transaction of a deposit. Amount (gross), Fee and Net keep Stripe's
// signs: a refund's amount is negative, a fee is positive and withheld (Net = Amount − Fee).
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
	Amount             int64  `json:"amount"`
	Fee                int64  `json:"fee"`
	Net                int64  `json:"net"`
}

// check refuses what this consumer cannot post: another schema, no id, an id other than the
// delivery's webhook-id (the id is what it dedupes by), a deposit without its lines.
func (r Record) check(webhookID string) error {
	switch {
	case r.Schema != schemaV1:
		return fmt.Errorf("unknown schema %q (this consumer reads %s)", r.Schema, schemaV1)
	case r.ID == "":
		return fmt.Errorf("record has no id")
	case r.ID != webhookID:
		return fmt.Errorf("record id %s is not the webhook-id %s", short(r.ID), short(webhookID))
	case r.Kind == "":
		return fmt.Errorf("record has no kind")
	case r.Kind == kindDeposit && r.Deposit == nil:
		return fmt.Errorf("deposit record %s has no deposit", short(r.ID))
	}
	return nil
}

// Reporting categories the deposit's sums treat apart (Stripe's reporting_category values).
const (
	categoryCharge          = "charge"
	categoryRefund          = "refund"
	categoryRefundFailure   = "refund_failure"
	categoryDispute         = "dispute"
	categoryDisputeReversal = "dispute_reversal"
	categoryFee             = "fee"
)

// Totals are what the consumer sums from a deposit's lines. Fees is positive: what was paid.
type Totals struct {
	Gross, Refunds, Disputes, Fees, Other, Net int64
	Lines                                      int
	// Balanced says the lines' nets sum to the deposit's amount and each line's net is its amount
	// less its fee; Problem says what is wrong when not.
	Balanced bool
	Problem  string
}

// Sum adds up a deposit record's lines, as the consumer checks a deposit before posting it.
func Sum(r Record) Totals {
	var t Totals
	if r.Deposit == nil {
		t.Problem = "no deposit"
		return t
	}
	var badLine string
	for _, l := range r.Deposit.Lines {
		t.Lines++
		t.Net += l.Net
		t.Fees += l.Fee
		switch l.ReportingCategory {
		case categoryCharge:
			t.Gross += l.Amount
		case categoryRefund, categoryRefundFailure:
			t.Refunds += l.Amount
		case categoryDispute, categoryDisputeReversal:
			t.Disputes += l.Amount
		case categoryFee:
			t.Fees -= l.Amount // a fee line's amount is negative: a fee paid
		default:
			t.Other += l.Amount
		}
		if l.Net != l.Amount-l.Fee && badLine == "" {
			badLine = fmt.Sprintf("line %s nets %s, not its amount %s less its fee %s", l.BalanceTransaction,
				money(l.Net, r.Currency), money(l.Amount, r.Currency), money(l.Fee, r.Currency))
		}
	}
	switch {
	case t.Net != r.Amount:
		t.Problem = fmt.Sprintf("the %d lines net %s, the deposit is %s (off by %s)", t.Lines,
			money(t.Net, r.Currency), money(r.Amount, r.Currency), money(t.Net-r.Amount, r.Currency))
	case badLine != "":
		t.Problem = badLine
	default:
		t.Balanced = true
	}
	return t
}

// categoryOrder is the order a deposit's groups are printed in: money in, money back, disputes,
// then any other category by name. Fee lines print with the fees withheld on the other lines.
var categoryOrder = map[string]int{
	categoryCharge: 0, categoryRefund: 1, categoryRefundFailure: 2, categoryDispute: 3, categoryDisputeReversal: 4,
}

// groups returns the deposit's lines but the fee lines, by reporting category in print order (each
// group's lines in the record's order), and the fee lines.
func groups(lines []DepositLine) (byCategory [][]DepositLine, fees []DepositLine) {
	index := map[string]int{}
	for _, l := range lines {
		if l.ReportingCategory == categoryFee {
			fees = append(fees, l)
			continue
		}
		i, ok := index[l.ReportingCategory]
		if !ok {
			i = len(byCategory)
			index[l.ReportingCategory] = i
			byCategory = append(byCategory, nil)
		}
		byCategory[i] = append(byCategory[i], l)
	}
	sort.SliceStable(byCategory, func(i, j int) bool {
		a, b := byCategory[i][0].ReportingCategory, byCategory[j][0].ReportingCategory
		oa, knownA := categoryOrder[a]
		ob, knownB := categoryOrder[b]
		switch {
		case knownA && knownB:
			return oa < ob
		case knownA != knownB:
			return knownA
		}
		return a < b
	})
	return byCategory, fees
}
