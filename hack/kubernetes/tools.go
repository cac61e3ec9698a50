//go:build tools

// Package tools pins the Kubernetes binaries novadev builds (the control
// plane and node binaries of the offline kind node image, and the
// kube-apiserver the manifest dry-run tests run) so that ONE `go build` of
// all of them uses the versions recorded in go.sum and shares their compile
// work.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
