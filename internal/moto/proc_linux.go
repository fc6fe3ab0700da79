package moto

import "syscall"

// sysProcAttr kills moto_server when the test binary dies, even by SIGKILL or
// a test timeout, so no server outlives `go test`.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
