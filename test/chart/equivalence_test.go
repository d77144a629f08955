package chart_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cloudip/stripe-operator/internal/testenv"
)

// kustomizePrefix is config/default's namePrefix.
const kustomizePrefix = "stripe-operator-"

// TestEquivalentToConfigDefault keeps the chart and config/default from drifting apart: with default
// values the chart renders the same objects as `kubectl kustomize config/default` (the control plane's
// kubectl), but for the Namespace, which a chart leaves to --create-namespace. For every object the
// whole body is compared, after taking out only what is meant to differ:
//
//   - metadata: names lose their prefix (config/default's stripe-operator-, the chart's
//     <fullname>-), the release's namespace becomes <ns>, labels and annotations go but for the
//     rbac.authorization.k8s.io/aggregate-to-* labels, which decide who gets a role;
//   - the chart's app.kubernetes.io/instance selector label, and the containers' image and
//     imagePullPolicy (the chart sets them per binary from values);
//   - RBAC rules are compared as sets of (API group, resource, verb) and (URL, verb).
//
// So the RBAC rules and bindings, the Deployments' containers (command, args, env, ports, probes,
// security contexts, resources, mounts), their pods, strategies and replicas, the Services, the PVC,
// the NetworkPolicy and the CRDs' specs must be the same on both sides. The chart is rendered as
// release stripe-operator in stripe-operator-system (the names then match exactly) and as release
// payments in namespace billing (nothing in the chart may hard-code a name or a namespace).
func TestEquivalentToConfigDefault(t *testing.T) {
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(assets, "kubectl"), "kustomize", repoPath(t, "config", "default"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl kustomize config/default: %v: %s", err, stderr.String())
	}
	var kustomized []*unstructured.Unstructured
	for _, obj := range decode(t, stdout.String()) {
		if obj.GetKind() != "Namespace" {
			kustomized = append(kustomized, obj)
		}
	}
	want := normalizeAll(t, kustomized, kustomizePrefix, installNamespace)
	ch := loadChart(t)
	for _, c := range []struct{ release, namespace, fullname string }{
		{releaseName, installNamespace, "stripe-operator"},
		{"payments", "billing", "payments-stripe-operator"},
	} {
		t.Run(c.release+"-in-"+c.namespace, func(t *testing.T) {
			got := normalizeAll(t, mustRender(t, ch, c.release, c.namespace, nil), c.fullname+"-", c.namespace)
			compareObjects(t, got, want)
		})
	}
}

// compareObjects reports every object on one side only and every field that differs.
func compareObjects(t *testing.T, chartObjs, kustomizeObjs map[string]any) {
	t.Helper()
	for _, k := range sortedKeys(kustomizeObjs) {
		if _, ok := chartObjs[k]; !ok {
			t.Errorf("config/default has %s, the chart does not", k)
		}
	}
	for _, k := range sortedKeys(chartObjs) {
		w, ok := kustomizeObjs[k]
		if !ok {
			t.Errorf("the chart has %s, config/default does not", k)
			continue
		}
		var diffs []string
		diff(k, chartObjs[k], w, &diffs)
		for _, d := range diffs {
			t.Errorf("the chart and config/default differ: %s", d)
		}
	}
}

// normalizeAll normalizes objects (see TestEquivalentToConfigDefault), by key "Kind <ns>/name".
func normalizeAll(t *testing.T, objs []*unstructured.Unstructured, prefix, namespace string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, obj := range objs {
		ns := obj.GetNamespace()
		if ns == namespace {
			ns = "<ns>"
		}
		k := obj.GetKind() + " " + ns + "/" + strings.TrimPrefix(obj.GetName(), prefix)
		if _, dup := out[k]; dup {
			t.Fatalf("two objects %s", k)
		}
		body := obj.DeepCopy().Object
		meta, _ := body["metadata"].(map[string]any)
		kept := map[string]any{}
		if labels, ok := meta["labels"].(map[string]any); ok {
			for l, v := range labels {
				if strings.HasPrefix(l, "rbac.authorization.k8s.io/aggregate-to-") {
					kept[l] = v
				}
			}
		}
		body["metadata"] = map[string]any{"labels": kept}
		body = rewrite(body, prefix, namespace).(map[string]any)
		switch obj.GetKind() {
		case "Role", "ClusterRole":
			body["rules"] = atomicRules(t, obj)
		case "Deployment":
			containers, _, _ := unstructured.NestedSlice(body, "spec", "template", "spec", "containers")
			for _, c := range containers {
				delete(c.(map[string]any), "image")
				delete(c.(map[string]any), "imagePullPolicy")
			}
			_ = unstructured.SetNestedSlice(body, containers, "spec", "template", "spec", "containers")
		}
		out[k] = body
	}
	return out
}

// rewrite walks a decoded object: drops the chart's app.kubernetes.io/instance label keys, turns
// the release's namespace into <ns> and the names' prefix into <prefix>-.
func rewrite(v any, prefix, namespace string) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if k == "app.kubernetes.io/instance" {
				continue
			}
			out[k] = rewrite(e, prefix, namespace)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = rewrite(e, prefix, namespace)
		}
		return out
	case string:
		if v == namespace {
			return "<ns>"
		}
		if strings.HasPrefix(v, prefix) {
			return "<prefix>-" + strings.TrimPrefix(v, prefix)
		}
		return v
	default:
		return v
	}
}

// atomicRules expands a role's rules into sorted "group resource verb" and "url verb" strings, the
// set of what the role grants however its rules are grouped.
func atomicRules(t *testing.T, role *unstructured.Unstructured) []any {
	t.Helper()
	rules, _, err := unstructured.NestedSlice(role.Object, "rules")
	if err != nil {
		t.Fatalf("%s: rules: %v", key(role), err)
	}
	set := map[string]bool{}
	for _, r := range rules {
		rule := r.(map[string]any)
		list := func(field string) []string { return stringsOf(rule[field]) }
		for _, verb := range list("verbs") {
			for _, url := range list("nonResourceURLs") {
				set["url "+url+" "+verb] = true
			}
			for _, group := range list("apiGroups") {
				for _, resource := range list("resources") {
					names := list("resourceNames")
					if len(names) == 0 {
						names = []string{"*"}
					}
					for _, name := range names {
						set[fmt.Sprintf("%q %s/%s %s", group, resource, name, verb)] = true
					}
				}
			}
		}
	}
	out := make([]any, 0, len(set))
	for _, k := range sortedKeys(set) {
		out = append(out, k)
	}
	return out
}

// diff appends a line per difference between got (the chart) and want (config/default), by path.
func diff(path string, got, want any, out *[]string) {
	if len(*out) >= 40 {
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		all := map[string]bool{}
		for k := range w {
			all[k] = true
		}
		for k := range g {
			all[k] = true
		}
		for _, k := range sortedKeys(all) {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				*out = append(*out, fmt.Sprintf("%s.%s: the chart has none, config/default %s", path, k, show(wv)))
			case !wok:
				*out = append(*out, fmt.Sprintf("%s.%s: the chart has %s, config/default none", path, k, show(gv)))
			default:
				diff(path+"."+k, gv, wv, out)
			}
		}
		return
	case []any:
		g, ok := got.([]any)
		if !ok {
			break
		}
		if gs, ws, ok := stringSets(g, w); ok && len(g) != len(w) {
			for _, s := range sortedKeys(gs) {
				if !ws[s] {
					*out = append(*out, fmt.Sprintf("%s: the chart has %s, config/default not", path, s))
				}
			}
			for _, s := range sortedKeys(ws) {
				if !gs[s] {
					*out = append(*out, fmt.Sprintf("%s: config/default has %s, the chart not", path, s))
				}
			}
			return
		}
		if len(g) != len(w) {
			break
		}
		for i := range w {
			diff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], out)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		*out = append(*out, fmt.Sprintf("%s: the chart has %s, config/default %s", path, show(got), show(want)))
	}
}

// stringSets returns two lists of strings as sets (false if either holds anything else).
func stringSets(a, b []any) (sa, sb map[string]bool, ok bool) {
	sa, sb = map[string]bool{}, map[string]bool{}
	for _, list := range []struct {
		in  []any
		out map[string]bool
	}{{a, sa}, {b, sb}} {
		for _, e := range list.in {
			s, isString := e.(string)
			if !isString {
				return nil, nil, false
			}
			list.out[s] = true
		}
	}
	return sa, sb, true
}

// show prints a value briefly.
func show(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// sortedKeys returns a map's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
