//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// runChild replaces broker with the command: no process sits between it and
// the terminal, so every signal reaches it and its exit status is the one the
// caller sees. Credentials travel in the environment, never in argv.
func runChild(path string, argv, env []string) error {
	if err := syscall.Exec(path, argv, env); err != nil {
		return fmt.Errorf("running %s: %w", path, err)
	}
	return nil
}
