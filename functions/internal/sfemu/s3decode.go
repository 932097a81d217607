package sfemu

// Stages and files: what the S3 stage endpoint (s3stage.go) decodes. A request body in
// aws-chunked encoding, the SDK's way of sending a checksum after the payload, and a staged
// file the driver encrypted before uploading it.

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

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
