package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var testMeta = Meta{
	Version: "v9.8.7-test.1",
	Commit:  "0123456789abcdef0123456789abcdef01234567",
	Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
}

// TestImages builds both images from this tree into a temporary folder as make image does, opens each
// with go-containerregistry from its OCI layout and from its archive (read as docker save's format,
// and extracted as an OCI layout, with the same digest), and checks them (checkImage:
// user 65532:65532, the binary as entrypoint, the labels, one file and no shell in any layer), then
// takes the binary out of the layer, checks it is static with the version linked in (checkBinary) and
// runs it with --version. Assembling the same binary again must give the same digest (reproducible).
func TestImages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the images' linux binaries run only on linux")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := t.TempDir()
	specs := []Spec{
		{Name: "manager", Package: "./cmd/manager", Ref: "example.test/stripe-operator-manager:" + tagOf(testMeta.Version)},
		{Name: "relay", Package: "./cmd/relay", Ref: "example.test/stripe-operator-relay:" + tagOf(testMeta.Version)},
	}
	results, err := Build(ctx, Options{Source: "../..", Out: out, Meta: testMeta, OS: "linux", Arch: runtime.GOARCH, Images: specs})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(specs) {
		t.Fatalf("%d results for %d images", len(results), len(specs))
	}
	for i, r := range results {
		spec := specs[i]
		t.Run(spec.Name, func(t *testing.T) {
			w := want{name: spec.Name, meta: testMeta, os: "linux", arch: runtime.GOARCH}
			img := openLayout(t, r.Layout, spec.Ref, r.Digest)
			if mt, err := img.MediaType(); err != nil || mt != types.OCIManifestSchema1 {
				t.Errorf("manifest media type %q (%v), want %q", mt, err, types.OCIManifestSchema1)
			}
			fromTar := openTarball(t, r.Layout+".tar", spec.Ref, img)
			fromArchive := openLayout(t, untar(t, r.Layout+".tar"), spec.Ref, r.Digest)
			for what, img := range map[string]v1.Image{"layout": img, "tarball": fromTar, "archive as a layout": fromArchive} {
				for _, p := range checkImage(img, w) {
					t.Errorf("%s: %s", what, p)
				}
			}
			binary := extractBinary(t, img, spec.Name)
			for _, p := range checkBinary(binary, w) {
				t.Errorf("binary: %s", p)
			}
			cmd := exec.CommandContext(ctx, binary, "--version")
			cmd.Env = []string{} // as in the image: nothing from this environment
			got, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("/%s --version: %v: %s", spec.Name, err, got)
			}
			line := strings.TrimSpace(string(got))
			prefix := spec.Name + " " + testMeta.Version + " commit " + testMeta.Commit + " built " + testMeta.Created.Format(time.RFC3339) + " go"
			if !strings.HasPrefix(line, prefix) || strings.Contains(line, "\n") {
				t.Errorf("/%s --version printed %q, want one line starting %q", spec.Name, line, prefix)
			}
			again, err := Assemble(spec, binary, testMeta, "linux", runtime.GOARCH)
			if err != nil {
				t.Fatal(err)
			}
			if d, err := again.Digest(); err != nil || d != r.Digest {
				t.Errorf("the same binary assembled again: digest %s (%v), first %s: not reproducible", d, err, r.Digest)
			}
		})
	}
}

// openLayout opens the layout's one image, checking its index names it by tag and by reference.
func openLayout(t *testing.T, dir, ref string, digest v1.Hash) v1.Image {
	t.Helper()
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest.Manifests) != 1 {
		t.Fatalf("layout %s holds %d manifests, want 1", dir, len(manifest.Manifests))
	}
	desc := manifest.Manifests[0]
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != digest || desc.Annotations["org.opencontainers.image.ref.name"] != tag.TagStr() ||
		desc.Annotations["io.containerd.image.name"] != tag.Name() {
		t.Errorf("layout index entry %s %v, want %s named %s", desc.Digest, desc.Annotations, digest, ref)
	}
	img, err := index.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// openTarball opens the archive as docker save's format, by its tag. That format keeps the config and
// the layers, not the manifest: the same config and layer digests as the layout's are the same image.
func openTarball(t *testing.T, file, ref string, fromLayout v1.Image) v1.Image {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(file, &tag)
	if err != nil {
		t.Fatal(err)
	}
	for what, get := range map[string]func(v1.Image) (v1.Hash, error){
		"config": func(i v1.Image) (v1.Hash, error) { return i.ConfigName() },
		"layer":  func(i v1.Image) (v1.Hash, error) { return layerDigest(i) },
	} {
		got, err1 := get(img)
		want, err2 := get(fromLayout)
		if err1 != nil || err2 != nil || got != want {
			t.Errorf("tarball %s %s (%v), layout's %s (%v)", what, got, err1, want, err2)
		}
	}
	return img
}

func layerDigest(img v1.Image) (v1.Hash, error) {
	m, err := img.Manifest()
	if err != nil {
		return v1.Hash{}, err
	}
	if len(m.Layers) != 1 {
		return v1.Hash{}, fmt.Errorf("%d layers, want 1", len(m.Layers))
	}
	return m.Layers[0].Digest, nil
}

// untar extracts the archive into a temporary folder: it must be an OCI layout too.
func untar(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	dir := t.TempDir()
	if err := extract(tar.NewReader(f), dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// extractBinary writes the image's /<name> (from the flattened filesystem) into a temporary file.
func extractBinary(t *testing.T, img v1.Image, binary string) string {
	t.Helper()
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("no /%s in the image", binary)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "/") != binary {
			continue
		}
		file := filepath.Join(t.TempDir(), binary)
		f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return file
	}
}

// TestCheckImageRejects pins checkImage itself: an image of the builder passes, and each way of
// breaking the promises (root, no user, a shell in a layer, a shell a later layer deletes, another
// file, a shell entrypoint, a label missing) is reported.
func TestCheckImageRejects(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "manager")
	if err := os.WriteFile(binary, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Name: "manager", Package: "./cmd/manager"}
	good, err := Assemble(spec, binary, testMeta, "linux", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	w := want{name: "manager", meta: testMeta, os: "linux", arch: "amd64"}
	if p := checkImage(good, w); len(p) != 0 {
		t.Fatalf("the builder's image is rejected: %q", p)
	}
	withConfig := func(edit func(*v1.Config)) v1.Image {
		cfg, err := good.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := *cfg.Config.DeepCopy()
		edit(&c)
		img, err := mutate.Config(good, c)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	withFiles := func(names ...string) v1.Image {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, n := range names {
			if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o755, Size: 1}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write([]byte{'x'}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil },
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(good, layer)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	for _, tc := range []struct {
		name string
		img  v1.Image
		want string
	}{
		{"root", withConfig(func(c *v1.Config) { c.User = "0:0" }), "runs as root"},
		{"no user", withConfig(func(c *v1.Config) { c.User = "" }), "runs as root"},
		{"user by name", withConfig(func(c *v1.Config) { c.User = "nonroot" }), `user "nonroot"`},
		{"shell entrypoint", withConfig(func(c *v1.Config) { c.Entrypoint = []string{"/bin/sh", "-c", "/manager"} }), "entrypoint"},
		{"a cmd too", withConfig(func(c *v1.Config) { c.Cmd = []string{"--help"} }), "no cmd"},
		{"no revision label", withConfig(func(c *v1.Config) { delete(c.Labels, LabelRevision) }), LabelRevision},
		{"a shell", withFiles("bin/sh"), "holds a shell: /bin/sh"},
		{"busybox", withFiles("usr/bin/busybox"), "holds a shell: /usr/bin/busybox"},
		{"a shell deleted later", withWhiteout(t, withFiles("bin/sh")), "holds a shell: /bin/sh"},
		{"another file", withFiles("etc/passwd"), "want only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := checkImage(tc.img, w)
			if !strings.Contains(strings.Join(problems, "\n"), tc.want) {
				t.Fatalf("checkImage = %q, want a problem with %q", problems, tc.want)
			}
		})
	}
}

// withWhiteout adds a layer deleting /bin/sh (an OCI whiteout): the flattened filesystem has
// no shell, the image's layers still ship one.
func withWhiteout(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "bin/.wh.sh", Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	out, err := mutate.AppendLayers(img, layer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTagOf(t *testing.T) {
	for in, want := range map[string]string{
		"v0.1.0":                 "v0.1.0",
		"v0.1.0+build.1":         "v0.1.0_build.1",
		"9fbccc3-dirty":          "9fbccc3-dirty",
		".hidden":                "_hidden",
		strings.Repeat("a", 200): strings.Repeat("a", 128),
	} {
		if got := tagOf(in); got != want {
			t.Errorf("tagOf(%q) = %q, want %q", in, got, want)
		}
	}
}
