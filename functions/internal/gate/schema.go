package gate

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed events.schema.json
var defaultSchema []byte

// DefaultSchemaName is the location the default schema is compiled under.
const DefaultSchemaName = "events.schema.json"

// DefaultSchema returns the JSON Schema (draft 2020-12) shipped with the project. Users
// replace it with their own; this one describes the demo's shop events.
func DefaultSchema() []byte { return bytes.Clone(defaultSchema) }

// CompileSchema compiles a JSON Schema document. name is where the document came from (a
// file name or an s3:// URI); it appears in errors. Formats such as date-time are asserted,
// not merely annotated, because a timestamp that does not parse would break the daily
// summary. References to other documents are refused: a schema must be self-contained (use
// $defs), so validation never reaches for a file or the network.
func CompileSchema(name string, doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseLoader(noLoader{})
	if err := c.AddResource(name, v); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	sch, err := c.Compile(name)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return sch, nil
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: references to other documents are not loaded; put the definitions in $defs", url)
}
