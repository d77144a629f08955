#!/usr/bin/env bash
# Builds (or finds) the envtest control plane: kube-apiserver, etcd and kubectl, from the Go module proxy,
# and prints the folder to use as KUBEBUILDER_ASSETS.
#
# - Idempotent: exits at once when the folder for these versions is already complete.
# - Atomic: builds into a temporary folder and renames it into place, so an interrupted build never
#   leaves a half-filled folder that later runs would trust.
# - Cached: the folder lives under bin/ (ignored by git) and is keyed by the versions; the Go build
#   cache makes a rebuild after `rm -rf bin` take seconds.
# Progress goes to stderr; stdout carries only the folder.
set -euo pipefail

KUBERNETES_VERSION=v1.37.2
ETCD_VERSION=v3.7.0

root=$(cd "$(dirname "$0")/.." && pwd)
assets="${root}/bin/k8s/${KUBERNETES_VERSION}-etcd-${ETCD_VERSION}-$(go env GOOS)-$(go env GOARCH)"

complete() { [ -x "$1/kube-apiserver" ] && [ -x "$1/etcd" ] && [ -x "$1/kubectl" ]; }

if complete "$assets"; then
  echo "$assets"
  exit 0
fi

mkdir -p "${root}/bin/k8s"
tmp=$(mktemp -d "${root}/bin/k8s/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X ${pkg}.gitVersion=${KUBERNETES_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitTreeState=clean"
done

echo "envtest-assets: building kube-apiserver, kubectl ${KUBERNETES_VERSION} and etcd ${ETCD_VERSION} (a cold build takes ~6 min on 2 cores)" >&2
start=$(date +%s)
(
  cd "${root}/hack/tools"
  GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl go.etcd.io/etcd/server/v3
)
# The etcd main package path ends in /server/v3, so go build names the binary after the last element.
mv "$tmp/v3" "$tmp/etcd" 2>/dev/null || mv "$tmp/server" "$tmp/etcd"
complete "$tmp" || { echo "envtest-assets: build finished without all three binaries" >&2; exit 1; }

rm -rf "$assets"
mv "$tmp" "$assets"
trap - EXIT
echo "envtest-assets: built in $(( $(date +%s) - start ))s into ${assets}" >&2
echo "$assets"
