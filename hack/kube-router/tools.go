//go:build tools

// Package tools pins kube-router (only its network-policy controller runs:
// scripts/netpol/build.sh), so that `go build` builds it from this module with
// the versions recorded in go.sum.
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
