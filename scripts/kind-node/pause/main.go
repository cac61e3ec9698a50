// Command pause is the sandbox ("infra") container of every pod in the
// offline kind node image: it holds the pod's namespaces open and does
// nothing else. It stands in for registry.k8s.io/pause, which cannot be
// pulled on a machine with no registry.
//
// Like the upstream C program it exits 0 on SIGINT or SIGTERM and reaps
// children, which it only ever has when the pod shares its PID namespace
// (shareProcessNamespace: true) and orphans are re-parented to it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getpid() != 1 {
		// Upstream warns too: outside a PID namespace it would reap
		// children it does not own.
		os.Stderr.WriteString("pause: warning: not running as PID 1\n")
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	children := make(chan os.Signal, 16)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			os.Exit(0)
		case <-children:
			reap()
		}
	}
}

// reap collects every exited child, so none stays a zombie.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
