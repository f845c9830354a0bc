package main

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// archiveFile is one file to put at the top of a release archive.
type archiveFile struct {
	Name string      // name inside the archive (no folders)
	Path string      // where it is on disk
	Mode os.FileMode // 0755 for the binary, 0644 for the rest
}

// writeArchive writes files into a reproducible tar.gz (or zip when the name
// ends in .zip) at path: entries sorted by name, owner and group 0 with no
// names, every mtime set to mtime, and a gzip header without name or time.
// The archive is written to path.part and renamed into place, so a failed
// run never leaves a half-written archive under the final name.
func writeArchive(path string, files []archiveFile, mtime time.Time) (err error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b archiveFile) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	part := path + ".part"
	f, err := os.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(part)
		}
	}()
	if filepath.Ext(path) == ".zip" {
		err = writeZip(f, files, mtime)
	} else {
		err = writeTarGz(f, files, mtime)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(part, path)
}

func writeTarGz(w io.Writer, files []archiveFile, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	// gzip.Header is left zero: no file name, no mtime (RFC 1952 MTIME = 0).
	tw := tar.NewWriter(gz)
	for _, file := range files {
		data, err := os.ReadFile(file.Path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     file.Name,
			Mode:     int64(file.Mode.Perm()),
			Size:     int64(len(data)),
			ModTime:  mtime,
			Uid:      0,
			Gid:      0,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, files []archiveFile, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	for _, file := range files {
		data, err := os.ReadFile(file.Path)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: file.Name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(file.Mode.Perm())
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := fw.Write(data); err != nil {
			return err
		}
	}
	return zw.Close()
}
