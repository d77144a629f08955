# Multi-stage build of the operator's binaries. `make build` runs the same `go build` commands, so the
# build step is proven on machines without a Docker engine.
#
# One image holds both binaries, /manager (the ENTRYPOINT) and /relay (config/relay's Deployment sets
# `command: [/relay]`): one build, one tag to push and to set in kustomize, and a relay that is always
# the same build as the manager it talks to (the /notifications protocol, the API types, the Secret
# layout). The cost is the other binary's megabytes in each image, pulled once per node. Separate
# images (`--target`) would save those, but would let a manager and a relay of different builds run
# side by side, and double what a release pushes and pins.
FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /workspace

# Dependencies first, so source edits do not invalidate the module download layer.
COPY go.mod go.sum ./
RUN go mod download

COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
COPY webhookrelay/ webhookrelay/

ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN go build -trimpath -ldflags "-s -w" -o /out/manager ./cmd/manager
RUN go build -trimpath -ldflags "-s -w" -o /out/relay ./cmd/relay

# Static binaries on a distroless base: no shell, no package manager, non-root by default.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/manager /manager
COPY --from=builder /out/relay /relay
USER 65532:65532
ENTRYPOINT ["/manager"]
