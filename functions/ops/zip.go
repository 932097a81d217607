package main

import (
	"archive/zip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

const zipHelp = `
Packs files into a zip at its root, the layout Lambda expects of a provided.al2023
deployment package (an executable named bootstrap). The executable bit is kept and every
entry gets the same timestamp, so the same binary always makes the same zip, and a
redeploy of an unchanged function uploads nothing new. Prints each zip's size next to the
size of what it holds. Used by 'task build'; needs no zip program.`

// zipTime is the modification time of every entry: a fixed time makes builds reproducible.
var zipTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func runZip(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("zip", "-o OUT.zip FILE...", zipHelp, stderr)
	out := fs.String("o", "", "zip file to write (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if *out == "" || fs.NArg() == 0 {
		return usagef("need -o OUT.zip and at least one file")
	}
	var raw int64
	if err := writeZip(*out, fs.Args(), &raw); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-28s %9s  (unzipped %s)\n", *out, megabytes(st.Size()), megabytes(raw))
	return nil
}

func writeZip(out string, files []string, raw *int64) (err error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	zw := zip.NewWriter(f)
	for _, name := range files {
		if err := addFile(zw, name, raw); err != nil {
			return err
		}
	}
	return zw.Close()
}

func addFile(zw *zip.Writer, name string, raw *int64) error {
	src, err := os.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	hdr, err := zip.FileInfoHeader(st)
	if err != nil {
		return err
	}
	hdr.Name = filepath.Base(name)
	hdr.Method = zip.Deflate
	hdr.Modified = zipTime
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	n, err := io.Copy(w, src)
	*raw += n
	if err != nil {
		return fmt.Errorf("zip %s: %w", name, err)
	}
	return nil
}
