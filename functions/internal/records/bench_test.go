package records

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/gendata"
)

// BenchmarkReader measures splitting alone (SkipSyntaxCheck, as the gate reads) and
// splitting with the syntax check (as the loader reads), for both layouts.
func BenchmarkReader(b *testing.B) {
	opt := gendata.Options{Seed: 1, Records: 40_000} // about 8 MiB
	var nd, arr bytes.Buffer
	if _, err := gendata.WriteNDJSON(&nd, opt); err != nil {
		b.Fatal(err)
	}
	if _, err := gendata.WriteArray(&arr, opt); err != nil {
		b.Fatal(err)
	}
	for _, f := range []struct {
		key  string
		data []byte
	}{{"e.ndjson", nd.Bytes()}, {"e.json", arr.Bytes()}} {
		for _, skip := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/skipSyntax=%v", f.key, skip), func(b *testing.B) {
				b.SetBytes(int64(len(f.data)))
				b.ReportAllocs()
				for b.Loop() {
					rd, err := NewReader(bytes.NewReader(f.data), f.key, Limits{SkipSyntaxCheck: skip})
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for {
						if _, err := rd.Next(); err == io.EOF {
							break
						} else if err != nil {
							b.Fatal(err)
						}
						n++
					}
					if n != opt.Records {
						b.Fatalf("%d records", n)
					}
				}
			})
		}
	}
}
