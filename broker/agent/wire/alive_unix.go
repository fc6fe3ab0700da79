//go:build unix

package wire

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with pid exists (of any user).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
