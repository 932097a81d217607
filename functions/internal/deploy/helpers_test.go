package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/stretchr/testify/require"
)

const (
	templatePath   = "../../../template.yaml"
	definitionPath = "../../../statemachine/loader.asl.json"

	// The prefixes the validator's defaults and the documentation use.
	incomingPrefix   = "incoming/"
	quarantinePrefix = "quarantine/"
)

// views holds the template three ways.
//
// typed is goformation's model. goformation v7.14.9 models CloudFormation resources fully, but
// its SAM model predates properties this template relies on, and it decodes resources
// strictly: goformation.Open fails on a function's LoggingConfig ("unknown field"), and an SQS
// event with MaximumBatchingWindowInSeconds, FunctionResponseTypes or ScalingConfig silently
// decodes to nothing. So the typed view is decoded from the processed template with the
// properties listed in unmodelled left out, and doc, the same processed template as plain
// maps, serves for those. raw keeps every intrinsic function as its {"Fn::X": ...} object,
// for checks of conditional wiring.
//
// typed and doc render intrinsics symbolically instead of goformation's default resolution,
// which turns !GetAtt into null and drops unknown variables from !Sub
// ("${DataBucket.Arn}/incoming/*" would become "/incoming/*"), hiding exactly what the IAM
// checks must see. Here !Ref X reads "${X}", !GetAtt X.Attr reads "${X.Attr}", !Sub keeps its
// text, and !If takes its true branch: the typed view is the stack as deployed with every
// condition true (an alarm email given).
type views struct {
	typed *cloudformation.Template
	doc   map[string]any
	raw   map[string]any
}

// unmodelled lists, by resource type, the properties goformation's strict decoding rejects:
// LoggingConfig is missing from its SAM model, and a number set from a parameter (!Ref) reads
// as text in the symbolic view, which goformation's integer fields refuse.
var unmodelled = map[string][]string{
	"AWS::Serverless::Function": {"LoggingConfig", "ReservedConcurrentExecutions"},
	"AWS::S3::Bucket":           {"LifecycleConfiguration"},
}

var loadViews = sync.OnceValues(func() (views, error) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return views{}, err
	}
	doc, err := processed(data, symbolic())
	if err != nil {
		return views{}, err
	}
	raw, err := processed(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return views{}, err
	}
	typed, err := decodeTyped(data)
	if err != nil {
		return views{}, fmt.Errorf("goformation: %w", err)
	}
	return views{typed: typed, doc: doc, raw: raw}, nil
})

// decodeTyped decodes the symbolically processed template into goformation's model, as
// goformation.ParseYAMLWithOptions does, less the unmodelled properties.
func decodeTyped(data []byte) (*cloudformation.Template, error) {
	m, err := processed(data, symbolic())
	if err != nil {
		return nil, err
	}
	if resources, ok := m["Resources"].(map[string]any); ok {
		for _, r := range resources {
			res, _ := r.(map[string]any)
			props, _ := res["Properties"].(map[string]any)
			typ, _ := res["Type"].(string)
			for _, p := range unmodelled[typ] {
				delete(props, p)
			}
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	tpl := &cloudformation.Template{}
	if err := json.Unmarshal(b, tpl); err != nil {
		return nil, err
	}
	return tpl, nil
}

// template returns the parsed template or stops the test.
func template(t *testing.T) views {
	t.Helper()
	v, err := loadViews()
	require.NoError(t, err, "parse %s", templatePath)
	return v
}

func processed(data []byte, opts *intrinsics.ProcessorOptions) (map[string]any, error) {
	out, err := intrinsics.ProcessYAML(data, opts)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func symbolic() *intrinsics.ProcessorOptions {
	return &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
		"Ref": func(_ string, in, _ any) any {
			name, _ := in.(string)
			if name == "AWS::NoValue" {
				return nil
			}
			return "${" + name + "}"
		},
		"Fn::GetAtt": func(_ string, in, _ any) any {
			switch v := in.(type) {
			case string:
				return "${" + v + "}"
			case []any:
				parts := make([]string, len(v))
				for i, p := range v {
					parts[i] = fmt.Sprint(p)
				}
				return "${" + strings.Join(parts, ".") + "}"
			}
			return nil
		},
		"Fn::Sub": func(_ string, in, _ any) any {
			switch v := in.(type) {
			case string:
				return v
			case []any:
				if len(v) != 2 {
					return nil
				}
				text, _ := v[0].(string)
				vars, _ := v[1].(map[string]any)
				for name, value := range vars {
					text = strings.ReplaceAll(text, "${"+name+"}", fmt.Sprint(value))
				}
				return text
			}
			return nil
		},
		"Fn::If": func(_ string, in, _ any) any {
			if v, ok := in.([]any); ok && len(v) == 3 {
				return v[1]
			}
			return nil
		},
	}}
}

// at walks nested maps by key and fails the test when a key is missing.
func at(t *testing.T, root any, keys ...string) any {
	t.Helper()
	cur := root
	for i, k := range keys {
		m, ok := cur.(map[string]any)
		require.Truef(t, ok, "%s is not a map", strings.Join(keys[:i], "."))
		v, ok := m[k]
		require.Truef(t, ok, "%s is missing", strings.Join(keys[:i+1], "."))
		cur = v
	}
	return cur
}

// lookup walks nested maps by key and reports whether every key was there.
func lookup(root any, keys ...string) (any, bool) {
	cur := root
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// resourceProps returns the generic Properties of one resource.
func resourceProps(t *testing.T, v views, name string) map[string]any {
	t.Helper()
	props, ok := at(t, v.doc, "Resources", name, "Properties").(map[string]any)
	require.Truef(t, ok, "%s.Properties is not a map", name)
	return props
}

// resourcesOfType returns the logical names of the template's resources of the given types,
// sorted.
func resourcesOfType(t *testing.T, v views, types ...string) []string {
	t.Helper()
	resources, ok := v.doc["Resources"].(map[string]any)
	require.True(t, ok, "Resources is not a map")
	var names []string
	for _, name := range keys(resources) {
		if typ, _ := at(t, resources, name, "Type").(string); slices.Contains(types, typ) {
			names = append(names, name)
		}
	}
	return names
}

// strs reads a policy field that may be one string or a list of them.
func strs(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

// number reads a JSON number as an int.
func number(t *testing.T, v any) int {
	t.Helper()
	f, ok := v.(float64)
	require.Truef(t, ok, "%v (%T) is not a number", v, v)
	return int(f)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// effective returns a function's setting, falling back to Globals as SAM does.
func effective(fn, global *int) int {
	if fn != nil {
		return *fn
	}
	if global != nil {
		return *global
	}
	return 0
}
