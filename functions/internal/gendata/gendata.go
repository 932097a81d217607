// Package gendata generates deterministic demo event files that follow the default event schema.
package gendata

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// Options shape a generated file. The same options always yield the same bytes, which is what
// lets tests and the local runner count rows exactly.
type Options struct {
	// Seed selects the pseudo-random sequence.
	Seed int64
	// Records is the number of events in the file.
	Records int
	// Start is the first event day; events fall on whole days from Start. Zero means 2026-11-01 UTC.
	Start time.Time
	// Days spreads the events over this many days from Start. Zero means 7.
	Days int
}

// DefaultStart is the first event day when Options.Start is zero.
var DefaultStart = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

// DefaultDays is the number of event days when Options.Days is zero.
const DefaultDays = 7

func (o Options) withDefaults() Options {
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	o.Start = o.Start.UTC().Truncate(24 * time.Hour)
	if o.Days <= 0 {
		o.Days = DefaultDays
	}
	return o
}

// NewRand returns the generator's random source for a seed. PCG is used because its output
// is fixed by its specification, so a seed means the same bytes on every Go release.
func NewRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x5eed_e7e4_75_0001))
}

// actions holds every action the default schema allows, with weights that make views common
// and refunds rare, as on a real shop.
var actions = []struct {
	name   string
	weight int
}{
	{"view", 50}, {"click", 25}, {"add_to_cart", 12}, {"purchase", 9}, {"refund", 4},
}

var (
	devices    = []string{"mobile", "desktop", "tablet"}
	currencies = []string{"EUR", "USD", "GBP"}
	pages      = []string{"/", "/search", "/products", "/cart", "/checkout", "/account"}
)

func pickAction(rng *rand.Rand, i int) string {
	// The first five events cycle through every action, so even a tiny file exercises the
	// whole schema and every column of the daily summary.
	if i < len(actions) {
		return actions[i].name
	}
	n := rng.IntN(100)
	for _, a := range actions {
		if n < a.weight {
			return a.name
		}
		n -= a.weight
	}
	return actions[0].name
}

// Event returns event number i (0-based) of a file as one JSON object valid against the
// default schema, about 180 to 250 bytes long. Purchases and refunds carry an amount. The
// bytes depend only on the state of rng, i and opt.
func Event(rng *rand.Rand, i int, opt Options) []byte {
	return appendEvent(make([]byte, 0, 256), rng, i, opt.withDefaults())
}

// appendEvent builds the object by hand, not with encoding/json, so that field order and
// number formatting are fixed and generating gigabytes for benchmarks stays cheap.
func appendEvent(b []byte, rng *rand.Rand, i int, opt Options) []byte {
	action := pickAction(rng, i)
	day := rng.IntN(opt.Days)
	sec := rng.IntN(24 * 60 * 60)
	ts := opt.Start.Add(time.Duration(day)*24*time.Hour + time.Duration(sec)*time.Second)
	user := rng.IntN(50000)
	product := rng.IntN(10000)

	b = append(b, `{"event_id":"evt-`...)
	b = appendHex(b, uint64(opt.Seed), 8)
	b = append(b, '-')
	b = appendPadded(b, i, 9)
	b = append(b, `","user_id":"user-`...)
	b = appendPadded(b, user, 5)
	b = append(b, `","action":"`...)
	b = append(b, action...)
	b = append(b, '"')
	if action == "purchase" || action == "refund" {
		cents := 100 + rng.IntN(50000)
		b = append(b, `,"amount":`...)
		b = strconv.AppendInt(b, int64(cents/100), 10)
		b = append(b, '.')
		b = appendPadded(b, cents%100, 2)
		b = append(b, `,"currency":"`...)
		b = append(b, currencies[rng.IntN(len(currencies))]...)
		b = append(b, '"')
	}
	b = append(b, `,"timestamp":"`...)
	b = ts.AppendFormat(b, time.RFC3339)
	b = append(b, `","session_id":"s-`...)
	b = appendHex(b, rng.Uint64(), 12)
	b = append(b, `","page":"`...)
	b = append(b, pages[rng.IntN(len(pages))]...)
	b = append(b, `","product_id":"sku-`...)
	b = appendPadded(b, product, 5)
	b = append(b, `","device":"`...)
	b = append(b, devices[rng.IntN(len(devices))]...)
	b = append(b, `"}`...)
	return b
}

func appendPadded(b []byte, n, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(n), 10)
	for k := len(s); k < width; k++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendHex(b []byte, n uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for k := width - 1; k >= 0; k-- {
		b = append(b, digits[(n>>(4*uint(k)))&0xf])
	}
	return b
}

// WriteNDJSON streams opt.Records events as NDJSON, one object per line, and returns the
// number of bytes written.
func WriteNDJSON(w io.Writer, opt Options) (int64, error) {
	return write(w, opt, nil, []byte("\n"), nil)
}

// WriteArray streams opt.Records events as one JSON array, one element per line, and returns
// the number of bytes written.
func WriteArray(w io.Writer, opt Options) (int64, error) {
	return write(w, opt, []byte("[\n"), []byte(",\n"), []byte("\n]\n"))
}

func write(w io.Writer, opt Options, open, sep, end []byte) (int64, error) {
	opt = opt.withDefaults()
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	rng := NewRand(opt.Seed)
	buf := make([]byte, 0, 512)
	bw.Write(open)
	for i := 0; i < opt.Records; i++ {
		if i > 0 && end != nil {
			bw.Write(sep)
		}
		buf = appendEvent(buf[:0], rng, i, opt)
		bw.Write(buf)
		if end == nil {
			bw.Write(sep)
		}
	}
	if end != nil {
		if opt.Records == 0 {
			bw.WriteString("]\n")
		} else {
			bw.Write(end)
		}
	}
	// bufio.Writer keeps its first error and returns it from Flush, so the writes above need
	// no checks of their own.
	err := bw.Flush()
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
