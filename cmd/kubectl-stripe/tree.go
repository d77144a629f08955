package main

import (
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// node is one line of `kubectl stripe status`: an object, a condition, a Stripe object or one of
// its facts. A node with a Status is a row (label, status, reason, message) aligned with its
// neighbouring rows, like a condition in `kubectl describe`; one without is "label: message".
type node struct {
	Label    string  `json:"label"`
	Status   string  `json:"status,omitempty"`
	Reason   string  `json:"reason,omitempty"`
	Message  string  `json:"message,omitempty"`
	Children []*node `json:"children,omitempty"`
}

// add appends children and returns the node, for building trees in one expression.
func (n *node) add(children ...*node) *node {
	for _, c := range children {
		if c != nil {
			n.Children = append(n.Children, c)
		}
	}
	return n
}

// fact is a node that states something: "label: message".
func fact(label, message string) *node { return &node{Label: label, Message: message} }

// row is a node with a status: a condition, a capability, a referenced object's Ready.
func row(label, status, reason, message string) *node {
	return &node{Label: label, Status: status, Reason: reason, Message: message}
}

// palette colours statuses on a terminal; the zero value prints plain text.
type palette struct{ on bool }

const (
	colorReset  = "\x1b[0m"
	colorGreen  = "\x1b[32m"
	colorRed    = "\x1b[31m"
	colorYellow = "\x1b[33m"
	colorBold   = "\x1b[1m"
)

func (p palette) paint(color, s string) string {
	if !p.on || s == "" {
		return s
	}
	return color + s + colorReset
}

// status colours a status: good green (True, a capability active), bad red (False, Missing, a
// capability inactive), anything else yellow (Unknown, pending).
func (p palette) status(s string) string {
	switch s {
	case string(metav1.ConditionTrue), "active":
		return p.paint(colorGreen, s)
	case string(metav1.ConditionFalse), "Missing", "inactive":
		return p.paint(colorRed, s)
	}
	return p.paint(colorYellow, s)
}

// rowMessageWidth is where a row's message is cut in the default output (-o wide prints it whole):
// conditions repeat each other at length, and the next: line says in full what matters.
const rowMessageWidth = 100

// printTree writes the tree: the root on the first line, every child under its parent with ├─ and
// └─, rows of the same run aligned in columns, a row's message cut at cut runes (0: never).
func printTree(w io.Writer, root *node, p palette, cut int) error {
	b := &strings.Builder{}
	b.WriteString(p.paint(colorBold, root.Label))
	if root.Message != "" {
		b.WriteString(": " + root.Message)
	}
	b.WriteString("\n")
	writeChildren(b, root.Children, "", p, cut)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func writeChildren(b *strings.Builder, children []*node, prefix string, p palette, cut int) {
	widths := columnWidths(children)
	for i, c := range children {
		branch, indent := "├─ ", "│  "
		if i == len(children)-1 {
			branch, indent = "└─ ", "   "
		}
		b.WriteString(strings.TrimRight(prefix+branch+line(c, widths[i], p, cut), " ") + "\n")
		writeChildren(b, c.Children, prefix+indent, p, cut)
	}
}

// widths are the label, status and reason columns of one run of rows.
type widths struct{ label, status, reason int }

// columnWidths gives every row the widths of the run of consecutive rows it is in, so that a table
// of conditions lines up without pulling unrelated lines apart.
func columnWidths(children []*node) []widths {
	out := make([]widths, len(children))
	for start := 0; start < len(children); {
		if children[start].Status == "" {
			start++
			continue
		}
		end := start
		var w widths
		for ; end < len(children) && children[end].Status != ""; end++ {
			c := children[end]
			w.label, w.status, w.reason = max(w.label, len(c.Label)), max(w.status, len(c.Status)), max(w.reason, len(c.Reason))
		}
		for i := start; i < end; i++ {
			out[i] = w
		}
		start = end
	}
	return out
}

func line(n *node, w widths, p palette, cut int) string {
	if n.Status == "" {
		if n.Message == "" {
			return n.Label
		}
		return n.Label + ": " + n.Message
	}
	pad := func(s string, width int) string { return s + strings.Repeat(" ", max(0, width-len(s))) }
	cells := pad(n.Label, w.label) + "  " + p.status(n.Status) + strings.Repeat(" ", max(0, w.status-len(n.Status)))
	if w.reason > 0 {
		cells += "  " + pad(n.Reason, w.reason)
	}
	if n.Message != "" {
		cells += "  " + shorten(n.Message, cut)
	}
	return cells
}

// shorten cuts s at limit runes, with an ellipsis; limit 0 keeps it whole.
func shorten(s string, limit int) string {
	runes := []rune(s)
	if limit <= 0 || len(runes) <= limit {
		return s
	}
	return strings.TrimRight(string(runes[:limit-1]), " ,;:") + "…"
}
