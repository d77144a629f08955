package main

// Each record as an accountant reads it: one line for a payment fact, a block for a deposit (the
// payout, its lines by reporting category with the invoices and customers they tie to, the totals,
// and whether the lines balance to the deposit).

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// exponent is how many decimals a currency's minor unit has where it is not 2 (Stripe's
// zero-decimal and three-decimal currencies).
var exponent = map[string]int{
	"bif": 0, "clp": 0, "djf": 0, "gnf": 0, "jpy": 0, "kmf": 0, "krw": 0, "mga": 0, "pyg": 0, "rwf": 0,
	"ugx": 0, "vnd": 0, "vuv": 0, "xaf": 0, "xof": 0, "xpf": 0,
	"bhd": 3, "jod": 3, "kwd": 3, "omr": 3, "tnd": 3,
}

// decimal writes minor units as a decimal number: 2500 usd is "25.00", -5 usd "-0.05", 500 jpy "500".
func decimal(minor int64, currency string) string {
	exp, ok := exponent[strings.ToLower(currency)]
	if !ok {
		exp = 2
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	digits := strconv.FormatInt(minor, 10)
	if exp == 0 {
		return sign + digits
	}
	if len(digits) <= exp {
		digits = strings.Repeat("0", exp-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
}

// money is an amount with its currency: "25.00 USD".
func money(minor int64, currency string) string {
	return decimal(minor, currency) + " " + strings.ToUpper(currency)
}

// short is a record id as printed: its first 12 hex digits (ids are SHA-256, 64 digits).
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// whose is the owner as printed: the tenant (or "platform"), and the account the money moved on.
func whose(r Record) string {
	who := r.Tenant
	if who == "" {
		who = "platform"
	}
	if r.Account != "" {
		who += " (" + r.Account + ")"
	}
	return who
}

// of says which invoice and customer an amount is for: "for invoice in_1 of cus_1", "of cus_1, no
// invoice", or "".
func of(invoice, customer string) string {
	switch {
	case invoice != "" && customer != "":
		return " for invoice " + invoice + " of " + customer
	case invoice != "":
		return " for invoice " + invoice
	case customer != "":
		return " of " + customer + ", no invoice"
	}
	return ", no invoice"
}

// withWhy appends a reason and its message: " (card_declined: Your card was declined.)".
func withWhy(reason, message string) string {
	switch {
	case reason != "" && message != "":
		return " (" + reason + ": " + message + ")"
	case reason != "":
		return " (" + reason + ")"
	case message != "":
		return " (" + message + ")"
	}
	return ""
}

func feeNet(r Record) string {
	if r.Fee == nil || r.Net == nil {
		return ""
	}
	return fmt.Sprintf(", fee %s, net %s", decimal(*r.Fee, r.Currency), decimal(*r.Net, r.Currency))
}

// Describe is a record other than a deposit as one line (without the time and owner prefix).
func Describe(r Record) string {
	m := money(r.Amount, r.Currency)
	switch r.Kind {
	case "charge":
		return fmt.Sprintf("charge %s %s%s%s", r.Charge, m, of(r.Invoice, r.Customer), feeNet(r))
	case "charge_failed":
		return fmt.Sprintf("charge FAILED %s %s%s%s, no money moved", r.Charge, m, of(r.Invoice, r.Customer), withWhy(r.Reason, ""))
	case "refund":
		return fmt.Sprintf("refund %s %s of charge %s%s, %s%s", r.Refund, m, r.Charge, of(r.Invoice, r.Customer), r.Status, withWhy(r.Reason, ""))
	case "invoice_paid":
		if r.Charge == "" {
			return fmt.Sprintf("invoice paid %s %s, no charge%s", r.Invoice, m, customerOf(r.Customer))
		}
		return fmt.Sprintf("invoice paid %s %s by charge %s%s", r.Invoice, m, r.Charge, customerOf(r.Customer))
	case "invoice_payment_failed":
		return fmt.Sprintf("invoice payment FAILED %s %s due, attempt %d, charge %s%s", r.Invoice, m, r.AttemptCount, dash(r.Charge), customerOf(r.Customer))
	case "invoice_voided":
		return fmt.Sprintf("invoice voided %s: %s outstanding written off%s", r.Invoice, m, customerOf(r.Customer))
	case "invoice_uncollectible":
		return fmt.Sprintf("invoice uncollectible %s: %s outstanding%s", r.Invoice, m, customerOf(r.Customer))
	case "dispute_opened", "dispute_updated", "dispute_closed":
		verb := strings.TrimPrefix(r.Kind, "dispute_")
		return fmt.Sprintf("dispute %s %s %s on charge %s%s, status %s%s", verb, r.Dispute, m, r.Charge, of(r.Invoice, r.Customer), r.Status, withWhy(r.Reason, ""))
	case "dispute_funds_withdrawn", "dispute_funds_reinstated":
		verb := strings.ReplaceAll(strings.TrimPrefix(r.Kind, "dispute_"), "_", " ")
		return fmt.Sprintf("dispute %s %s %s%s on charge %s%s, %s", verb, r.Dispute, m, feeNet(r), r.Charge, of(r.Invoice, r.Customer), r.BalanceTransaction)
	case "payout_unreconcilable":
		return fmt.Sprintf("payout %s %s paid, NOT reconcilable%s", r.Payout, m, withWhy(r.Reason, r.Message))
	case "payout_failed":
		return fmt.Sprintf("payout FAILED %s %s returned to the balance%s", r.Payout, m, withWhy(r.Reason, r.Message))
	}
	return fmt.Sprintf("%s %s (a kind this consumer does not know; kept, not posted)", r.Kind, m)
}

func customerOf(customer string) string {
	if customer == "" {
		return ""
	}
	return " (" + customer + ")"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Text is a record as printed after the time: one line, or the deposit's block.
func Text(r Record) string {
	prefix := whose(r) + "  "
	if r.Kind != kindDeposit || r.Deposit == nil {
		return prefix + Describe(r)
	}
	return prefix + DepositText(r)
}

// category names as printed.
var categoryTitle = map[string]string{
	categoryCharge: "charges", categoryRefund: "refunds", categoryRefundFailure: "refund failures",
	categoryDispute: "disputes", categoryDisputeReversal: "dispute reversals",
}

// DepositText is a deposit as an accountant reads it against the bank statement: the payout and when
// it arrives, its lines by reporting category (charges with the invoice and customer they paid,
// refunds with the charge and invoice they return, …), the fees withheld, the totals, and whether the
// lines balance to the deposit. Each line is its Stripe id, its amount, then what ties it.
func DepositText(r Record) string {
	d, cur := r.Deposit, r.Currency
	t := Sum(r)
	type row struct{ label, amount, note string }
	var rows []row
	add := func(label string, minor int64, note string) {
		rows = append(rows, row{label, decimal(minor, cur), note})
	}
	heading := func(label string) { rows = append(rows, row{label: label}) }

	byCategory, feeLines := groups(d.Lines)
	for _, g := range byCategory {
		category := g[0].ReportingCategory
		title, ok := categoryTitle[category]
		if !ok {
			title = category
		}
		heading(fmt.Sprintf("  %s (%d)", title, len(g)))
		for _, l := range g {
			id, note := lineLabel(l)
			add("    "+id, l.Amount, note)
		}
	}
	var withheld []DepositLine // in the order printed above
	for _, g := range byCategory {
		for _, l := range g {
			if l.Fee != 0 {
				withheld = append(withheld, l)
			}
		}
	}
	if n := len(withheld) + len(feeLines); n > 0 {
		heading(fmt.Sprintf("  fees (%d)", n))
		for _, l := range withheld {
			add("    "+dash(l.Source), -l.Fee, feeNote(l))
		}
		for _, l := range feeLines {
			add("    "+l.BalanceTransaction, l.Amount, l.Type)
		}
	}
	add("  gross", t.Gross, "")
	add("  refunds", t.Refunds, "")
	if t.Disputes != 0 {
		add("  disputes", t.Disputes, "")
	}
	if t.Other != 0 {
		add("  other", t.Other, "")
	}
	add("  fees", -t.Fees, "")
	add("  net", t.Net, "")

	width, amountWidth := 0, 0
	for _, rw := range rows {
		if rw.amount != "" {
			width = max(width, len(rw.label))
			amountWidth = max(amountWidth, len(rw.amount))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "deposit %s: %s, arriving %s\n", r.Payout, money(r.Amount, cur), d.ArrivalDate.UTC().Format(time.DateOnly))
	for _, rw := range rows {
		switch {
		case rw.amount == "":
			fmt.Fprintf(&b, "%s\n", rw.label)
		case rw.note == "":
			fmt.Fprintf(&b, "%-*s  %*s %s\n", width, rw.label, amountWidth, rw.amount, strings.ToUpper(cur))
		default:
			fmt.Fprintf(&b, "%-*s  %*s %s  %s\n", width, rw.label, amountWidth, rw.amount, strings.ToUpper(cur), rw.note)
		}
	}
	if t.Balanced {
		fmt.Fprintf(&b, "  balances: yes (the %d lines net %s, the deposit's amount)", t.Lines, money(t.Net, cur))
	} else {
		fmt.Fprintf(&b, "  balances: NO: %s", t.Problem)
	}
	return b.String()
}

// feeNote says what a fee withheld on a line is.
func feeNote(l DepositLine) string {
	switch l.ReportingCategory {
	case categoryCharge:
		return "Stripe's fee on the charge"
	case categoryDispute, categoryDisputeReversal:
		return "Stripe's dispute fee"
	}
	return "Stripe's fee on the " + l.Type
}

// lineLabel is a deposit line's Stripe id and what ties it: a charge and the invoice and customer
// it paid, a refund and the charge, invoice and customer it returns money of, another line's source.
func lineLabel(l DepositLine) (id, note string) {
	ties := func(parts ...string) string {
		var out []string
		for i := 0; i+1 < len(parts); i += 2 {
			if parts[i+1] != "" {
				out = append(out, parts[i]+" "+parts[i+1])
			}
		}
		return strings.Join(out, ", ")
	}
	switch l.ReportingCategory {
	case categoryCharge:
		if l.Invoice == "" {
			return dash(l.Charge), strings.TrimSuffix("no invoice, "+ties("customer", l.Customer), ", ")
		}
		return dash(l.Charge), ties("invoice", l.Invoice, "customer", l.Customer)
	case categoryRefund, categoryRefundFailure:
		return dash(l.Refund), ties("of", l.Charge, "invoice", l.Invoice, "customer", l.Customer)
	case categoryDispute, categoryDisputeReversal:
		return dash(l.Dispute), ties("on", l.Charge, "invoice", l.Invoice, "customer", l.Customer)
	}
	return l.BalanceTransaction, strings.TrimSuffix(l.Type+" "+l.Source, " ")
}
