// Package install tests the release manifests (make release, hack/release.sh) on the real test control
// plane.
package install

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/cloudip/stripe-operator/internal/testenv"
)

// TestReleaseManifests pins dist/install.yaml as hack/release.sh writes it: the API server accepts
// every object (kubectl apply --server-side), both Deployments run the images given (a tag for one, a digest
// for the other), the namespace enforces Pod Security "restricted", every container runs as non-root
// with no privilege escalation, and no RBAC rule grants a wildcard; config/samples/emulator (the
// in-cluster Stripe emulator and samples using it) applies on top.
func TestReleaseManifests(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	out := filepath.Join(t.TempDir(), "install.yaml")
	const (
		managerImage = "registry.example/stripe-operator-manager:v9.8.7"
		relayImage   = "registry.example/stripe-operator-relay@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	)
	cmd := exec.Command("bash", filepath.Join(env.RepoRoot, "hack", "release.sh"), out, managerImage, relayImage)
	cmd.Env = append(os.Environ(), "KUBECTL="+env.KubectlPath())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, b)
	}
	// Applied for real, as the README says (the control plane is this test's: no pods run, but the API
	// server validates and admits every object, Pod Security's labels included).
	if got, err := env.Kubectl("apply", "--server-side", "-f", out); err != nil {
		t.Fatalf("the API server refused the release manifests: %v", err)
	} else if !strings.Contains(got, "deployment.apps/stripe-operator-relay") {
		t.Fatalf("the dry run applied no relay Deployment:\n%s", got)
	}

	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]string{}
	docs := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			continue // the CRDs and comments: not in client-go's scheme
		}
		switch o := obj.(type) {
		case *corev1.Namespace:
			if o.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
				t.Errorf("namespace %s: pod-security enforce %q, want restricted", o.Name, o.Labels["pod-security.kubernetes.io/enforce"])
			}
		case *appsv1.Deployment:
			for _, c := range o.Spec.Template.Spec.Containers {
				images[o.Name] = c.Image
				sc := c.SecurityContext
				if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Errorf("%s/%s may escalate privileges", o.Name, c.Name)
				}
			}
			if psc := o.Spec.Template.Spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
				t.Errorf("%s may run as root", o.Name)
			}
		case *rbacv1.ClusterRole:
			noWildcards(t, "ClusterRole "+o.Name, o.Rules)
		case *rbacv1.Role:
			noWildcards(t, "Role "+o.Name, o.Rules)
		}
	}
	if images["stripe-operator-controller-manager"] != managerImage || images["stripe-operator-relay"] != relayImage {
		t.Errorf("images %v; want the manager on %s and the relay on %s", images, managerImage, relayImage)
	}

	// The in-cluster emulator's samples go on top, as the README says: the API server admits them
	// (the connection's http URLs are in-cluster Service hosts, which its validation allows).
	if _, err := env.Kubectl("apply", "--server-side", "-k", filepath.Join(env.RepoRoot, "config", "samples", "emulator")); err != nil {
		t.Fatalf("the API server refused config/samples/emulator: %v", err)
	}
}

func noWildcards(t *testing.T, who string, rules []rbacv1.PolicyRule) {
	t.Helper()
	for _, r := range rules {
		for _, v := range append(append(append([]string{}, r.APIGroups...), r.Resources...), r.Verbs...) {
			if v == "*" {
				t.Errorf("%s grants a wildcard: %+v", who, r)
			}
		}
	}
}
