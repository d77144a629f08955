// Package observability keeps the alerts (config/prometheus/rules.yaml), the Grafana dashboard
// (config/grafana/stripe-operator.json) and the runbook (docs/runbook.md) true to the code.
package observability

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// metricName matches a metric of ours in Go source (a quoted name) or in PromQL.
var metricName = regexp.MustCompile(`\bstripe_[a-z_]+\b`)

const root = "../.."

// exported returns the metric names the binaries' code defines (quoted stripe_… strings outside tests).
func exported(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	quoted := regexp.MustCompile(`"(stripe_[a-z_]+)"`)
	for _, dir := range []string{"internal", "webhookrelay", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range quoted.FindAllStringSubmatch(string(src), -1) {
				names[m[1]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// known says whether a name PromQL uses is exported (a histogram's _bucket, _sum and _count too).
func known(names map[string]bool, used string) bool {
	if names[used] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(used, suffix); ok && names[base] {
			return true
		}
	}
	return false
}

type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	Annotations map[string]string `json:"annotations"`
}

type prometheusRule struct {
	Kind string `json:"kind"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []rule `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// TestAlertsAndRunbook pins the alerts: each names only metrics the code exports, and each has a
// runbook_url whose section exists in docs/runbook.md.
func TestAlertsAndRunbook(t *testing.T) {
	names := exported(t)
	raw, err := os.ReadFile(filepath.Join(root, "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pr prometheusRule
	if err := yaml.Unmarshal(raw, &pr); err != nil {
		t.Fatalf("rules.yaml: %v", err)
	}
	runbook, err := os.ReadFile(filepath.Join(root, "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			alerts++
			for _, used := range metricName.FindAllString(r.Expr, -1) {
				if !known(names, used) {
					t.Errorf("alert %s uses %s, which no binary exports", r.Alert, used)
				}
			}
			url := r.Annotations["runbook_url"]
			if !strings.HasSuffix(url, "docs/runbook.md#"+strings.ToLower(r.Alert)) {
				t.Errorf("alert %s: runbook_url %q does not point at its section", r.Alert, url)
			}
			if !strings.Contains(string(runbook), "\n## "+r.Alert+"\n") {
				t.Errorf("alert %s has no section in docs/runbook.md", r.Alert)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("alert %s has no summary", r.Alert)
			}
		}
	}
	if pr.Kind != "PrometheusRule" || alerts == 0 {
		t.Fatalf("rules.yaml: kind %q with %d alerts", pr.Kind, alerts)
	}
}

// TestDashboardMetrics pins the Grafana dashboard: valid JSON whose every query names only metrics
// the code exports.
func TestDashboardMetrics(t *testing.T) {
	names := exported(t)
	raw, err := os.ReadFile(filepath.Join(root, "config", "grafana", "stripe-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	queries := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			queries++
			for _, used := range metricName.FindAllString(target.Expr, -1) {
				if !known(names, used) {
					t.Errorf("panel %q uses %s, which no binary exports", p.Title, used)
				}
			}
		}
	}
	if queries == 0 {
		t.Fatal("the dashboard has no queries")
	}
}
