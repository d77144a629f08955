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
	"strconv"
	"strings"
	"time"
)

// Meta is what the binaries and the labels say about the build.
type Meta struct {
	// Version goes into the binaries (internal/version) and org.opencontainers.image.version.
	Version string
	// Commit is the full commit id (org.opencontainers.image.revision), empty outside a clone.
	Commit string
	// Created is the commit's time: the config's created, the layer's file times, the created label.
	Created time.Time
}

func git(ctx context.Context, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// gitMeta reads the version, the commit and its time: of rev, or of HEAD and the working tree. Outside
// a clone (a source tarball) the version is "dev", the commit unknown and the time 1970's, unless
// -version and SOURCE_DATE_EPOCH say otherwise.
func gitMeta(ctx context.Context, rev string) (Meta, error) {
	target := rev
	if target == "" {
		target = "HEAD"
	}
	commit, err := git(ctx, "rev-parse", "--verify", target+"^{commit}")
	if err != nil {
		if rev != "" {
			return Meta{}, err
		}
		fmt.Fprintln(os.Stderr, "image: not a git clone, building version dev of an unknown commit:", err)
		return Meta{Version: "dev", Created: time.Unix(0, 0).UTC()}, nil
	}
	describe := []string{"describe", "--tags", "--always"}
	if rev == "" {
		describe = append(describe, "--dirty")
	} else {
		describe = append(describe, commit)
	}
	version, err := git(ctx, describe...)
	if err != nil {
		return Meta{}, err
	}
	seconds, err := git(ctx, "show", "-s", "--format=%ct", commit)
	if err != nil {
		return Meta{}, err
	}
	secs, err := strconv.ParseInt(seconds, 10, 64)
	if err != nil {
		return Meta{}, fmt.Errorf("commit time %q: %w", seconds, err)
	}
	return Meta{Version: version, Commit: commit, Created: time.Unix(secs, 0).UTC()}, nil
}

// exportTree writes rev's tree (git archive) into a temporary folder: what the commit holds and nothing
// the working tree adds.
func exportTree(ctx context.Context, rev string) (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", "stripe-operator-src-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", rev)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	extractErr := extract(tar.NewReader(stdout), dir)
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return "", nil, fmt.Errorf("git archive %s: %w: %s", rev, err, strings.TrimSpace(stderr.String()))
	}
	if extractErr != nil {
		return "", nil, fmt.Errorf("git archive %s: %w", rev, extractErr)
	}
	return dir, cleanup, nil
}

func extract(tr *tar.Reader, dir string) error {
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("path %q leaves the tree", h.Name)
		}
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			err = writeFile(path, tr, os.FileMode(h.Mode)&0o777)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, path)
		default: // git archive's pax global header (the commit id), nothing else
		}
		if err != nil {
			return err
		}
	}
}

func writeFile(path string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
