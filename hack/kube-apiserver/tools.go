//go:build tools

// Package tools pins kube-apiserver so that `go build` can build it from this
// module with the versions recorded in go.sum.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
