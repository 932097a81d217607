// Package statemachine embeds the loader state machine's definition, so the local runner and
// the tests run exactly the file SAM deploys.
package statemachine

import _ "embed"

// Definition is loader.asl.json, with its ${...} substitutions still in place.
//
//go:embed loader.asl.json
var Definition []byte
