package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the images' numeric user and group: not root, and no /etc/passwd needed to resolve it
// (65532 is distroless' "nonroot", so a PodSecurityContext written for those images fits).
const User = "65532:65532"

// versionPkg is where the binaries' version variables live (internal/version).
const versionPkg = modulePath + "/internal/version"

// OCI label keys (the image-spec's pre-defined annotations).
const (
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
	LabelSource   = "org.opencontainers.image.source"
	LabelCreated  = "org.opencontainers.image.created"
	LabelTitle    = "org.opencontainers.image.title"
)

// Spec is one image: a main package whose binary is the image's one file and its entrypoint.
type Spec struct {
	// Name is the binary's name, its path in the image (/<Name>) and the output's (dist/images/<Name>).
	Name string
	// Package is the main package (./cmd/manager).
	Package string
	// Ref is the image's name and tag in the tarball and the layout's index.
	Ref string
}

// Options is one run of the builder.
type Options struct {
	// Source is the module's folder (the working tree, or a commit's exported tree).
	Source string
	// Out receives <name>/ (an OCI layout) and <name>.tar per image.
	Out      string
	Meta     Meta
	OS, Arch string
	Images   []Spec
}

// Result is one image written.
type Result struct {
	Name, Ref string
	// Digest is the image manifest's (what a registry and a pod's imageID show).
	Digest v1.Hash
	// Layout is the OCI layout's folder; the tarball is Layout + ".tar".
	Layout string
	// BinarySize is the binary's size; CompressedSize is the layer's, config's and manifest's.
	BinarySize, CompressedSize int64
}

// Build compiles the binaries and writes their images.
func Build(ctx context.Context, o Options) ([]Result, error) {
	bin, err := os.MkdirTemp("", "stripe-operator-bin-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(bin) }()
	if err := buildBinaries(ctx, o, bin); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	results := make([]Result, 0, len(o.Images))
	for _, spec := range o.Images {
		binary := filepath.Join(bin, spec.Name)
		img, err := Assemble(spec, binary, o.Meta, o.OS, o.Arch)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Name, err)
		}
		r, err := write(img, spec, o.Out, o.OS, o.Arch)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Name, err)
		}
		fi, err := os.Stat(binary)
		if err != nil {
			return nil, err
		}
		r.BinarySize = fi.Size()
		results = append(results, r)
	}
	return results, nil
}

// LDFlags strip the symbol table and DWARF (-s -w, as the Dockerfile) and link the version in.
func LDFlags(m Meta) string {
	return strings.Join([]string{"-s", "-w",
		"-X", versionPkg + ".version=" + m.Version,
		"-X", versionPkg + ".commit=" + m.Commit,
		"-X", versionPkg + ".date=" + m.Created.UTC().Format(time.RFC3339),
	}, " ")
}

// buildBinaries runs one go build for every image's package: static (CGO_ENABLED=0), no local paths
// (-trimpath), no VCS stamp (-buildvcs=false: the commit is linked in by -X instead, so a commit's
// exported tree and a clean clone of it give the same bytes).
func buildBinaries(ctx context.Context, o Options, dir string) error {
	for _, s := range []string{o.Meta.Version, o.Meta.Commit} {
		if strings.ContainsAny(s, " \t\n'\"") {
			return fmt.Errorf("version or commit %q holds a space or a quote", s)
		}
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", LDFlags(o.Meta), "-o", dir + string(filepath.Separator)}
	for _, spec := range o.Images {
		args = append(args, spec.Package)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.Source
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+o.OS, "GOARCH="+o.Arch, "GOFLAGS=-mod=readonly", "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// Assemble makes the image of one binary: one layer holding /<name> (root-owned, 0555, the commit's
// time), on no base.
func Assemble(spec Spec, binary string, m Meta, goos, goarch string) (v1.Image, error) {
	layer, err := binaryLayer(spec.Name, binary, m.Created)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		LabelVersion: m.Version,
		LabelSource:  "https://" + modulePath,
		LabelCreated: m.Created.UTC().Format(time.RFC3339),
		LabelTitle:   "stripe-operator-" + spec.Name,
	}
	if m.Commit != "" {
		labels[LabelRevision] = m.Commit
	}
	created := v1.Time{Time: m.Created.UTC()}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: goarch,
		OS:           goos,
		Created:      created,
		Config: v1.Config{
			User:       User,
			Entrypoint: []string{"/" + spec.Name},
			WorkingDir: "/",
			Labels:     labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "hack/image: " + spec.Package + " as /" + spec.Name,
			Comment:   "go build -trimpath, CGO_ENABLED=0",
		},
	})
}

// binaryLayer is the gzipped tar of the one file, compressed once (kept in memory: the digest and
// every writer read the same bytes).
func binaryLayer(name, binary string, mtime time.Time) (v1.Layer, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var compressed bytes.Buffer
	zw, err := gzip.NewWriterLevel(&compressed, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     int64(len(data)),
		Mode:     0o555,
		ModTime:  mtime.UTC(),
		Format:   tar.FormatUSTAR,
	}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	blob := compressed.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// write replaces out/<name>/ (an OCI layout with the image, named by its tag and full reference) and
// out/<name>.tar (the same layout as one archive, which docker load reads too), each written beside and
// renamed into place.
func write(img v1.Image, spec Spec, out, goos, goarch string) (Result, error) {
	ref, err := name.NewTag(spec.Ref, name.WeakValidation)
	if err != nil {
		return Result{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return Result{}, err
	}
	dir := filepath.Join(out, spec.Name)
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	path, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return Result{}, err
	}
	if err := path.AppendImage(img,
		layout.WithPlatform(v1.Platform{OS: goos, Architecture: goarch}),
		layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": ref.TagStr(),
			"io.containerd.image.name":          ref.Name(),
		})); err != nil {
		return Result{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return Result{}, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return Result{}, err
	}
	if err := writeArchive(dir, dir+".tar.tmp", ref, img); err != nil {
		return Result{}, err
	}
	if err := os.Rename(dir+".tar.tmp", dir+".tar"); err != nil {
		return Result{}, err
	}
	size, err := compressedSize(img)
	if err != nil {
		return Result{}, err
	}
	return Result{Name: spec.Name, Ref: ref.Name(), Digest: digest, Layout: dir, CompressedSize: size}, nil
}

// compressedSize is what a registry stores and a node pulls: manifest, config and layers.
func compressedSize(img v1.Image) (int64, error) {
	manifest, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	size := int64(len(raw)) + manifest.Config.Size
	for _, l := range manifest.Layers {
		size += l.Size
	}
	return size, nil
}
