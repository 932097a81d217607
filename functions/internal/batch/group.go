package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Caps bound one load batch so that one loader run fits its timeout and memory (MaxBytes counts
// decompressed bytes, what the loader holds), and the
// execution input stays far below Step Functions' 256 KiB limit.
type Caps struct {
	MaxFiles int
	MaxBytes int64
}

// DefaultCaps are the documented defaults: 100 files or 512 MiB, whichever comes first.
func DefaultCaps() Caps { return Caps{MaxFiles: 100, MaxBytes: 512 << 20} }

// Validate rejects caps that could never form a batch.
func (c Caps) Validate() error {
	if c.MaxFiles < 1 || c.MaxFiles > 1000 {
		return fmt.Errorf("batch file cap %d is outside 1..1000", c.MaxFiles)
	}
	if c.MaxBytes < 1 {
		return fmt.Errorf("batch byte cap %d must be positive", c.MaxBytes)
	}
	return nil
}

// Split orders files canonically (bucket, key, version, etag) and cuts them into batches
// within the caps. The order makes the split, and so every execution name, a function of the
// set of files alone: the same files delivered again form the same batches. A file larger than
// MaxBytes travels alone.
func Split(files []File, caps Caps) [][]File {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return memberKey(sorted[i]) < memberKey(sorted[j]) })

	var out [][]File
	var cur []File
	var bytes int64
	for _, f := range sorted {
		if len(cur) > 0 && (len(cur) >= caps.MaxFiles || bytes+f.LoadBytes() > caps.MaxBytes) {
			out = append(out, cur)
			cur, bytes = nil, 0
		}
		cur = append(cur, f)
		bytes += f.LoadBytes()
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// memberKey identifies one version of one object; NUL cannot occur in bucket names or
// version ids, so the join is unambiguous.
func memberKey(f File) string {
	return strings.Join([]string{f.Bucket, f.Key, f.VersionID, f.ETag}, "\x00")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// ExecutionName derives the Step Functions execution name from the table and the members
// (bucket, key, version, etag). Step Functions refuses a second execution of the same name,
// which is what makes a re-delivered batch start nothing new. The name keeps to letters,
// digits, '-' and '_' (what execution names and CloudWatch log streams both accept) and to
// 80 characters.
func ExecutionName(table string, files []File) string {
	keys := make([]string, len(files))
	for i, f := range files {
		keys[i] = memberKey(f)
	}
	sort.Strings(keys)
	sum := sha256.Sum256([]byte(table + "\x01" + strings.Join(keys, "\x01")))
	prefix := strings.ToLower(unsafeName.ReplaceAllString(table, "_"))
	if len(prefix) > 24 {
		prefix = prefix[:24]
	}
	return fmt.Sprintf("%s-%dfiles-%s", prefix, len(files), hex.EncodeToString(sum[:])[:40])
}
