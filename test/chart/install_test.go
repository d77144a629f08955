package chart_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The CRDs an "older release" of the chart lacks or has older: what a crds/ folder would never bring
// to the cluster on `helm upgrade`.
const (
	addedCRD   = "stripeeventreplays.payments.cloudip.io"
	changedCRD = "stripetenants.payments.cloudip.io"
)

// TestInstallUpgradeUninstall proves the CRD strategy with Helm's own install, upgrade and uninstall
// on the test control plane (which starts without the payments CRDs): an older release of the chart
// (one CRD missing, another without its printer columns) is installed; `helm upgrade` to this chart
// creates the missing CRD and updates the changed one, so that every CRD on the server then has
// config/crd/bases' spec; `helm uninstall` removes the operator but keeps the CRDs (and with them
// every custom resource), as helm.sh/resource-policy: keep says.
func TestInstallUpgradeUninstall(t *testing.T) {
	e := controlPlane(t)
	ctx := testContext(t)
	ns, err := e.CreateNamespace(ctx, "chart-install-", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := helmConfig(t, e.KubeconfigPath, ns)
	current := loadChart(t)
	waitNoCRDs(ctx, t, e.Client)

	install := action.NewInstall(cfg)
	install.ReleaseName = releaseName
	install.Namespace = ns
	install.Timeout = time.Minute
	rel, err := install.RunWithContext(ctx, olderRelease(t, current), nil)
	if err != nil {
		t.Fatalf("helm install (the older release): %v", err)
	}
	if rel.Info.Status != release.StatusDeployed {
		t.Fatalf("installed release is %s", rel.Info.Status)
	}
	if err := e.Client.Get(ctx, client.ObjectKey{Name: addedCRD}, &apiextensionsv1.CustomResourceDefinition{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the older release installed %s (%v)", addedCRD, err)
	}
	var tenants apiextensionsv1.CustomResourceDefinition
	if err := e.Client.Get(ctx, client.ObjectKey{Name: changedCRD}, &tenants); err != nil {
		t.Fatal(err)
	}
	if cols := tenants.Spec.Versions[0].AdditionalPrinterColumns; len(cols) != 0 {
		t.Fatalf("the older release's %s has printer columns %v", changedCRD, cols)
	}

	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace = ns
	upgrade.Timeout = time.Minute
	if rel, err = upgrade.RunWithContext(ctx, releaseName, current, nil); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	if rel.Version != 2 || rel.Info.Status != release.StatusDeployed {
		t.Fatalf("upgraded release: version %d, %s", rel.Version, rel.Info.Status)
	}
	bases := decode(t, readCRDBases(t))
	if len(bases) != 7 {
		t.Fatalf("%d CRDs in config/crd/bases", len(bases))
	}
	for _, base := range bases {
		var want apiextensionsv1.CustomResourceDefinition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(base.Object, &want); err != nil {
			t.Fatal(err)
		}
		got := waitEstablished(ctx, t, e.Client, want.Name)
		if got.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("%s is not annotated helm.sh/resource-policy: keep", want.Name)
		}
		if !reflect.DeepEqual(got.Spec.Versions, want.Spec.Versions) || !reflect.DeepEqual(got.Spec.Names, want.Spec.Names) ||
			got.Spec.Scope != want.Spec.Scope || got.Spec.Group != want.Spec.Group {
			t.Errorf("after helm upgrade, %s on the server is not config/crd/bases' CRD", want.Name)
		}
	}

	uninstall := action.NewUninstall(cfg)
	uninstall.Timeout = time.Minute
	res, err := uninstall.Run(releaseName)
	if err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	for _, base := range bases {
		if err := e.Client.Get(ctx, client.ObjectKey{Name: base.GetName()}, &apiextensionsv1.CustomResourceDefinition{}); err != nil {
			t.Errorf("after helm uninstall, CRD %s: %v", base.GetName(), err)
		}
	}
	if !strings.Contains(res.Info, addedCRD) {
		t.Errorf("helm uninstall does not say it kept the CRDs: %q", res.Info)
	}
	// Leave the control plane without the CRDs, as the next run (-count) expects it (which waits for
	// their deletion to finish). A CRD is deleted only once its objects can be listed: deleted while
	// its storage is still re-initializing after the upgrade, its finalizer fails ("could not list
	// instances") and is not retried for minutes.
	for _, base := range bases {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(base.Object, &crd); err != nil {
			t.Fatal(err)
		}
		list := &unstructured.UnstructuredList{}
		list.SetAPIVersion(crd.Spec.Group + "/" + crd.Spec.Versions[0].Name)
		list.SetKind(crd.Spec.Names.ListKind)
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			return e.Client.List(ctx, list) == nil, nil
		}); err != nil {
			t.Errorf("list %s: %v", crd.Spec.Names.Plural, err)
		}
		if err := e.Client.Delete(ctx, &crd); err != nil {
			t.Errorf("delete CRD %s: %v", crd.Name, err)
		}
	}
	for k, obj := range map[client.ObjectKey]client.Object{
		{Namespace: ns, Name: "stripe-operator-controller-manager"}: &appsv1.Deployment{},
		{Namespace: ns, Name: "stripe-operator-relay"}:              &appsv1.Deployment{},
		{Name: "stripe-operator-manager-role"}:                      &rbacv1.ClusterRole{},
	} {
		if err := e.Client.Get(ctx, k, obj); !apierrors.IsNotFound(err) {
			t.Errorf("after helm uninstall, %T %s is still there (%v)", obj, k, err)
		}
	}
}

// waitNoCRDs waits until no payments CRD is left from an earlier run of the test.
func waitNoCRDs(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	var left []string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		var crds apiextensionsv1.CustomResourceDefinitionList
		if err := c.List(ctx, &crds); err != nil {
			return false, err
		}
		left = nil
		for _, crd := range crds.Items {
			if crd.Spec.Group == "payments.cloudip.io" {
				left = append(left, fmt.Sprintf("%s (finalizers %v, conditions %v)", crd.Name, crd.Finalizers, crd.Status.Conditions))
			}
		}
		return len(left) == 0, nil
	})
	if err != nil {
		t.Fatalf("payments CRDs left from an earlier run: %v: %s", err, strings.Join(left, "; "))
	}
}

// helmConfig is an action.Configuration on the test control plane, releases stored in Secrets of ns.
func helmConfig(t *testing.T, kubeconfig, ns string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	cacheDir := t.TempDir()
	flags.KubeConfig, flags.Namespace, flags.CacheDir = &kubeconfig, &ns, &cacheDir
	cfg := &action.Configuration{}
	if err := cfg.Init(flags, ns, "secret", func(format string, v ...any) { t.Logf("helm: "+format, v...) }); err != nil {
		t.Fatalf("helm configuration: %v", err)
	}
	return cfg
}

// olderRelease is the chart as an older release would have it: without addedCRD, and changedCRD
// without its printer columns.
func olderRelease(t *testing.T, current *chart.Chart) *chart.Chart {
	t.Helper()
	older := *current
	older.Files = nil
	for _, f := range current.Files {
		switch filepath.Base(f.Name) {
		case "payments.cloudip.io_stripeeventreplays.yaml":
			continue
		case "payments.cloudip.io_stripetenants.yaml":
			var crd map[string]any
			if err := yaml.Unmarshal(f.Data, &crd); err != nil {
				t.Fatal(err)
			}
			for _, v := range crd["spec"].(map[string]any)["versions"].([]any) {
				delete(v.(map[string]any), "additionalPrinterColumns")
			}
			data, err := yaml.Marshal(crd)
			if err != nil {
				t.Fatal(err)
			}
			f = &chart.File{Name: f.Name, Data: data}
		}
		older.Files = append(older.Files, f)
	}
	if len(older.Files) != len(current.Files)-1 {
		t.Fatalf("the chart's files are not what the test expects: %d", len(current.Files))
	}
	return &older
}

// readCRDBases returns config/crd/bases as one manifest.
func readCRDBases(t *testing.T) string {
	t.Helper()
	paths, err := filepath.Glob(repoPath(t, "config", "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("\n---\n" + string(data))
	}
	return out.String()
}

// waitEstablished waits until the CRD is Established and returns it.
func waitEstablished(ctx context.Context, t *testing.T, c client.Client, name string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v", name, err)
	}
	return crd
}
