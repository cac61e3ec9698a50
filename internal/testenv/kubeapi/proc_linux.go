package kubeapi

import "syscall"

// sysProcAttr makes the kernel kill etcd and kube-apiserver when the test
// binary dies (a timeout panic, a ^C), so no orphan keeps ports and CPU.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
