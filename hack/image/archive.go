package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// writeArchive writes the OCI layout in dir as one tar that is both an OCI image layout archive
// (oci-layout, index.json, blobs/: skopeo's oci-archive:, ctr import, kind load image-archive, docker
// load from Docker 25) and docker save's format (manifest.json naming the same blobs: docker load of
// any version, podman load), as Docker 25's docker save writes it. The blobs are the layout's, so the
// image keeps its digest wherever it is loaded or copied from. Entries are sorted, with fixed times
// and modes: the same layout gives the same bytes.
func writeArchive(dir, file string, ref name.Tag, img v1.Image) error {
	cfg, err := img.ConfigName()
	if err != nil {
		return err
	}
	manifest, err := img.Manifest()
	if err != nil {
		return err
	}
	layers := make([]string, 0, len(manifest.Layers))
	for _, l := range manifest.Layers {
		layers = append(layers, "blobs/"+l.Digest.Algorithm+"/"+l.Digest.Hex)
	}
	dockerManifest, err := json.Marshal([]map[string]any{{
		"Config":   "blobs/" + cfg.Algorithm + "/" + cfg.Hex,
		"RepoTags": []string{ref.Name()},
		"Layers":   layers,
	}})
	if err != nil {
		return err
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, relErr := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
			return relErr
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(files)

	f, err := os.Create(file)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	header := func(name string, size int64) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatUSTAR}
	}
	err = func() error {
		for _, rel := range files {
			if err := copyEntry(tw, header, filepath.Join(dir, filepath.FromSlash(rel)), rel); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(header("manifest.json", int64(len(dockerManifest)))); err != nil {
			return err
		}
		_, err := tw.Write(dockerManifest)
		return err
	}()
	if err == nil {
		err = tw.Close()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

func copyEntry(tw *tar.Writer, header func(string, int64) *tar.Header, path, name string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(header(name, fi.Size())); err != nil {
		return err
	}
	_, err = io.Copy(tw, src)
	return err
}
