//go:build tools

// Package tools pins CoreDNS (the version kubeadm v1.34 deploys) for the
// offline kind node image, so that `go build` builds it from this module with
// the versions recorded in go.sum.
package tools

import _ "github.com/coredns/coredns"
