# stripe-operator: kubebuilder-style targets. Every tool is pinned and built from the Go module proxy into
# bin/ (ignored by git), so a fresh machine needs nothing but Go.

CONTROLLER_GEN_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION  ?= v2.15.0

LOCALBIN       := $(CURDIR)/bin
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GOLANGCI_LINT  := $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

# The same flags the Dockerfile uses, so `make build` proves the image's build step without a Docker engine.
GO_BUILD_FLAGS := -trimpath -ldflags "-s -w"
export CGO_ENABLED := 0

# What go test runs, and how (e.g. make test TEST_PKGS=./internal/controller/billingplan/ TEST_ARGS='-run TestCrashSafety -v').
TEST_PKGS ?= ./...
TEST_ARGS ?=

.PHONY: all
all: build

##@ Development

# Two RBAC runs: the manager's role (config/rbac) from the controllers and cmd/manager, the relay's
# (config/relay/rbac) from cmd/relay only, so neither binary's markers leak into the other's role.
.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC (the manager's and the relay's) from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./internal/controller/...;./cmd/manager/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) rbac:roleName=relay-role paths="./cmd/relay/..." output:rbac:artifacts:config=config/relay/rbac

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run the linters configured in .golangci.yml.
	$(GOLANGCI_LINT) run ./...

.PHONY: envtest-assets
envtest-assets: ## Build (or find) kube-apiserver, etcd and kubectl for envtest; prints their folder.
	@bash hack/envtest-assets.sh

.PHONY: postgres
postgres: ## Make sure PostgreSQL's server binaries are installed (the relay's PostgreSQL store tests start a private server).
	@bash hack/postgres.sh >/dev/null

.PHONY: test
test: manifests generate fmt vet lint envtest-assets postgres ## Lint, then every test on the real control plane, the Stripe emulator and a private PostgreSQL.
	PG_BINDIR="$$(bash hack/postgres.sh)" KUBEBUILDER_ASSETS="$$(bash hack/envtest-assets.sh)" go test $(TEST_PKGS) -count=1 -timeout 20m $(TEST_ARGS)

# api and config cover every output (config/relay/rbac included); git status, not git diff, so that a
# generated file never committed (untracked) fails too.
.PHONY: verify-generated
verify-generated: manifests generate ## Fail when generated files differ from what is committed.
	@if [ -n "$$(git status --porcelain --untracked-files=all -- api config)" ]; then \
		git status --short --untracked-files=all -- api config; git --no-pager diff -- api config; \
		echo "generated files are stale: run make manifests generate and commit"; exit 1; fi

# The Helm chart (charts/stripe-operator) carries copies (charts/stripe-operator/files) of what
# controller-gen generates (the CRDs, the manager's and the relay's generated roles) and of the alerts
# and the dashboard (config/prometheus, config/grafana). test/chart fails when a copy differs from
# config/, and when the chart drifts from config/default.
.PHONY: chart
chart: manifests ## Copy the generated CRDs and roles, the alerts and the dashboard into the Helm chart.
	go generate ./test/chart/

.PHONY: helm-lint
helm-lint: ## helm lint --strict of the chart with each tested value set (the Helm SDK; no helm binary needed).
	go test ./test/chart/ -count=1 -run 'TestLint|TestGeneratedCopies|TestRenderRefuses'

.PHONY: chart-test
chart-test: envtest-assets ## The chart's tests: lint, render, server-side dry-run, helm install/upgrade/uninstall on the test control plane, equivalence with config/default.
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-assets.sh)" go test ./test/chart/ -count=1 $(TEST_ARGS)

##@ Build and run

.PHONY: build
build: ## Build the manager, the relay and the emulator; the first two exactly as the Dockerfile does.
	go build $(GO_BUILD_FLAGS) -o bin/manager ./cmd/manager
	go build $(GO_BUILD_FLAGS) -o bin/relay ./cmd/relay
	go build $(GO_BUILD_FLAGS) -o bin/stripe-emulator ./hack/stripe-emulator
	go build $(GO_BUILD_FLAGS) -o bin/kubectl-stripe ./cmd/kubectl-stripe

.PHONY: demo
demo: envtest-assets postgres ## Local control plane + Stripe emulator + operator + relay (+ a private PostgreSQL for the mirror); applies the samples and prints what they became.
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-assets.sh)" go run ./hack/demo $(DEMO_ARGS)

.PHONY: emulator
emulator: ## Run the Stripe emulator on 127.0.0.1:12111.
	go run ./hack/stripe-emulator -addr 127.0.0.1:12111

# Arguments for the benchmark (e.g. make bench-converge BENCH_ARGS='-plans 50', or
# BENCH_ARGS='-scenario tenants' for 500 StripeTenants; -h lists the flags).
BENCH_ARGS ?=

.PHONY: bench-converge
bench-converge: envtest-assets ## Benchmark: N BillingPlans (or, with BENCH_ARGS='-scenario tenants', StripeTenants) applied at once against the rate-limited emulator; prints time to all-Ready vs the lower bound.
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-assets.sh)" go run ./hack/bench/converge $(BENCH_ARGS)

# bench-scale runs exactly one configuration: 9,900 StripeTenants on 100 platform BillingPlans (10,000
# Kubernetes objects) at Stripe's live limit of 100 req/s; bench-converge takes any other.
.PHONY: bench-scale
bench-scale: envtest-assets ## Benchmark: 10,000 objects (9,900 StripeTenants + 100 BillingPlans) at once at Stripe's live limit (100 req/s, a live-mode connection); time to all-Synced vs the bound, duplicates, RSS per 1,000 objects, API-server writes per object, then a manager restart: the full resync's cost (about 15 min).
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-assets.sh)" go run ./hack/bench/converge -scenario tenants -tenants 9900 -plans 100 -rate 100 -timeout 40m -settle 60s

.PHONY: bench-relay
bench-relay: ## Benchmark: the webhook relay's intake (verify + durable commit + 200) vs a bare verify-only handler over HTTP on 127.0.0.1, delivery to sinks (lag, drain, exact ledger) and a kill -9 under load on SQLite; then the same intake and delivery on a private PostgreSQL with 1 and 3 replicas on one database (-postgres=false skips it); prints events/s, p50/p99 ack, delivered/s, lag, CPU, PASS/MISS (BENCH_ARGS='-duration 5s', -h lists the flags).
	go run ./hack/bench/relay $(BENCH_ARGS)

.PHONY: bench-mirror
bench-mirror: postgres ## Benchmark: a StripeMirror on a private PostgreSQL: Backfill of 20 accounts × 250 customers from the emulator at Stripe's test-mode limit (rows/s vs the 25 req/s bound, 429s), then 50,000 stored events caught up (events/s) and a steady 2,000 events/s for 10 s under Mirror.Run (lag p50/p99/max, kept up), on a SQLite and a PostgreSQL relay store (BENCH_ARGS='-events 10000', -h lists the flags).
	PG_BINDIR="$$(bash hack/postgres.sh)" go run ./hack/bench/mirror $(BENCH_ARGS)

##@ Images

# make image builds the manager's and the relay's OCI images with no container engine (hack/image, on
# go-containerregistry): static binaries on an empty base, user 65532:65532, no shell, OCI labels; the
# commit's time everywhere, so one commit gives the same digests. Written as OCI layouts
# dist/images/<name>/ and tarballs dist/images/<name>.tar, named MANAGER_IMAGE and RELAY_IMAGE (below),
# versioned VERSION when it is given. IMAGE_ARGS='-rev v0.1.0' builds exactly that commit's tree
# whatever the working tree holds; IMAGE_ARGS=-h lists the flags.
IMAGE_ARGS ?=

.PHONY: image
image: ## Build the OCI images of the manager, the relay and the Stripe emulator (for config/samples/emulator) without Docker (dist/images/<name>/ and <name>.tar); prints their digests.
	go run ./hack/image -out dist/images $(if $(filter command line environment,$(origin VERSION)),-version '$(VERSION)') \
		$(if $(MANAGER_IMAGE),-manager-image '$(MANAGER_IMAGE)') $(if $(RELAY_IMAGE),-relay-image '$(RELAY_IMAGE)') $(IMAGE_ARGS)

DOCKER ?= docker

# The same two images with a Docker engine, from the Dockerfile's targets relay and manager, with git's
# version, commit and commit time as build arguments (SOURCE_DATE_EPOCH too, for BuildKit's timestamps).
.PHONY: docker-build
docker-build: ## Build the same two images with Docker (the Dockerfile): tags MANAGER_IMAGE and RELAY_IMAGE.
	@set -e; \
	version='$(VERSION)'; [ -n "$$version" ] || version=$$(git describe --tags --always --dirty 2>/dev/null || echo dev); \
	commit=$$(git rev-parse HEAD 2>/dev/null || true); \
	date=$$(TZ=UTC git show -s --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ HEAD 2>/dev/null || true); \
	epoch=$$(git show -s --format=%ct HEAD 2>/dev/null || echo 0); \
	args="--build-arg VERSION=$$version --build-arg COMMIT=$$commit --build-arg DATE=$$date --build-arg SOURCE_DATE_EPOCH=$$epoch"; \
	set -x; \
	$(DOCKER) build $$args --target relay -t '$(or $(RELAY_IMAGE),relay:latest)' .; \
	$(DOCKER) build $$args --target manager -t '$(or $(MANAGER_IMAGE),controller:latest)' .

##@ Release

# The release's version and images (make release VERSION=v0.1.0 REGISTRY=ghcr.io/cloudip).
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REGISTRY      ?= ghcr.io/cloudip
MANAGER_IMAGE ?= $(REGISTRY)/stripe-operator-manager:$(VERSION)
RELAY_IMAGE   ?= $(REGISTRY)/stripe-operator-relay:$(VERSION)

.PHONY: release
release: envtest-assets ## Write dist/install.yaml: CRDs, RBAC, both Deployments, the relay's Services, PVC and NetworkPolicy, the namespace (Pod Security restricted), images set to MANAGER_IMAGE and RELAY_IMAGE.
	KUBECTL="$$(bash hack/envtest-assets.sh)/kubectl" bash hack/release.sh dist/install.yaml $(MANAGER_IMAGE) $(RELAY_IMAGE)

##@ Tools

$(CONTROLLER_GEN):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(LOCALBIN)/controller-gen $@

$(GOLANGCI_LINT):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $@

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
