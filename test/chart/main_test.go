package chart_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/cloudip/stripe-operator/internal/testenv"
)

// The chart and where config/default installs it.
const (
	chartPath        = "charts/stripe-operator"
	installNamespace = testenv.InstallNamespace // stripe-operator-system
	releaseName      = "stripe-operator"
)

// kubeVersion is what client-side renders claim the cluster runs (the test control plane's version).
var kubeVersion = &chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}

var (
	envOnce sync.Once
	env     *testenv.Env
	envErr  error
)

// TestMain stops the control plane, if a test started one.
func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// controlPlane starts (once) a control plane without the payments CRDs, which the chart installs
// itself (TestInstallUpgradeUninstall), but with stand-ins for prometheus-operator's ServiceMonitor and
// PrometheusRule CRDs (testdata/monitoring-crds), so that those objects are dry-run as well.
func controlPlane(t *testing.T) *testenv.Env {
	t.Helper()
	envOnce.Do(func() {
		env, envErr = testenv.Start(testenv.Options{CRDDirs: []string{filepath.Join("testdata", "monitoring-crds")}})
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return env
}

// repoPath is a path inside the repository.
func repoPath(t *testing.T, elem ...string) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// loadChart loads charts/stripe-operator from disk.
func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(repoPath(t, chartPath))
	if err != nil {
		t.Fatalf("load the chart: %v", err)
	}
	return ch
}

// values parses a values document (YAML) as helm install -f would.
func values(t *testing.T, doc string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &vals); err != nil {
		t.Fatalf("values %q: %v", doc, err)
	}
	return vals
}

// render renders the chart client-side as `helm template` does (values schema, the chart's fail
// checks, the kubeVersion constraint) and returns the manifest.
func render(ch *chart.Chart, release, namespace string, vals map[string]any) (string, error) {
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = release
	install.Namespace = namespace
	install.KubeVersion = kubeVersion
	rel, err := install.Run(ch, vals)
	if err != nil {
		return "", fmt.Errorf("render: %w", err)
	}
	var out strings.Builder
	out.WriteString(rel.Manifest)
	for _, hook := range rel.Hooks { // none today; rendered objects all the same
		out.WriteString("\n---\n" + hook.Manifest)
	}
	return out.String(), nil
}

// mustRender is render that fails the test.
func mustRender(t *testing.T, ch *chart.Chart, release, namespace string, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	manifest, err := render(ch, release, namespace, vals)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, manifest)
}

// decode splits a multi-document manifest into objects (empty documents skipped), with whole
// numbers as int64 as the API machinery decodes them.
func decode(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("split the manifest: %v", err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("decode %q: %v", doc, err)
		}
		if s := strings.TrimSpace(string(j)); s == "null" || s == "{}" || s == "" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(j); err != nil {
			t.Fatalf("decode %s: %v", j, err)
		}
		objs = append(objs, obj)
	}
}

// key names an object: Kind namespace/name.
func key(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetKind() + " " + obj.GetName()
	}
	return obj.GetKind() + " " + obj.GetNamespace() + "/" + obj.GetName()
}

// find returns the object of kind and name, failing the test if there is none.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, obj := range objs {
		if obj.GetKind() == kind && obj.GetName() == name {
			return obj
		}
	}
	t.Fatalf("no %s %s in %s", kind, name, keys(objs))
	return nil
}

// has tells whether an object of kind and name is there.
func has(objs []*unstructured.Unstructured, kind, name string) bool {
	for _, obj := range objs {
		if obj.GetKind() == kind && obj.GetName() == name {
			return true
		}
	}
	return false
}

// keys lists the objects' keys, sorted.
func keys(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, obj := range objs {
		out = append(out, key(obj))
	}
	sort.Strings(out)
	return out
}

// testContext is a context bounded for one test's API calls.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
