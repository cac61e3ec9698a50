//go:build !linux

package kubeapi

import "syscall"

// sysProcAttr has no parent-death signal outside Linux; t.Cleanup and Main
// still stop the processes on a normal exit.
func sysProcAttr() *syscall.SysProcAttr {
	return nil
}
