package s3local

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/johannesboyne/gofakes3/backend/s3afero"
)

// keepETags makes a copied state folder serve the ETags it had. gofakes3's disk backend keeps
// each object's MD5 in a metadata file together with the object file's modification time, and
// recomputes it when the time differs; but it then hashes the metadata file instead of the
// object (s3afero's loadMeta passes the metadata path to hashFile, v1.2.0), so after `cp -r`,
// which gives every file a new time, every ETag changes. The validator pins an unversioned
// object to the ETag of its notification, so a dead-lettered batch could no longer be
// redriven from the copy. Before serving, this puts each object file's time back to the one
// its metadata holds when the content is the one the metadata describes, and otherwise
// records the content's real MD5 and time.
func keepETags(root string) error {
	buckets := filepath.Join(root, "buckets")
	return filepath.WalkDir(buckets, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(buckets, path)
		if err != nil {
			return err
		}
		bucket, key, ok := strings.Cut(filepath.ToSlash(rel), "/")
		if !ok {
			return nil
		}
		return keepETag(filepath.Join(root, "metadata", bucket, metaName(key)), path)
	})
}

// metaName is the metadata file's name of an object key, as s3afero's metaStore names it.
func metaName(key string) string {
	h := fnv.New128a()
	h.Write([]byte(key))
	name := strings.NewReplacer("/", "_", `\`, "_").Replace(key)
	return name + "-" + hex.EncodeToString(h.Sum(nil))
}

func keepETag(metaPath, objectPath string) error {
	raw, err := os.ReadFile(metaPath)
	if os.IsNotExist(err) {
		return nil // never served yet: gofakes3 hashes it when first asked
	}
	if err != nil {
		return err
	}
	var meta s3afero.Metadata
	if json.Unmarshal(raw, &meta) != nil || len(meta.Hash) == 0 {
		return nil
	}
	info, err := os.Stat(objectPath)
	if err != nil {
		return err
	}
	if info.ModTime().Equal(meta.ModTime) && info.Size() == meta.Size {
		return nil
	}
	f, err := os.Open(objectPath)
	if err != nil {
		return err
	}
	h := md5.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	if sum := h.Sum(nil); !bytes.Equal(sum, meta.Hash) || info.Size() != meta.Size {
		meta.Hash, meta.Size, meta.ModTime = sum, info.Size(), info.ModTime()
		out, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		return os.WriteFile(metaPath, out, 0o644)
	}
	return os.Chtimes(objectPath, meta.ModTime, meta.ModTime)
}
