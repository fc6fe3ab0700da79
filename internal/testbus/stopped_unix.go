//go:build unix

package testbus

import (
	"os"
	"syscall"
	"testing"
)

// Stopped starts a session bus under dir as Bare does and stops its
// dbus-daemon with SIGSTOP, as a stopped or stuck one: the kernel accepts
// connections to its socket, and nothing ever answers on them. It returns
// the address; the daemon is killed when the test ends.
func Stopped(t testing.TB, dir string) string {
	t.Helper()
	addr, daemon := start(t, dir, os.Environ())
	if err := daemon.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("stopping dbus-daemon: %v", err)
	}
	return addr
}
