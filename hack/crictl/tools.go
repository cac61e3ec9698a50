//go:build tools

// Package tools pins crictl (cri-tools of the same minor as Kubernetes) for
// the offline kind node image, so that `go build` builds it from this module
// with the versions recorded in go.sum.
package tools

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
