// Command image builds the OCI images of the manager and the relay (and the Stripe emulator's, for
// config/samples/emulator) without a container engine
// (github.com/google/go-containerregistry): each holds one static binary (CGO_ENABLED=0, -trimpath,
// the version linked in) on an empty base (no shell, no package manager, no files but the binary), runs
// as 65532:65532, and carries the org.opencontainers.image.* labels. Everything in it (file times, the
// config's created, the history) is the commit's time, so one commit built with one Go toolchain gives
// byte-identical images: the same digests.
//
//	go run ./hack/image [-out dist/images] [-rev REV] [-version V] [-platform linux/amd64]
//
// It writes, per image, an OCI layout (dist/images/<name>/: crane push dist/images/manager REF, skopeo
// copy oci:dist/images/manager docker://REF) and the same as one archive (dist/images/<name>.tar, both
// an OCI layout archive and docker save's format: skopeo copy oci-archive:…, docker load, podman load,
// kind load image-archive), and prints the digests. Copied as OCI (from the layout, or the archive as
// oci-archive:) an image keeps its digest; a tool reading the archive as docker save's format (crane
// push FILE, an older docker load) writes a Docker manifest of the same config and layer: another digest.
//
// Without -rev it builds the working tree (the version says -dirty when tracked files differ from
// HEAD); with -rev it builds exactly that commit's tree (git archive), whatever the working tree holds.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// modulePath is this repository's module; its GitHub URL is the images' source label.
const modulePath = "github.com/cloudip/stripe-operator"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		out          = flag.String("out", "dist/images", "Folder of the OCI layouts (<name>/) and tarballs (<name>.tar).")
		rev          = flag.String("rev", "", "Build this commit's tree (git archive) instead of the working tree.")
		ver          = flag.String("version", "", "Version linked into the binaries and in the labels (default: git describe --tags --always --dirty).")
		registry     = flag.String("registry", "ghcr.io/cloudip", "Registry and owner of the default image names, <registry>/stripe-operator-<name>:<version>.")
		managerImage = flag.String("manager-image", "", "The manager's image name and tag in the tarball and the layout (default: from -registry and the version).")
		relayImage   = flag.String("relay-image", "", "The relay's image name and tag (default: from -registry and the version).")
		emulator     = flag.Bool("emulator", true, "Also build the Stripe emulator's image (stripe-emulator: config/samples/emulator runs it in a cluster).")
		platform     = flag.String("platform", "linux/"+runtime.GOARCH, "GOOS/GOARCH of the binaries and the images.")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	meta, err := gitMeta(ctx, *rev)
	if err != nil {
		return err
	}
	if *ver != "" {
		meta.Version = *ver
	}
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		// The reproducible-builds convention: the caller's timestamp instead of the commit's.
		secs, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", epoch, err)
		}
		meta.Created = time.Unix(secs, 0).UTC()
	}
	goos, goarch, ok := strings.Cut(*platform, "/")
	if !ok || goos == "" || goarch == "" {
		return fmt.Errorf("-platform %q is not GOOS/GOARCH", *platform)
	}

	src := "."
	if *rev != "" {
		dir, cleanup, err := exportTree(ctx, *rev)
		if err != nil {
			return err
		}
		defer cleanup()
		src = dir
	}
	refs := map[string]string{"manager": *managerImage, "relay": *relayImage}
	var specs []Spec
	for _, name := range []string{"manager", "relay"} {
		ref := refs[name]
		if ref == "" {
			ref = *registry + "/stripe-operator-" + name + ":" + tagOf(meta.Version)
		}
		specs = append(specs, Spec{Name: name, Package: "./cmd/" + name, Ref: ref})
	}
	if *emulator {
		specs = append(specs, Spec{Name: "stripe-emulator", Package: "./hack/stripe-emulator", Ref: *registry + "/stripe-emulator:" + tagOf(meta.Version)})
	}

	started := time.Now()
	results, err := Build(ctx, Options{Source: src, Out: *out, Meta: meta, OS: goos, Arch: goarch, Images: specs})
	if err != nil {
		return err
	}
	fmt.Printf("version %s, commit %s, created %s, %s/%s, in %s\n", meta.Version, meta.Commit,
		meta.Created.Format(time.RFC3339), goos, goarch, time.Since(started).Round(100*time.Millisecond))
	for _, r := range results {
		fmt.Printf("%-8s %s@%s\n         %s/, %s.tar; binary %s, image %s compressed\n", r.Name, r.Ref, r.Digest,
			r.Layout, r.Layout, mib(r.BinarySize), mib(r.CompressedSize))
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// tagOf makes a version a valid tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} (a semver's + becomes _).
func tagOf(v string) string {
	b := []byte(v)
	for i, c := range b {
		ok := c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c == '.' || c == '-')
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}
