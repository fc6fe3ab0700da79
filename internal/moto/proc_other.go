//go:build !linux

package moto

import "syscall"

// sysProcAttr: only Linux has Pdeathsig; elsewhere t.Cleanup stops moto_server.
func sysProcAttr() *syscall.SysProcAttr { return nil }
