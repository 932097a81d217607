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
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
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

// body returns the payload of a request, decoding aws-chunked, the encoding the SDK uses to
// send a checksum after the payload.
func body(r *http.Request) io.Reader {
	if strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") || strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		return &chunkedReader{r: bufio.NewReader(r.Body)}
	}
	return r.Body
}

// chunkedReader decodes aws-chunked: "<hex size>[;chunk-signature=...]\r\n<data>\r\n"
// repeated, a chunk of size 0, then trailers up to an empty line.
type chunkedReader struct {
	r    *bufio.Reader
	left int64
	done bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		line, err := c.r.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("aws-chunked body: %w", err)
		}
		size, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil {
			return 0, fmt.Errorf("aws-chunked body: chunk size %q", size)
		}
		if n == 0 {
			c.done = true
			// Trailers (the checksum) end at an empty line.
			for {
				t, err := c.r.ReadString('\n')
				if err != nil || strings.TrimSpace(t) == "" {
					break
				}
			}
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		_, err = c.r.Discard(2) // the CRLF after the chunk
	}
	return n, err
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

// decrypting returns src decrypted as Snowflake decrypts a file the driver encrypted
// (encrypt_util.go in gosnowflake): the file key is the x-amz-key metadata, AES-ECB
// encrypted with the stage master key and padded; the data is AES-CBC with the x-amz-iv
// metadata as IV and PKCS#7 padding.
func (st *s3Stage) decrypting(src io.Reader, m *objectMeta) (io.Reader, error) {
	wrapped, err := base64.StdEncoding.DecodeString(m.Metadata["x-amz-key"])
	if err != nil {
		return nil, err
	}
	iv, err := base64.StdEncoding.DecodeString(m.Metadata["x-amz-iv"])
	if err != nil {
		return nil, err
	}
	kek, err := aes.NewCipher(st.masterKey)
	if err != nil {
		return nil, err
	}
	if len(wrapped) == 0 || len(wrapped)%aes.BlockSize != 0 || len(iv) != aes.BlockSize {
		return nil, errors.New("the file's encryption metadata is malformed")
	}
	key := make([]byte, len(wrapped))
	for i := 0; i < len(wrapped); i += aes.BlockSize {
		kek.Decrypt(key[i:i+aes.BlockSize], wrapped[i:i+aes.BlockSize])
	}
	if key, err = unpad(key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &cbcReader{src: src, mode: cipher.NewCBCDecrypter(block, iv)}, nil
}

func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("empty padded block")
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, errors.New("bad padding: the file was not encrypted with this stage's key")
	}
	return b[:len(b)-n], nil
}

// cbcReader decrypts a CBC stream, holding back the last block until EOF to strip its
// padding.
type cbcReader struct {
	src  io.Reader
	mode cipher.BlockMode
	buf  []byte // ciphertext read, not yet decrypted
	out  []byte // plaintext ready
	eof  bool
}

func (c *cbcReader) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.eof {
			return 0, io.EOF
		}
		chunk := make([]byte, 64<<10)
		n, err := io.ReadFull(c.src, chunk)
		c.buf = append(c.buf, chunk[:n]...)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			c.eof = true
		} else if err != nil {
			return 0, err
		}
		ready := len(c.buf) / aes.BlockSize * aes.BlockSize
		if !c.eof {
			ready -= aes.BlockSize // keep the last block back: it may be the padded one
		}
		if ready <= 0 {
			continue
		}
		plain := make([]byte, ready)
		c.mode.CryptBlocks(plain, c.buf[:ready])
		c.buf = c.buf[ready:]
		if c.eof {
			if len(c.buf) != 0 {
				return 0, errors.New("encrypted file is not a whole number of blocks")
			}
			var err error
			if plain, err = unpad(plain); err != nil {
				return 0, err
			}
		}
		c.out = plain
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}
