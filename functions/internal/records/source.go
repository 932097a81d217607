package records

import (
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// source sits directly on the caller's reader. It counts the bytes as stored (the
// denominator of the compression ratio) and remembers the reader's own first failure: gzip
// turns a failed read into its own errors, and only this record tells a body that broke off
// (retry) from a stream that is corrupt (reject).
type source struct {
	r   io.Reader
	n   int64
	err error
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// openGzip starts the gzip stream. gzip.NewReader reads the header at once, so this runs at
// the first Next, not in NewReader, and its errors are content errors like any other.
func (r *Reader) openGzip() error {
	zr, err := gzip.NewReader(r.src)
	if err == nil {
		r.in = zr
		return nil
	}
	if r.src.err != nil {
		return r.readFailed(r.src.err)
	}
	if err == io.EOF && r.src.n == 0 {
		return &Error{Rule: RuleEmpty, Err: errors.New("the file has no bytes")}
	}
	return &Error{Rule: RuleGzip, Err: gzipError(err)}
}

// gzipError restates the compress packages' errors without their "gzip: " and "flate: "
// prefixes, which would repeat the rule name in a report.
func gzipError(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, gzip.ErrHeader):
		return errors.New("not a gzip stream: bad header")
	case errors.Is(err, gzip.ErrChecksum):
		return errors.New("the decompressed data does not match the gzip checksum")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the compressed stream is truncated")
	case errors.As(err, &corrupt):
		return fmt.Errorf("corrupt deflate data at compressed byte %d", int64(corrupt))
	}
	return err
}

func (r *Reader) readFailed(err error) error {
	return fmt.Errorf("read %s at decompressed byte %d: %w", r.name, r.total, err)
}

// read pulls decompressed bytes and enforces the size and ratio caps after every read, so
// a bomb is stopped within one buffer of crossing a cap.
func (r *Reader) read(p []byte) (int, error) {
	n, err := r.in.Read(p)
	r.total += int64(n)
	if r.lim.MaxBytes > 0 && r.total > r.lim.MaxBytes {
		return n, &Error{Rule: RuleDecompressedSize, Record: r.n + 1, Offset: r.lim.MaxBytes,
			Err: fmt.Errorf("more than %d decompressed bytes", r.lim.MaxBytes)}
	}
	if r.compressed && r.lim.MaxRatio > 0 && r.total > RatioFloor &&
		float64(r.total) > r.lim.MaxRatio*float64(max(r.src.n, 1)) {
		return n, &Error{Rule: RuleCompressionRatio, Record: r.n + 1, Offset: r.total,
			Err: fmt.Errorf("%d bytes decompressed from %d compressed, ratio above %g", r.total, r.src.n, r.lim.MaxRatio)}
	}
	switch {
	case err == nil || err == io.EOF:
		return n, err
	case r.src.err != nil:
		return n, r.readFailed(r.src.err)
	case r.compressed:
		return n, &Error{Rule: RuleGzip, Record: r.n + 1, Offset: r.total, Err: gzipError(err)}
	default:
		return n, r.readFailed(err)
	}
}

// fill reads more bytes into the buffer, keeping buf[r.r:r.w] and moving it to the front or
// into a larger buffer when needed. It returns io.EOF once the stream is exhausted and no
// new bytes arrived.
func (r *Reader) fill() error {
	if r.eof {
		return io.EOF
	}
	if r.r > 0 && len(r.buf)-r.w < len(r.buf)/2 {
		copy(r.buf, r.buf[r.r:r.w])
		r.base += int64(r.r)
		r.w -= r.r
		r.r = 0
	}
	if r.w == len(r.buf) {
		// Only a record longer than the buffer gets here; callers stop at the record cap,
		// so the buffer never grows past about twice the largest record.
		nb := make([]byte, 2*len(r.buf))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	for range 100 {
		n, err := r.read(r.buf[r.w:])
		r.w += n
		if err == io.EOF {
			r.eof = true
			if n > 0 {
				return nil
			}
			return io.EOF
		}
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
	}
	return r.readFailed(io.ErrNoProgress)
}
