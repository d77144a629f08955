# The manager's and the relay's images with a Docker engine (make docker-build; the default target is
# the manager's, `--target relay` the relay's). `make image` builds the same two images without an
# engine (hack/image): the same static binaries, on no base, as 65532:65532, with the same labels.
#
# Two images, one binary each: config/manager runs /manager from controller:latest, config/relay runs
# /relay from relay:latest, and a release sets both (hack/release.sh). Build both from one commit: the
# relay and the manager it talks to share the /notifications protocol, the API types and the Secrets.
FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# What the binaries' --version and stripe_operator_build_info say (make docker-build passes git's).
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
WORKDIR /workspace

# Dependencies first, so source edits do not invalidate the module download layer.
COPY go.mod go.sum ./
RUN go mod download

COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
COPY webhookrelay/ webhookrelay/

ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN go build -trimpath -buildvcs=false -o /out/ \
      -ldflags "-s -w -X github.com/cloudip/stripe-operator/internal/version.version=${VERSION} -X github.com/cloudip/stripe-operator/internal/version.commit=${COMMIT} -X github.com/cloudip/stripe-operator/internal/version.date=${DATE}" \
      ./cmd/manager ./cmd/relay

# Static binaries on an empty base: no shell, no package manager, no files but the binary (the root CAs
# are compiled in: golang.org/x/crypto/x509roots/fallback), a numeric non-root user.
FROM scratch AS relay
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
LABEL org.opencontainers.image.version="${VERSION}" org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}" org.opencontainers.image.source="https://github.com/cloudip/stripe-operator" \
      org.opencontainers.image.title="stripe-operator-relay"
COPY --from=builder /out/relay /relay
USER 65532:65532
ENTRYPOINT ["/relay"]

FROM scratch AS manager
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
LABEL org.opencontainers.image.version="${VERSION}" org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}" org.opencontainers.image.source="https://github.com/cloudip/stripe-operator" \
      org.opencontainers.image.title="stripe-operator-manager"
COPY --from=builder /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
