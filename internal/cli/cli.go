// Package cli holds what the two binaries (cmd/manager, cmd/relay) share at start-up: the scheme of
// the objects they read, and the helpers behind the flags they both have (--secret-namespaces).
// --kubeconfig is controller-runtime's, registered by its config package for both.
package cli

import (
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
)

// NewScheme returns the scheme of Kubernetes' built-in kinds and payments.cloudip.io/v1alpha1.
func NewScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
	return scheme
}

// DefaultNamespace is the namespace the binary runs in (POD_NAMESPACE, set from the downward API),
// where the operator's own Secrets (the API keys) live; stripe-operator-system outside a pod.
func DefaultNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "stripe-operator-system"
}

// SplitList splits a comma-separated flag value, dropping blanks.
func SplitList(value string) []string {
	var out []string
	for _, item := range strings.Split(value, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
