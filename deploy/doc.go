// Package deploy holds WhisperNet's deployment files — deploy/compose.yaml,
// deploy/k8s/ and the image's default deploy/config.txt — and the tests that
// check them without a cluster: every Kubernetes manifest is decoded
// strictly into the Kubernetes API types and its cross-references are
// checked (docs/deploy.md).
//
// It is a Go module of its own so that the main module does not depend on
// the Kubernetes API packages; .ci/run runs its tests with
// "cd deploy && go test ./...".
package deploy
