//go:build tools

// Package tools pins etcd so that `go build` can build it from this module
// with the versions recorded in go.sum.
package tools

import _ "go.etcd.io/etcd/server/v3"
