//go:build unix

package mfa

import (
	"os"
	"syscall"
)

// openTerminal opens path, or /dev/tty if path is empty, for reading and
// writing. O_NOCTTY keeps it from becoming broker's controlling terminal.
func openTerminal(path string) (*terminal, error) {
	if path == "" {
		path = "/dev/tty"
	}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	return &terminal{name: path, in: f, out: f}, nil
}
