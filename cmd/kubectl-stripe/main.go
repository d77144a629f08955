// Command kubectl-stripe is the stripe-operator's kubectl plugin: on PATH as kubectl-stripe, it runs as
// `kubectl stripe …`.
//
//	kubectl stripe status KIND/NAME [-n NS] [-o json]   a tree of the object, its Stripe objects and what to do next
//	kubectl stripe link TENANT [-n NS]                  request an onboarding link and print it from its Secret
//	kubectl stripe replay SINK [-n NS] (--event evt_… | --from T [--to T]) [--all] [--wait]
//
// It takes kubectl's connection flags (--kubeconfig, --context, -n, --as, …) and needs nothing but
// the cluster: every answer comes from the objects' status, which the operator and the relay write.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
