package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// cluster holds kubectl's connection flags and makes the client every subcommand uses.
type cluster struct {
	loading   *clientcmd.ClientConfigLoadingRules
	overrides *clientcmd.ConfigOverrides
}

// connect returns a client for the flags' cluster and the namespace to work in (-n, else the
// context's, else "default"), as kubectl resolves them.
func (c *cluster) connect() (client.Client, string, error) {
	config := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(c.loading, c.overrides)
	namespace, _, err := config.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	rest, err := config.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	rest.UserAgent = "kubectl-stripe"
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, "", fmt.Errorf("scheme: %w", err)
		}
	}
	kube, err := client.New(rest, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fmt.Errorf("client for %s: %w", rest.Host, err)
	}
	return kube, namespace, nil
}

// newRootCommand is `kubectl stripe` with its subcommands; main runs it, tests run it in-process
// with their own arguments and output.
func newRootCommand() *cobra.Command {
	c := &cluster{loading: clientcmd.NewDefaultClientConfigLoadingRules(), overrides: &clientcmd.ConfigOverrides{}}
	root := &cobra.Command{
		Use:   "kubectl-stripe",
		Short: "Inspect and operate the stripe-operator's objects",
		Long: `kubectl stripe shows what the stripe-operator made in Stripe for an object and what to do next,
requests a tenant's onboarding link, and asks the webhook relay to replay events to a sink.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl stripe"},
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	flags := root.PersistentFlags()
	flags.StringVar(&c.loading.ExplicitPath, clientcmd.RecommendedConfigPathFlag, "", "path to the kubeconfig file")
	clientcmd.BindOverrideFlags(c.overrides, flags, clientcmd.RecommendedConfigOverrideFlags(""))
	root.AddCommand(newStatusCommand(c), newLinkCommand(c), newReplayCommand(c))
	return root
}

// colorful reports whether w is a terminal that takes colours (not with NO_COLOR, not when piped).
func colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
