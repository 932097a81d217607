// Package deploy holds the tests that check template.yaml, the SAM template that deploys the loader.
package deploy
