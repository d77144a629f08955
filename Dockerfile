# Multi-stage build of the operator's binaries. `make build` runs the same `go build` commands, so the
# build step is proven on machines without a Docker engine.
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

ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN go build -trimpath -ldflags "-s -w" -o /out/manager ./cmd/manager
# The webhook relay (webhookrelay/) gets its build line here when its first binary lands.

# Static binaries on a distroless base: no shell, no package manager, non-root by default.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
