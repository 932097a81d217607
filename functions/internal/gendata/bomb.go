package gendata

import (
	"bytes"
	"compress/gzip"
	"io"
	"sync/atomic"
)

// Bomb is a gzip stream of total decompressed bytes of "{}\n" lines (a gzip bomb, about a
// thousandth of its size when stored), compressed while it is read. Nothing holds the whole
// stream, so a test can feed a reader a gibibyte and count how much of it was ever inflated.
type Bomb struct {
	pr       *io.PipeReader
	produced atomic.Int64
	done     chan struct{}
}

// NewBomb starts the stream; Close it when done.
func NewBomb(total int64) *Bomb {
	pr, pw := io.Pipe()
	b := &Bomb{pr: pr, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestCompression)
		chunk := bytes.Repeat([]byte("{}\n"), 64<<10/3)
		for b.produced.Load() < total {
			n, err := zw.Write(chunk)
			b.produced.Add(int64(n))
			if err != nil {
				return
			}
		}
		pw.CloseWithError(zw.Close())
	}()
	return b
}

// Read reads the compressed stream.
func (b *Bomb) Read(p []byte) (int, error) { return b.pr.Read(p) }

// Produced is how many decompressed bytes have been compressed into the stream so far.
func (b *Bomb) Produced() int64 { return b.produced.Load() }

// Close stops the stream and waits for its writer to end.
func (b *Bomb) Close() error {
	err := b.pr.Close()
	<-b.done
	return err
}
