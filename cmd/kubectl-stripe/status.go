package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// report is what `kubectl stripe status` prints: the tree, and the one thing to do next.
type report struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Tree      *node  `json:"tree"`
	Next      string `json:"next"`
}

func newStatusCommand(c *cluster) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status KIND/NAME",
		Short: "Show an object, every Stripe object it manages, their state and what to do next",
		Long: `Show an object as a tree: its conditions, every Stripe object its status records (with their
own state: a tenant's account, capabilities, requirements and onboarding link, its customer and
subscription; a plan's product and prices; an endpoint's id and signing secret; a sink's deliveries;
a mirror's cursor, lag, rows per table, backfill and revalidation), the StripeConnection it uses and
whether that is Ready, and a "next:" line saying what to do.

KIND is tenant, plan, connection, endpoint, sink, replay or mirror (or kubectl's names for them).`,
		Example: `  kubectl stripe status tenant/acme -n cloudip-demo
  kubectl stripe status plan/pro -n cloudip-demo -o json
  kubectl stripe status connection/platform-us
  kubectl stripe status mirror/stripe-eu -n payments`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "json" && output != "text" && output != "wide" {
				return fmt.Errorf("--output %q: want text, wide or json", output)
			}
			ref, err := parseRef(args)
			if err != nil {
				return err
			}
			kube, namespace, err := c.connect()
			if err != nil {
				return err
			}
			r, err := describe(cmd.Context(), kube, namespace, ref, time.Now())
			if err != nil {
				return err
			}
			return writeReport(cmd.OutOrStdout(), r, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text, wide (conditions' messages in full) or json")
	return cmd
}

func writeReport(w io.Writer, r *report, output string) error {
	if output == "json" {
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		if err := e.Encode(r); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	}
	p := palette{on: colorful(w)}
	cut := rowMessageWidth
	if output == "wide" {
		cut = 0
	}
	if err := printTree(w, r.Tree, p, cut); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w, p.paint(colorBold, "next:")+" "+r.Next); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// describe reads the object and what it refers to, and builds its report.
func describe(ctx context.Context, kube client.Client, namespace string, ref objectRef, now time.Time) (*report, error) {
	d := &describer{ctx: ctx, kube: kube, namespace: namespace, now: now}
	if ref.Kind == kindConnection {
		d.namespace = ""
	}
	r := &report{Kind: ref.Kind, Namespace: d.namespace, Name: ref.Name}
	var err error
	switch ref.Kind {
	case kindTenant:
		r.Tree, r.Next, err = d.tenant(ref.Name)
	case kindPlan:
		r.Tree, r.Next, err = d.plan(ref.Name)
	case kindConnection:
		r.Tree, r.Next, err = d.connectionReport(ref.Name)
	case kindEndpoint:
		r.Tree, r.Next, err = d.endpoint(ref.Name)
	case kindSink:
		r.Tree, r.Next, err = d.sink(ref.Name)
	case kindReplay:
		r.Tree, r.Next, err = d.replay(ref.Name)
	case kindMirror:
		r.Tree, r.Next, err = d.mirror(ref.Name)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// describer reads objects for one report.
type describer struct {
	ctx       context.Context
	kube      client.Client
	namespace string
	now       time.Time
}

// get reads the object the report is about; a missing one is an error naming it.
func (d *describer) get(kind, name string, obj client.Object) error {
	if err := d.kube.Get(d.ctx, client.ObjectKey{Namespace: d.namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			if d.namespace == "" {
				return fmt.Errorf("%s %q not found", kind, name)
			}
			return fmt.Errorf("%s %q not found in namespace %s", kind, name, d.namespace)
		}
		return fmt.Errorf("get %s %s: %w", kind, name, err)
	}
	return nil
}

// ref is how the plugin's suggested commands name an object: "tenant/acme -n ns".
func (d *describer) ref(kind, name string) string {
	s := shortNames[kind] + "/" + name
	if d.namespace != "" {
		s += " -n " + d.namespace
	}
	return s
}

// root is the object's own line: kind/name, where it is, and what is unusual about it.
func (d *describer) root(kind string, obj client.Object, observed int64) *node {
	var notes []string
	if d.namespace != "" {
		notes = append(notes, "namespace "+d.namespace)
	}
	if observed != 0 && obj.GetGeneration() != observed {
		notes = append(notes, fmt.Sprintf("generation %d, status of generation %d", obj.GetGeneration(), observed))
	}
	if v1alpha1.IsPaused(obj) {
		notes = append(notes, "paused")
	}
	if m, ok := obj.(v1alpha1.Managed); ok && v1alpha1.ObserveOnly(m) {
		notes = append(notes, "observe only")
	}
	if obj.GetDeletionTimestamp() != nil {
		notes = append(notes, "being deleted since "+formatTime(obj.GetDeletionTimestamp()))
	}
	return &node{Label: kind + "/" + obj.GetName(), Message: strings.Join(notes, ", ")}
}

// conditionRows lists the conditions, Ready and Synced first, the others in the operator's order.
func conditionRows(conditions []metav1.Condition) []*node {
	rows := make([]*node, 0, len(conditions))
	for _, first := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionSynced} {
		if c := meta.FindStatusCondition(conditions, first); c != nil {
			rows = append(rows, conditionRow(*c))
		}
	}
	for _, c := range conditions {
		if c.Type != v1alpha1.ConditionReady && c.Type != v1alpha1.ConditionSynced {
			rows = append(rows, conditionRow(c))
		}
	}
	return rows
}

func conditionRow(c metav1.Condition) *node {
	return row(c.Type, string(c.Status), c.Reason, c.Message)
}

// connState is what a report knows of the StripeConnection an object uses.
type connState struct {
	Name string
	// Found is false when the connection does not exist; Err is set when it could not be read.
	Found bool
	Err   error
	Ready *metav1.Condition
}

func (c *connState) ready() bool {
	return c.Found && c.Ready != nil && c.Ready.Status == metav1.ConditionTrue
}

// connection reads the StripeConnection name and returns its row for the tree.
func (d *describer) connection(name string) (*node, *connState) {
	state := &connState{Name: name}
	label := kindConnection + "/" + name
	if name == "" {
		return row(kindConnection, "Unknown", "", "no spec.connectionRef"), state
	}
	var conn v1alpha1.StripeConnection
	err := d.kube.Get(d.ctx, client.ObjectKey{Name: name}, &conn)
	switch {
	case apierrors.IsNotFound(err):
		return row(label, "Missing", "NotFound", "no such StripeConnection"), state
	case err != nil:
		state.Err = err
		return row(label, "Unknown", "", "cannot read it: "+err.Error()), state
	}
	state.Found = true
	state.Ready = meta.FindStatusCondition(conn.Status.Conditions, v1alpha1.ConditionReady)
	n := row(label, "Unknown", "", "no status yet")
	if state.Ready != nil {
		n = row(label, string(state.Ready.Status), state.Ready.Reason, state.Ready.Message)
	}
	if conn.Status.AccountID != "" {
		n.add(fact("Account "+conn.Status.AccountID, connectionFacts(&conn)))
	}
	return n, state
}

func connectionFacts(conn *v1alpha1.StripeConnection) string {
	mode := "test mode"
	if conn.Status.Livemode {
		mode = "live mode"
	}
	region := conn.Status.Region
	if region == "" {
		region = conn.Spec.Region
	}
	return fmt.Sprintf("platform account, %s, region %s", mode, region)
}

// connectionName is spec.connectionRef's name, or "".
func connectionName(spec *v1alpha1.ManagedSpec) string {
	if spec == nil || spec.ConnectionRef == nil {
		return ""
	}
	return spec.ConnectionRef.Name
}

func formatTime(t *metav1.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// count says "1 field" or "n fields".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}
