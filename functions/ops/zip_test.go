package main

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZipKeepsBootstrapExecutableAtRoot(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "validator", "bootstrap")
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, []byte("\x7fELF binary"), 0o755))
	out := filepath.Join(dir, "out", "validator.zip")

	res := runOps(t, "zip", "-o", out, bin)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "validator.zip")

	zr, err := zip.OpenReader(out)
	require.NoError(t, err)
	defer zr.Close()
	require.Len(t, zr.File, 1)
	f := zr.File[0]
	assert.Equal(t, "bootstrap", f.Name, "Lambda looks for bootstrap at the root")
	assert.Equal(t, os.FileMode(0o755), f.Mode().Perm(), "Lambda runs bootstrap, so it must stay executable")
	rc, err := f.Open()
	require.NoError(t, err)
	body, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, "\x7fELF binary", string(body))

	first, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, os.Chtimes(bin, zipTime.AddDate(3, 0, 0), zipTime.AddDate(3, 0, 0)))
	require.Equal(t, 0, runOps(t, "zip", "-o", out, bin).code)
	second, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, first, second, "the same binary makes the same zip")
}
