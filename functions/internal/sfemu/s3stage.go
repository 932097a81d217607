package sfemu

// Stages and files: the stages' files served as S3 over TLS. When Config.StageLocation is
// "S3", a PUT is answered as Snowflake answers it for an internal stage in AWS: an S3
// location, temporary credentials for it, and the material the driver encrypts each file
// with before it uploads it. The driver then runs its real S3 upload (AWS SDK, single or
// multi-part, TLS, client-side encryption) against this endpoint, which keeps the objects
// in the same folders as LOCAL_FS, with their metadata beside them; COPY decrypts them as
// Snowflake does.
//
// The endpoint is path-style on 127.0.0.1 (the SDK uses path-style addressing for an IP
// endpoint), with a self-signed certificate made once per process: clients trust it through
// SSL_CERT_FILE (StageCertFile), the standard variable Go's TLS reads, so no client needs a
// test-only setting.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stageBucket is the bucket of the S3 location; object keys are paths under the stage root.
const stageBucket = "sfemu-stage"

var (
	stageCertOnce sync.Once
	stageCert     tls.Certificate
	stageCertPath string
	stageCertErr  error
)

// StageCertFile returns the PEM file of the certificate the emulators of this process serve
// their S3 stage endpoint with, for SSL_CERT_FILE. It is made once per process, because Go
// reads SSL_CERT_FILE once.
func StageCertFile() (string, error) {
	stageCertOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			stageCertErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(time.Now().UnixNano()),
			Subject:               pkix.Name{CommonName: "sfemu stage"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:              []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			stageCertErr = err
			return
		}
		stageCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
		f, err := os.CreateTemp("", "sfemu-stage-*.pem")
		if err != nil {
			stageCertErr = err
			return
		}
		defer f.Close()
		stageCertErr = pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: der})
		stageCertPath = f.Name()
	})
	return stageCertPath, stageCertErr
}

// s3Stage is the S3 endpoint of a server's stages.
type s3Stage struct {
	root      string // the stage root: object key k is the file root/k
	meta      string // object metadata: meta/k.json
	uploads   string // multi-part uploads in progress
	ln        net.Listener
	srv       *http.Server
	masterKey []byte // the stage master key the driver encrypts file keys with
	keyID     string // the temporary credentials PUT hands out
	secret    string

	mu    sync.Mutex
	calls map[string]int // requests served, by S3 operation
}

func (st *s3Stage) count(op string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.calls == nil {
		st.calls = map[string]int{}
	}
	st.calls[op]++
}

// StageCalls counts the requests the S3 stage endpoint served, by S3 operation (HeadObject,
// PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload); nil without one.
func (s *Server) StageCalls() map[string]int {
	if s.s3 == nil {
		return nil
	}
	s.s3.mu.Lock()
	defer s.s3.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.s3.calls {
		out[k] = v
	}
	return out
}

func (s *Server) startS3Stage() error {
	if _, err := StageCertFile(); err != nil {
		return fmt.Errorf("sfemu: make the stage endpoint's certificate: %w", err)
	}
	st := &s3Stage{root: s.stageRoot, meta: s.stageRoot + ".s3meta", uploads: s.stageRoot + ".uploads",
		masterKey: randomBytes(16), keyID: "ASIASFEMUSTAGE" + strings.ToUpper(hex.EncodeToString(randomBytes(3))),
		secret: hex.EncodeToString(randomBytes(20))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("sfemu: listen on loopback for the stage endpoint: %w", err)
	}
	st.ln = ln
	st.srv = &http.Server{Handler: st, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{stageCert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = st.srv.ServeTLS(ln, "", "") }()
	s.s3 = st
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (st *s3Stage) endpoint() string { return st.ln.Addr().String() }

func (st *s3Stage) close() { _ = st.srv.Close() }

// objectMeta is what the stage keeps of an object besides its bytes.
type objectMeta struct {
	Metadata map[string]string `json:"metadata"` // x-amz-meta-* headers, lower-case names
}

func (st *s3Stage) metaPath(key string) string {
	return filepath.Join(st.meta, filepath.FromSlash(key)+".json")
}

// readMeta returns the metadata of the staged file at path, if it came through S3.
func (st *s3Stage) readMeta(path string) (*objectMeta, error) {
	rel, err := filepath.Rel(st.root, path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(st.metaPath(filepath.ToSlash(rel)))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m objectMeta
	return &m, json.Unmarshal(b, &m)
}

// forget removes the metadata of the staged file at path.
func (st *s3Stage) forget(path string) {
	if rel, err := filepath.Rel(st.root, path); err == nil {
		_ = os.Remove(st.metaPath(filepath.ToSlash(rel)))
	}
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: code, Message: msg})
}

// ServeHTTP serves the calls the driver's upload makes: HeadObject, PutObject and the
// three calls of a multi-part upload.
func (st *s3Stage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+st.keyID+"/") {
		s3Error(w, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
		return
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket != stageBucket || key == "" || strings.Contains(key, "..") {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	q := r.URL.Query()
	var err error
	switch {
	case r.Method == http.MethodHead:
		st.count("HeadObject")
		err = st.head(w, key)
	case r.Method == http.MethodPut && q.Get("uploadId") != "":
		st.count("UploadPart")
		err = st.uploadPart(w, r, q.Get("uploadId"), q.Get("partNumber"))
	case r.Method == http.MethodPut:
		st.count("PutObject")
		err = st.putObject(w, r, key)
	case r.Method == http.MethodPost && q.Has("uploads"):
		st.count("CreateMultipartUpload")
		err = st.createUpload(w, r, key)
	case r.Method == http.MethodPost && q.Get("uploadId") != "":
		st.count("CompleteMultipartUpload")
		err = st.completeUpload(w, r, key, q.Get("uploadId"))
	default:
		s3Error(w, http.StatusNotImplemented, "NotImplemented", r.Method+" is not supported by the emulator's stage endpoint.")
		return
	}
	if err != nil {
		s3Error(w, http.StatusInternalServerError, "InternalError", err.Error())
	}
}

func (st *s3Stage) head(w http.ResponseWriter, key string) error {
	path := filepath.Join(st.root, filepath.FromSlash(key))
	info, err := os.Stat(path)
	if os.IsNotExist(err) {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	if err != nil {
		return err
	}
	if m, _ := st.readMeta(path); m != nil {
		for k, v := range m.Metadata {
			w.Header().Set("x-amz-meta-"+k, v)
		}
	}
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size(), 10))
	w.Header().Set("ETag", `"`+hex.EncodeToString(randomBytes(16))+`"`)
	w.WriteHeader(http.StatusOK)
	return nil
}

// metadataOf reads the x-amz-meta-* headers of a request.
func metadataOf(r *http.Request) objectMeta {
	m := objectMeta{Metadata: map[string]string{}}
	for k, v := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-meta-") && len(v) > 0 {
			m.Metadata[strings.TrimPrefix(lk, "x-amz-meta-")] = v[0]
		}
	}
	return m
}

// writeObject stores an object's bytes and metadata; the file appears whole or not at all.
func (st *s3Stage) writeObject(key string, src io.Reader, m objectMeta) error {
	path := filepath.Join(st.root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(st.metaPath(key)), 0o755); err != nil {
		return err
	}
	mb, _ := json.Marshal(m)
	if err := os.WriteFile(st.metaPath(key), mb, 0o644); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(st.uploads, "object-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, src)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

func (st *s3Stage) putObject(w http.ResponseWriter, r *http.Request, key string) error {
	if err := st.writeObject(key, body(r), metadataOf(r)); err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+hex.EncodeToString(randomBytes(16))+`"`)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (st *s3Stage) createUpload(w http.ResponseWriter, r *http.Request, key string) error {
	id := hex.EncodeToString(randomBytes(16))
	dir := filepath.Join(st.uploads, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mb, _ := json.Marshal(metadataOf(r))
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), mb, 0o644); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	return xml.NewEncoder(w).Encode(struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		Bucket   string
		Key      string
		UploadId string
	}{Bucket: stageBucket, Key: key, UploadId: id})
}

func (st *s3Stage) uploadPart(w http.ResponseWriter, r *http.Request, id, part string) error {
	n, err := strconv.Atoi(part)
	if err != nil || n < 1 || strings.ContainsAny(id, "/.") {
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "bad part number or upload id")
		return nil
	}
	f, err := os.Create(filepath.Join(st.uploads, id, fmt.Sprintf("part-%05d", n)))
	if err != nil {
		return err
	}
	_, err = io.Copy(f, body(r))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	w.Header().Set("ETag", fmt.Sprintf(`"part-%d"`, n))
	w.WriteHeader(http.StatusOK)
	return nil
}

func (st *s3Stage) completeUpload(w http.ResponseWriter, r *http.Request, key, id string) error {
	if strings.ContainsAny(id, "/.") {
		s3Error(w, http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist.")
		return nil
	}
	dir := filepath.Join(st.uploads, id)
	defer os.RemoveAll(dir)
	_, _ = io.Copy(io.Discard, r.Body)
	mb, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		s3Error(w, http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist.")
		return nil
	}
	var m objectMeta
	if err := json.Unmarshal(mb, &m); err != nil {
		return err
	}
	parts, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil {
		return err
	}
	sort.Strings(parts)
	var readers []io.Reader
	for _, p := range parts {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		readers = append(readers, f)
	}
	if err := st.writeObject(key, io.MultiReader(readers...), m); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	return xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"CompleteMultipartUploadResult"`
		Bucket  string
		Key     string
		ETag    string
	}{Bucket: stageBucket, Key: key, ETag: `"` + hex.EncodeToString(randomBytes(16)) + "-" + strconv.Itoa(len(parts)) + `"`})
}
