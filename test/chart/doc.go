// Package chart holds the tests of the Helm chart charts/stripe-operator: it renders with the Helm
// SDK, lints, installs and upgrades on the test control plane, and stays equivalent to config/default.
//
// The chart's copies of what controller-gen generates (the CRDs and the two generated roles) and of
// the alerts and the dashboard (config/prometheus, config/grafana) are made by `make chart`, which runs
// the directive below; TestGeneratedCopies fails when they are stale.
package chart

//go:generate sh -c "rm -f ../../charts/stripe-operator/files/crds/*.yaml && cp ../../config/crd/bases/*.yaml ../../charts/stripe-operator/files/crds/ && cp ../../config/rbac/role.yaml ../../charts/stripe-operator/files/rbac/manager-role.yaml && cp ../../config/relay/rbac/role.yaml ../../charts/stripe-operator/files/rbac/relay-role.yaml && mkdir -p ../../charts/stripe-operator/files/prometheus ../../charts/stripe-operator/files/grafana && cp ../../config/prometheus/rules.yaml ../../charts/stripe-operator/files/prometheus/ && cp ../../config/grafana/stripe-operator.json ../../charts/stripe-operator/files/grafana/"
