package gendata

import (
	"bytes"
	"compress/gzip"
)

// Flaw names the one gate rule a generated bad file breaks. The values are the gate's rule names.
type Flaw string

// The flaws Flawed can put into a file.
const (
	FlawSchema Flaw = "schema" // one record lacks the required action
	FlawJSON   Flaw = "json"   // one line is cut off in the middle of an object
	FlawUTF8   Flaw = "utf8"   // one record holds a byte sequence that is not UTF-8
	FlawEmpty  Flaw = "empty"  // the file holds only whitespace
	FlawFormat Flaw = "format" // the top level is an array of numbers, not of objects
	FlawSuffix Flaw = "suffix" // good content under a name the pipeline does not load
	FlawGzip   Flaw = "gzip"   // a .gz file whose compressed stream is corrupt
)

// Flaws lists every flaw Flawed knows, in a fixed order.
func Flaws() []Flaw {
	return []Flaw{FlawSchema, FlawJSON, FlawUTF8, FlawEmpty, FlawFormat, FlawSuffix, FlawGzip}
}

// flawedRecords is how many good events surround the flaw: enough that the flaw is not
// simply the first line, few enough to read in a report.
const flawedRecords = 5

// Flawed returns a small file that the gate rejects with exactly the rule named by flaw: the
// suffix its key must end with (".ndjson", ".json", ".json.gz", ...) and its body. A flaw
// Flawed does not know yields an empty suffix and a nil body.
func Flawed(flaw Flaw, seed int64) (suffix string, body []byte) {
	good := func() []byte {
		var b bytes.Buffer
		WriteNDJSON(&b, Options{Seed: seed, Records: flawedRecords})
		return b.Bytes()
	}
	switch flaw {
	case FlawSchema:
		// Record 3 is the add_to_cart event; without action it fails "required".
		lines := bytes.SplitAfter(good(), []byte("\n"))
		lines[2] = bytes.Replace(lines[2], []byte(`"action":"add_to_cart",`), nil, 1)
		return ".ndjson", bytes.Join(lines, nil)
	case FlawJSON:
		lines := bytes.SplitAfter(good(), []byte("\n"))
		lines[2] = append(lines[2][:len(lines[2])/2:len(lines[2])/2], '\n')
		return ".ndjson", bytes.Join(lines, nil)
	case FlawUTF8:
		lines := bytes.SplitAfter(good(), []byte("\n"))
		// 0xE9 is "é" as Latin-1 writes it; in UTF-8 it starts a three-byte sequence that
		// the following space cannot continue.
		lines[1] = bytes.Replace(lines[1], []byte(`"device":"`), []byte("\"device\":\"caf\xe9 "), 1)
		return ".ndjson", bytes.Join(lines, nil)
	case FlawEmpty:
		return ".json", []byte(" \n\t\n")
	case FlawFormat:
		return ".json", []byte("[1, 2, 3]\n")
	case FlawSuffix:
		return ".csv", good()
	case FlawGzip:
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(good())
		zw.Close()
		z := b.Bytes()
		// Flipping bytes in the middle of the deflate stream makes it fail its checksum
		// or its block structure, whichever comes first.
		for k := len(z) / 2; k < len(z)/2+8 && k < len(z)-8; k++ {
			z[k] ^= 0xff
		}
		return ".json.gz", z
	}
	return "", nil
}
