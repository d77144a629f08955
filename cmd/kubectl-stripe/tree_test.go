package main

import (
	"bytes"
	"testing"
)

// Pins the tree's shape: branches with ├─ and └─, continuation bars only under a branch with more
// siblings below it, rows of one run aligned in columns (label, status, reason, message) without
// pulling the facts between runs apart, no trailing blanks, a row's message cut where asked (a
// fact's never), and no colour unless asked for.
func TestPrintTree(t *testing.T) {
	root := (&node{Label: "StripeTenant/acme", Message: "namespace demo"}).add(
		row("Ready", "False", "ActionRequired", "onboarding"),
		row("Synced", "True", "ReconcileSuccess", ""),
		row("OnboardingComplete", "False", "RequirementsDue", "3 fields due"),
		fact("Account acct_1", "express").add(
			fact("Capabilities", "").add(row("card_payments", "inactive", "", ""), row("transfers", "active", "", "")),
			fact("Requirements", "3 currently due"),
		),
		row("StripeConnection/platform", "True", "Available", "verified"),
	)
	want := `StripeTenant/acme: namespace demo
├─ Ready               False  ActionRequired    onboarding
├─ Synced              True   ReconcileSuccess
├─ OnboardingComplete  False  RequirementsDue   3 fields due
├─ Account acct_1: express
│  ├─ Capabilities
│  │  ├─ card_payments  inactive
│  │  └─ transfers      active
│  └─ Requirements: 3 currently due
└─ StripeConnection/platform  True  Available  verified
`
	var out bytes.Buffer
	if err := printTree(&out, root, palette{}, 0); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	if err := printTree(&out, root, palette{on: true}, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte(colorRed+"False"+colorReset)) {
		t.Errorf("a palette that is on paints nothing:\n%q", out.String())
	}
	out.Reset()
	if err := printTree(&out, root, palette{}, 8); err != nil {
		t.Fatal(err)
	}
	if want := "├─ OnboardingComplete  False  RequirementsDue   3 field…\n"; !bytes.Contains(out.Bytes(), []byte(want)) {
		t.Errorf("a row's message is not cut at 8 runes:\n%s", out.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("Account acct_1: express\n")) {
		t.Errorf("a fact's message is cut:\n%s", out.String())
	}
	if colorful(&bytes.Buffer{}) {
		t.Error("a buffer (a pipe, a file) is taken for a terminal")
	}
}
