package main

import (
	"archive/tar"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// want is what an image of the builder must be.
type want struct {
	name     string
	meta     Meta
	os, arch string
}

// shells are the base names of shells and of the multi-call binaries that hold one.
var shells = []string{"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox", "toybox"}

// checkImage lists every way img differs from an image of the builder: its config (a numeric non-root
// user, the binary as the entrypoint and nothing else to run, the labels, the commit's time) and its
// layers (exactly one file, the binary, root-owned and not writable: no shell, no other file, in any
// layer, even one a later layer deletes).
func checkImage(img v1.Image, w want) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	cfg, err := img.ConfigFile()
	if err != nil {
		return append(problems, "config: "+err.Error())
	}
	if cfg.Config.User != User {
		bad("user %q, want %q", cfg.Config.User, User)
	}
	if uid, _, _ := strings.Cut(cfg.Config.User, ":"); uid == "" || uid == "0" || uid == "root" {
		bad("runs as root (user %q)", cfg.Config.User)
	}
	if entry := []string{"/" + w.name}; !slices.Equal(cfg.Config.Entrypoint, entry) || len(cfg.Config.Cmd) != 0 {
		bad("entrypoint %q cmd %q, want entrypoint %q and no cmd", cfg.Config.Entrypoint, cfg.Config.Cmd, entry)
	}
	if cfg.OS != w.os || cfg.Architecture != w.arch {
		bad("platform %s/%s, want %s/%s", cfg.OS, cfg.Architecture, w.os, w.arch)
	}
	if !cfg.Created.Equal(w.meta.Created) {
		bad("created %s, want the commit's time %s", cfg.Created, w.meta.Created)
	}
	labels := map[string]string{
		LabelVersion:  w.meta.Version,
		LabelRevision: w.meta.Commit,
		LabelSource:   "https://github.com/cloudip/stripe-operator",
		LabelCreated:  w.meta.Created.UTC().Format(time.RFC3339),
	}
	for k, v := range labels {
		if got := cfg.Config.Labels[k]; got != v {
			bad("label %s=%q, want %q", k, got, v)
		}
	}
	layers, err := img.Layers()
	if err != nil {
		return append(problems, "layers: "+err.Error())
	}
	var files []string
	for i, l := range layers {
		err := eachFile(l, func(h *tar.Header, _ io.Reader) error {
			name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			base := strings.TrimPrefix(path.Base(name), ".wh.")
			if slices.Contains(shells, base) {
				bad("layer %d holds a shell: /%s", i, name)
			}
			files = append(files, name)
			if name == w.name && (h.Typeflag != tar.TypeReg || h.Mode&0o222 != 0 || h.Uid != 0 || h.Gid != 0) {
				bad("/%s: type %c mode %o owner %d:%d, want a regular file, not writable, owned by 0:0", name, h.Typeflag, h.Mode, h.Uid, h.Gid)
			}
			return nil
		})
		if err != nil {
			bad("layer %d: %v", i, err)
		}
	}
	if !slices.Equal(files, []string{w.name}) {
		bad("files %q, want only %q", files, w.name)
	}
	return problems
}

// eachFile calls fn for every entry of the layer's tar.
func eachFile(l v1.Layer, fn func(*tar.Header, io.Reader) error) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(h, tr); err != nil {
			return err
		}
	}
}

// checkBinary lists how the file at path differs from a binary of the builder: static (no ELF
// interpreter, CGO_ENABLED=0), built with -trimpath (which keeps -ldflags out of the build info: the
// version is checked by running --version), carrying the fallback root CAs (the image has no /etc/ssl).
func checkBinary(file string, w want) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	f, err := elf.Open(file)
	if err != nil {
		return []string{err.Error()}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			bad("dynamically linked: has an ELF interpreter")
		}
	}
	_ = f.Close()
	bi, err := buildinfo.ReadFile(file)
	if err != nil {
		return append(problems, "build info: "+err.Error())
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": w.os, "GOARCH": w.arch} {
		if settings[k] != v {
			bad("build setting %s=%q, want %q", k, settings[k], v)
		}
	}
	if bi.Path != modulePath+"/cmd/"+w.name {
		bad("main package %s, want %s/cmd/%s", bi.Path, modulePath, w.name)
	}
	if !slices.ContainsFunc(bi.Deps, func(m *debug.Module) bool { return m.Path == "golang.org/x/crypto/x509roots/fallback" }) {
		bad("no golang.org/x/crypto/x509roots/fallback: TLS to Stripe would find no root CA in an image without /etc/ssl")
	}
	return problems
}
