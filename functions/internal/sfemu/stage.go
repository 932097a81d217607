package sfemu

// Stages and files: this file keeps the emulator's internal stages on disk and answers the
// file commands that use them (PUT, LIST, REMOVE); copy.go loads staged files into tables,
// and s3stage.go serves the stages as S3.
//
// Only the user stage, @~, exists: it is the one the loader uses, and the one that needs
// no privilege (https://docs.snowflake.com/en/user-guide/data-load-local-file-system-create-stage).
// Its files live under Config.StageDir, in a directory per user. A PUT is answered the way
// Snowflake answers it, with the stage's location for the driver to upload to: an S3
// location over TLS (s3stage.go), where the driver's S3 client and client-side encryption
// run as in production, or LOCAL_FS, a directory the driver writes into itself.

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// stageDir is where user's stage keeps its files.
func (s *Server) stageDir(user string) string {
	return filepath.Join(s.stageRoot, "users", hex.EncodeToString([]byte(user)))
}

// stagedFile is one file of a stage.
type stagedFile struct {
	name string // path relative to the stage, as LIST and METADATA$FILENAME give it
	path string // where it is on disk
	size int64
	mod  time.Time
}

// stagedFiles lists the files of user's stage under path (a folder or a name prefix, as
// Snowflake matches it) whose names match pattern, a regular expression over the whole
// name ("" matches all), sorted by name.
func (s *Server) stagedFiles(user, path, pattern string) ([]stagedFile, error) {
	var re *regexp.Regexp
	if pattern != "" {
		var err error
		if re, err = regexp.Compile("^(?:" + pattern + ")$"); err != nil {
			return nil, newError("001003", "42000", "SQL compilation error:\ninvalid regular expression '%s'.", pattern)
		}
	}
	root := s.stageDir(user)
	var out []stagedFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, path) || re != nil && !re.MatchString(name) {
			return nil
		}
		info, err := d.Info()
		if os.IsNotExist(err) {
			return nil // removed by another session since the folder was read
		}
		if err != nil {
			return err
		}
		out = append(out, stagedFile{name: name, path: p, size: info.Size(), mod: info.ModTime()})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, err
}

// fileCommand runs a file command in a session.
func (s *Server) fileCommand(ctx context.Context, sess *session, cmd *fileCommand) (*result, error) {
	switch cmd.kind {
	case "PUT":
		return s.put(sess, cmd)
	case "LIST":
		return s.list(sess, cmd)
	case "REMOVE":
		return s.remove(sess, cmd)
	case "COPY":
		return s.copyInto(ctx, sess, cmd)
	}
	return nil, compileError("%s is not supported by the Snowflake emulator.", cmd.kind)
}

// put answers a PUT with what the driver needs to upload (file_transfer_agent.go's
// execResponseData in gosnowflake v1.19.1): the local files, the stage location and the
// transfer options. The driver then compresses and writes the files itself.
func (s *Server) put(sess *session, cmd *fileCommand) (*result, error) {
	dir := s.stageDir(sess.user)
	folder := cmd.path
	if folder != "" && !strings.HasSuffix(folder, "/") {
		// PUT into @~/a/b puts files into folder a/b/, as Snowflake does.
		folder += "/"
	}
	location := filepath.Join(dir, filepath.FromSlash(folder)) + string(filepath.Separator)
	parallel := int64(4)
	if v, ok := cmd.opts["PARALLEL"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 99 {
			return nil, newError("001003", "42000", "SQL compilation error:\ninvalid value [%s] for parameter 'PARALLEL'", v)
		}
		parallel = n
	}
	stageInfo := map[string]any{
		"locationType": "LOCAL_FS", "location": location, "path": folder, "region": nil,
		"storageAccount": nil, "isClientSideEncrypted": false, "creds": map[string]any{},
		"presignedUrl": nil, "endPoint": nil,
	}
	var material any
	if st := s.s3; st != nil {
		// As Snowflake answers for an internal stage in AWS: bucket/path, temporary
		// credentials, the endpoint, and the master key the driver wraps each file's key with.
		rel, _ := filepath.Rel(s.stageRoot, dir)
		stageInfo = map[string]any{
			"locationType": "S3", "location": stageBucket + "/" + filepath.ToSlash(rel) + "/" + folder,
			"path": folder, "region": "us-east-1", "storageAccount": nil, "isClientSideEncrypted": true,
			"creds":        map[string]any{"AWS_KEY_ID": st.keyID, "AWS_SECRET_KEY": st.secret, "AWS_TOKEN": "sfemu-stage-token"},
			"presignedUrl": nil, "endPoint": st.endpoint(), "useS3RegionalUrl": false,
		}
		material = map[string]any{"queryStageMasterKey": base64.StdEncoding.EncodeToString(st.masterKey), "queryId": newQueryID(), "smkId": 1}
	}
	return &result{typeID: typeSelect, transfer: map[string]any{
		"uploadInfo":                    stageInfo,
		"stageInfo":                     stageInfo,
		"src_locations":                 []string{cmd.src},
		"parallel":                      parallel,
		"threshold":                     200 << 20,
		"autoCompress":                  !strings.EqualFold(cmd.opts["AUTO_COMPRESS"], "FALSE"),
		"overwrite":                     strings.EqualFold(cmd.opts["OVERWRITE"], "TRUE"),
		"sourceCompression":             strings.ToLower(orDefault(cmd.opts["SOURCE_COMPRESSION"], "AUTO_DETECT")),
		"clientShowEncryptionParameter": false,
		"encryptionMaterial":            material,
		"command":                       "UPLOAD",
		"kind":                          nil,
		"operation":                     "Node",
	}}, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// list answers LIST with Snowflake's columns: name, size, md5, last_modified.
func (s *Server) list(sess *session, cmd *fileCommand) (*result, error) {
	files, err := s.stagedFiles(sess.user, cmd.path, cmd.pattern)
	if err != nil {
		return nil, err
	}
	res := &result{typeID: typeSelect, columns: []column{
		textColumn("name"), fixedColumn("size", 38, 0), textColumn("md5"), textColumn("last_modified"),
	}}
	for _, f := range files {
		sum, err := md5File(f.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by another session since the folder was read
		}
		if err != nil {
			return nil, err
		}
		res.rows = append(res.rows, cells(f.name, strconv.FormatInt(f.size, 10), sum,
			f.mod.UTC().Format("Mon, 2 Jan 2006 15:04:05 GMT")))
	}
	return res, nil
}

func md5File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// remove answers REMOVE with Snowflake's columns: name, result. Staged files are not
// transactional: REMOVE takes effect at once, whatever transaction is open.
func (s *Server) remove(sess *session, cmd *fileCommand) (*result, error) {
	files, err := s.stagedFiles(sess.user, cmd.path, cmd.pattern)
	if err != nil {
		return nil, err
	}
	res := &result{typeID: typeSelect, columns: []column{textColumn("name"), textColumn("result")}}
	for _, f := range files {
		if err := os.Remove(f.path); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		if s.s3 != nil {
			s.s3.forget(f.path)
		}
		res.rows = append(res.rows, cells(f.name, "removed"))
	}
	pruneDirs(files)
	return res, nil
}

// pruneDirs removes the folders that held files, once empty. Only those: sessions run side by
// side, and another one's PUT may have just created an empty folder it is about to write into.
func pruneDirs(files []stagedFile) {
	for _, f := range files {
		_ = os.Remove(filepath.Dir(f.path)) // fails, harmlessly, when not empty
	}
}

func cells(vals ...string) []*string {
	out := make([]*string, len(vals))
	for i := range vals {
		out[i] = &vals[i]
	}
	return out
}

// stageDirs are the stage root and, beside it, the S3 endpoint's object metadata and
// uploads in progress (s3stage.go).
func (s *Server) stageDirs() []string {
	return []string{s.stageRoot, s.stageRoot + ".s3meta", s.stageRoot + ".uploads"}
}

// openStages resolves Config.StageDir.
func (s *Server) openStages() error {
	s.stageRoot = s.cfg.StageDir
	switch {
	case s.stageRoot == "" && s.cfg.Path != "":
		s.stageRoot = s.cfg.Path + ".stages"
	case s.stageRoot == "":
		dir, err := os.MkdirTemp("", "sfemu-stages-")
		if err != nil {
			return err
		}
		s.stageRoot, s.stageTempDir = dir, true
	}
	for _, d := range s.stageDirs() {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}
