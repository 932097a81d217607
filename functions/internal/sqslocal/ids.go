package sqslocal

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// newUUID returns a random (version 4) UUID, the form SQS message ids take.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newReceipt returns a receipt handle for one receive of message id. Like a real receipt
// handle it is opaque to consumers, differs on every receive and names the message it was
// issued for, so Delete needs no table of every handle ever issued.
func (q *Queue) newReceipt(id string) string {
	return base64.StdEncoding.EncodeToString([]byte(q.tag + ":" + id + ":" + randomHex(16)))
}

// parseReceipt returns the message id a receipt handle of this queue was issued for.
func (q *Queue) parseReceipt(receipt string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(receipt)
	if err == nil {
		parts := strings.Split(string(raw), ":")
		if len(parts) == 3 && parts[0] == q.tag && parts[1] != "" {
			return parts[1], nil
		}
	}
	return "", fmt.Errorf("sqslocal: queue %s: %w: %q was not issued by this queue", q.cfg.Name, ErrReceiptHandleIsInvalid, receipt)
}
