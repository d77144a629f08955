package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// maxReplayEvents is the most event ids a StripeEventReplay takes (its CRD's maxItems).
const maxReplayEvents = 1000

// eventID is a Stripe event id as the CRD accepts it.
var eventID = regexp.MustCompile(`^evt_[A-Za-z0-9]+$`)

// replayOptions are the flags of `kubectl stripe replay`.
type replayOptions struct {
	events   []string
	from, to string
	all      bool
	wait     bool
	name     string
	timeout  time.Duration
}

func newReplayCommand(c *cluster) *cobra.Command {
	o := &replayOptions{}
	cmd := &cobra.Command{
		Use:   "replay SINK (--event evt_… … | --from T [--to T])",
		Short: "Ask the webhook relay to deliver a sink's events again",
		Long: `Create a StripeEventReplay: the webhook relay sends the selected events to the StripeEventSink again,
with their original ids (the sink absorbs duplicates by webhook-id). The selection is the sink's dead
letters among the events named by --event, or among those Stripe created from --from to --to; --all
takes every delivery the sink was owed in it, delivered or not. A replay is carried out once.

--from and --to take RFC 3339 times (2026-05-04T10:00:00Z), dates (2026-05-04, midnight UTC) or
durations meaning that long ago (24h); --to defaults to now.`,
		Example: `  kubectl stripe replay orders -n cloudip-demo --event evt_1Nx --event evt_1Ny --wait
  kubectl stripe replay sink/orders -n cloudip-demo --from 24h --wait
  kubectl stripe replay orders -n cloudip-demo --from 2026-05-04T10:00:00Z --to 2026-05-04T12:00:00Z --all`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sink, err := nameOf(args[0], kindSink)
			if err != nil {
				return err
			}
			spec, err := o.spec(sink, time.Now())
			if err != nil {
				return err
			}
			kube, namespace, err := c.connect()
			if err != nil {
				return err
			}
			return runReplay(cmd.Context(), kube, namespace, spec, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.events, "event", nil, "an event id to replay (evt_…); repeat it or separate ids with commas")
	f.StringVar(&o.from, "from", "", "replay events Stripe created at or after this time")
	f.StringVar(&o.to, "to", "", "replay events Stripe created before this time (default: now)")
	f.BoolVar(&o.all, "all", false, "every delivery the sink was owed in the selection, not only dead letters")
	f.BoolVar(&o.wait, "wait", false, "wait until the relay has carried it out and print what it requeued")
	f.StringVar(&o.name, "name", "", "the StripeEventReplay's name (default: generated from the sink's)")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long --wait waits")
	return cmd
}

// spec checks the flags the way the CRD's rules will, so a mistake is said before anything is
// created, and returns the replay's spec.
func (o *replayOptions) spec(sink string, now time.Time) (v1alpha1.StripeEventReplaySpec, error) {
	spec := v1alpha1.StripeEventReplaySpec{SinkRef: v1alpha1.LocalObjectReference{Name: sink}, Selection: v1alpha1.ReplaySelectionDeadLettered}
	if o.all {
		spec.Selection = v1alpha1.ReplaySelectionAll
	}
	switch {
	case len(o.events) > 0 && (o.from != "" || o.to != ""):
		return spec, errors.New("give either --event or --from/--to, not both")
	case len(o.events) > 0:
		for _, id := range o.events {
			if !eventID.MatchString(id) {
				return spec, fmt.Errorf("--event %q: want a Stripe event id (evt_…)", id)
			}
			if !slices.Contains(spec.EventIDs, id) {
				spec.EventIDs = append(spec.EventIDs, id)
			}
		}
		if len(spec.EventIDs) > maxReplayEvents {
			return spec, fmt.Errorf("%d event ids: a replay takes at most %d (use --from/--to)", len(spec.EventIDs), maxReplayEvents)
		}
		return spec, nil
	case o.from == "":
		return spec, errors.New("say what to replay: --event evt_… (repeatable) or --from T [--to T]")
	}
	from, err := parseWhen(o.from, now)
	if err != nil {
		return spec, fmt.Errorf("--from: %w", err)
	}
	to := now
	if o.to != "" {
		if to, err = parseWhen(o.to, now); err != nil {
			return spec, fmt.Errorf("--to: %w", err)
		}
	}
	// Status and spec keep whole seconds: round outwards so that the range asked for is covered.
	from, to = from.Truncate(time.Second), to.Add(time.Second-time.Nanosecond).Truncate(time.Second)
	if !from.Before(to) {
		return spec, fmt.Errorf("--from %s is not before --to %s", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	spec.From, spec.To = &metav1.Time{Time: from}, &metav1.Time{Time: to}
	return spec, nil
}

// parseWhen reads an RFC 3339 time, a date (midnight UTC), or a duration meaning that long before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2026-05-04T10:00:00Z), a date (2026-05-04) or a duration ago (24h)", s)
}

// runReplay creates the replay and, with --wait, waits for the relay's answer.
func runReplay(ctx context.Context, kube client.Client, namespace string, spec v1alpha1.StripeEventReplaySpec, o *replayOptions, out io.Writer) error {
	var sink v1alpha1.StripeEventSink
	// A replay of a sink that does not exist fails at the relay: say it now. (Someone allowed to
	// create replays but not to read sinks goes on.)
	if err := kube.Get(ctx, client.ObjectKey{Namespace: namespace, Name: spec.SinkRef.Name}, &sink); apierrors.IsNotFound(err) {
		return fmt.Errorf("StripeEventSink %q not found in namespace %s", spec.SinkRef.Name, namespace)
	}
	replay := &v1alpha1.StripeEventReplay{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: o.name}, Spec: spec}
	if o.name == "" {
		replay.GenerateName = spec.SinkRef.Name + "-replay-"
	}
	if err := kube.Create(ctx, replay); err != nil {
		return fmt.Errorf("create StripeEventReplay: %w", err)
	}
	if _, err := fmt.Fprintf(out, "stripeeventreplay.payments.cloudip.io/%s created: %s of sink %s\n", replay.Name, replaySelection(&spec), spec.SinkRef.Name); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !o.wait {
		_, err := fmt.Fprintf(out, "follow it with: kubectl stripe status replay/%s -n %s\n", replay.Name, namespace)
		return wrapWrite(err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		if err := kube.Get(ctx, client.ObjectKeyFromObject(replay), replay); err != nil {
			return false, fmt.Errorf("get StripeEventReplay %s: %w", replay.Name, err)
		}
		return replay.Status.Phase == v1alpha1.ReplayPhaseComplete || replay.Status.Phase == v1alpha1.ReplayPhaseFailed, nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("StripeEventReplay %s is still %s after %s: check that the relay runs", replay.Name, v1alpha1.ReplayPhasePending, o.timeout)
		}
		return fmt.Errorf("wait for StripeEventReplay %s: %w", replay.Name, err)
	}
	s := replay.Status
	if s.Phase == v1alpha1.ReplayPhaseFailed {
		return fmt.Errorf("StripeEventReplay %s failed: %s", replay.Name, s.Message)
	}
	_, err = fmt.Fprintf(out, "%s: %s (matched %d, requeued %d)\n", s.Phase, s.Message, s.Matched, s.Requeued)
	return wrapWrite(err)
}

func wrapWrite(err error) error {
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
